//! Values sealed at rest: the protocol register's correspondents' names in routing (DPR
//! 445/2000 art. 53 c. 1 lett. c), the disabled badges' certifications in mobility
//! (health data, GDPR art. 9) — whatever a service must keep but never in the clear.
//!
//! AES-256-GCM (`ring::aead`) with a random 96-bit nonce per value; the stored bytes are
//! `nonce ‖ ciphertext ‖ tag`, and the id of the key that sealed them is stored beside
//! them. The additional data binds a value to its registration and field, so a sealed
//! name copied onto another row, or into the other column, does not open. A [`Keyring`]
//! holds one current key, used for sealing, and older keys, used only for opening:
//! rotating means putting a new key first and keeping the old ones (entries are
//! immutable and are never re-sealed).

use std::fmt;

use ring::{
    aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey},
    rand::{SecureRandom, SystemRandom},
};

/// A sealed value as stored: the key's id and `nonce ‖ ciphertext ‖ tag`.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The id of the key that sealed it.
    pub key_id: String,
    /// Nonce, ciphertext and tag.
    pub bytes: Vec<u8>,
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed")
            .field("key_id", &self.key_id)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// Why a value could not be sealed or opened. It never carries the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Sealed under a key the keyring does not hold (removed too early?).
    #[error("sealed under key {0:?}, which the keyring does not hold")]
    UnknownKey(String),
    /// Tampered with, truncated, or bound to another registration or field.
    #[error("a sealed name does not open: tampered with or moved")]
    Refused,
    /// The keyring holds no key.
    #[error("no key to seal with")]
    NoKey,
    /// The system's random source failed.
    #[error("no random nonce")]
    Random,
}

struct Key {
    id: String,
    key: LessSafeKey,
}

/// The keys: the first seals, all open.
pub struct Keyring {
    keys: Vec<Key>,
    random: SystemRandom,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("Keyring").field("key_ids", &ids).finish()
    }
}

/// The format a keyring's variable (`PROTOCOL_NAME_KEYS`, `HEALTH_DATA_KEYS`) expects, for
/// error messages.
pub const FORMAT: &str = "atteso <id>:<64 cifre esadecimali>[,<id>:<…>], la chiave corrente per prima (expected <id>:<64 hex digits>[,<id>:<…>], the current key first; id: 1-32 of a-z 0-9 _ -)";

impl Keyring {
    /// Parses `id:hex[,id:hex…]`: the first key is the current one. Each key is 32
    /// bytes (64 hex digits); ids are 1-32 of `a-z 0-9 _ -` and distinct. The error
    /// never repeats a key.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut keys: Vec<Key> = Vec::new();
        for part in raw.split(',').map(str::trim) {
            let (id, hex_key) = part.split_once(':').ok_or_else(|| FORMAT.to_owned())?;
            let id_ok = (1..=32).contains(&id.len())
                && id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-".contains(c));
            if !id_ok {
                return Err(FORMAT.to_owned());
            }
            if keys.iter().any(|k| k.id == id) {
                return Err(format!(
                    "la chiave {id:?} compare due volte (key id {id:?} appears twice)"
                ));
            }
            let key = hex::decode(hex_key.trim())
                .ok()
                .filter(|b| b.len() == 32)
                .and_then(|b| less_safe(&b))
                .ok_or_else(|| {
                    format!(
                        "la chiave {id:?} non è di 64 cifre esadecimali (key {id:?} is not 64 hex digits)"
                    )
                })?;
            keys.push(Key {
                id: id.to_owned(),
                key,
            });
        }
        Ok(Self {
            keys,
            random: SystemRandom::new(),
        })
    }

    /// A keyring of one random key, for this process only: tests and the whole-stack
    /// test, whose data does not outlive the process.
    /// Should the system's random source fail, the keyring is empty and every seal is
    /// refused ([`SealError::NoKey`]) rather than made under a guessable key.
    pub fn random() -> Self {
        let random = SystemRandom::new();
        let mut bytes = [0u8; 32];
        let key = random
            .fill(&mut bytes)
            .ok()
            .and_then(|()| less_safe(&bytes));
        Self {
            keys: key
                .map(|key| Key {
                    id: "process".to_owned(),
                    key,
                })
                .into_iter()
                .collect(),
            random,
        }
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> &str {
        self.keys.first().map(|k| k.id.as_str()).unwrap_or_default()
    }

    /// Seals `plain` under the current key, bound to `context` (the record and field).
    pub fn seal(&self, context: &[u8], plain: &str) -> Result<Sealed, SealError> {
        let current = self.keys.first().ok_or(SealError::NoKey)?;
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .map_err(|_| SealError::Random)?;
        let mut in_out = plain.as_bytes().to_vec();
        current
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                &mut in_out,
            )
            .map_err(|_| SealError::Refused)?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&in_out);
        Ok(Sealed {
            key_id: current.id.clone(),
            bytes,
        })
    }

    /// Opens `sealed`, which must be bound to `context`.
    pub fn open(&self, context: &[u8], sealed: &Sealed) -> Result<String, SealError> {
        let key = self
            .keys
            .iter()
            .find(|k| k.id == sealed.key_id)
            .ok_or_else(|| SealError::UnknownKey(sealed.key_id.clone()))?;
        if sealed.bytes.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(SealError::Refused);
        }
        let (nonce, ciphertext) = sealed.bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Refused)?;
        let mut in_out = ciphertext.to_vec();
        let plain = key
            .key
            .open_in_place(nonce, Aad::from(context), &mut in_out)
            .map_err(|_| SealError::Refused)?;
        String::from_utf8(plain.to_vec()).map_err(|_| SealError::Refused)
    }
}

fn less_safe(bytes: &[u8]) -> Option<LessSafeKey> {
    UnboundKey::new(&AES_256_GCM, bytes)
        .ok()
        .map(LessSafeKey::new)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const A: &str = "0101010101010101010101010101010101010101010101010101010101010101";
    const B: &str = "0202020202020202020202020202020202020202020202020202020202020202";

    #[test]
    fn a_name_round_trips_and_is_not_stored_in_the_clear() {
        let ring = Keyring::parse(&format!("k1:{A}")).unwrap();
        let sealed = ring.seal(b"reg-1/sender_name", "Mario Rossi").unwrap();
        assert_eq!(sealed.key_id, "k1");
        assert!(!sealed.bytes.windows(5).any(|w| w == b"Mario"));
        assert_eq!(sealed.bytes.len(), 12 + "Mario Rossi".len() + 16);
        assert_eq!(
            ring.open(b"reg-1/sender_name", &sealed).unwrap(),
            "Mario Rossi"
        );
        let again = ring.seal(b"reg-1/sender_name", "Mario Rossi").unwrap();
        assert_ne!(sealed.bytes, again.bytes, "a fresh nonce each time");
    }

    #[test]
    fn a_tampered_or_moved_value_is_refused() {
        let ring = Keyring::parse(&format!("k1:{A}")).unwrap();
        let sealed = ring.seal(b"reg-1/sender_name", "Mario Rossi").unwrap();
        for i in [0, 12, sealed.bytes.len() - 1] {
            let mut tampered = sealed.clone();
            tampered.bytes[i] ^= 1;
            assert_eq!(
                ring.open(b"reg-1/sender_name", &tampered),
                Err(SealError::Refused)
            );
        }
        let mut short = sealed.clone();
        short.bytes.truncate(20);
        assert_eq!(
            ring.open(b"reg-1/sender_name", &short),
            Err(SealError::Refused)
        );
        assert_eq!(
            ring.open(b"reg-2/sender_name", &sealed),
            Err(SealError::Refused),
            "bound to its registration"
        );
        assert_eq!(
            ring.open(b"reg-1/recipient_name", &sealed),
            Err(SealError::Refused),
            "bound to its field"
        );
    }

    #[test]
    fn an_unknown_key_id_is_refused() {
        let ring = Keyring::parse(&format!("k1:{A}")).unwrap();
        let mut sealed = ring.seal(b"x", "Mario Rossi").unwrap();
        sealed.key_id = "k9".into();
        assert_eq!(
            ring.open(b"x", &sealed),
            Err(SealError::UnknownKey("k9".into()))
        );
    }

    #[test]
    fn after_rotation_the_new_key_seals_and_the_old_still_opens() {
        let old = Keyring::parse(&format!("k1:{A}")).unwrap();
        let before = old.seal(b"x", "Comune di Sarzana").unwrap();
        let rotated = Keyring::parse(&format!("k2:{B}, k1:{A}")).unwrap();
        assert_eq!(rotated.current_id(), "k2");
        assert_eq!(rotated.open(b"x", &before).unwrap(), "Comune di Sarzana");
        let after = rotated.seal(b"x", "Comune di Sarzana").unwrap();
        assert_eq!(after.key_id, "k2");
        assert_eq!(
            old.open(b"x", &after),
            Err(SealError::UnknownKey("k2".into()))
        );
    }

    #[test]
    fn bad_settings_are_refused_without_echoing_the_key() {
        for raw in [
            "",
            A,
            "k1:abcd",
            &format!("K1:{A}"),
            &format!("k1:{A},k1:{B}"),
            &format!("k1:{}zz", &A[..62]),
        ] {
            let error = Keyring::parse(raw).unwrap_err();
            assert!(!error.contains("0101"), "{error}");
        }
        assert!(format!("{:?}", Keyring::parse(&format!("k1:{A}")).unwrap()).contains("k1"));
        assert!(!format!("{:?}", Keyring::parse(&format!("k1:{A}")).unwrap()).contains("0101"));
    }
}
