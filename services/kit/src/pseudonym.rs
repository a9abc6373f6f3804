//! The pseudonymous requester reference.
//!
//! Fiscal codes and names stay in the service whose domain they are. Everywhere else — in
//! routing, in every event, in logs — a person is a `requester_ref`: a keyed hash
//! (HMAC-SHA-256) of the fiscal code, per municipality, under a deployment secret
//! (`PSEUDONYM_KEY`). Without the key nobody can recompute or reverse it; with it, the
//! registry can find the resident a reference stands for, and audit that read.

use std::{fmt, str::FromStr};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::MunicipalityCode;

/// The deployment secret, ready to hash with. Never logged: its `Debug` shows nothing.
#[derive(Clone)]
pub struct PseudonymKey(Hmac<Sha256>);

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PseudonymKey(<redacted>)")
    }
}

impl FromStr for PseudonymKey {
    type Err = &'static str;
    /// At least 32 bytes written as hexadecimal (64 or more hex digits).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const HINT: &str =
            "expected at least 64 hex digits (32 random bytes), e.g. from `openssl rand -hex 32`";
        if !s.is_ascii() || s.len() < 64 || !s.len().is_multiple_of(2) {
            return Err(HINT);
        }
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| HINT))
            .collect::<Result<Vec<u8>, _>>()
            .and_then(|bytes| <Hmac<Sha256> as Mac>::new_from_slice(&bytes).map_err(|_| HINT))
            .map(Self)
    }
}

impl PseudonymKey {
    /// A random key that lives as long as the process: for tests and a whole-stack test,
    /// where no reference has to survive a restart. Production reads `PSEUDONYM_KEY`.
    pub fn random() -> Self {
        // Four v4 UUIDs: 488 random bits from the system's source, one SHA-256 block.
        let mut key = [0u8; 64];
        for chunk in key.chunks_mut(16) {
            chunk.copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        }
        Self(<Hmac<Sha256> as hmac::digest::KeyInit>::new(&key.into()))
    }

    /// A keyed hash of `value` under this secret, separated by `purpose` (e.g.
    /// `"booking.source"`): for values a service must recognise again without keeping
    /// them — a network address for a cap, an e-mailed code to check — which nobody
    /// without the key can recompute or reverse.
    pub fn keyed_hash(&self, purpose: &str, value: &str) -> [u8; 32] {
        let mut mac = self.0.clone();
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// A pseudonymous reference to a person: `rr_` and 32 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequesterRef(String);

impl RequesterRef {
    /// The reference for `fiscal_code` (already validated and upper-case) in
    /// `municipality`.
    pub fn derive(key: &PseudonymKey, municipality: MunicipalityCode, fiscal_code: &str) -> Self {
        let mut mac = key.0.clone();
        mac.update(municipality.as_str().as_bytes());
        mac.update(b":");
        mac.update(fiscal_code.as_bytes());
        let digest = mac.finalize().into_bytes();
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        Self(format!("rr_{hex}"))
    }

    /// The reference as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for RequesterRef {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = s.len() == 35
            && s.starts_with("rr_")
            && s[3..]
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err("must be a requester reference: rr_ and 32 lowercase hex digits")
        }
    }
}

impl fmt::Display for RequesterRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PseudonymKey {
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
            .parse()
            .unwrap()
    }

    #[test]
    fn a_reference_is_stable_per_municipality_and_parses_back() {
        let spezia: MunicipalityCode = "011015".parse().unwrap();
        let genova: MunicipalityCode = "010025".parse().unwrap();
        let a = RequesterRef::derive(&key(), spezia, "RSSMRA80A01E463K");
        assert_eq!(a, RequesterRef::derive(&key(), spezia, "RSSMRA80A01E463K"));
        assert_ne!(a, RequesterRef::derive(&key(), genova, "RSSMRA80A01E463K"));
        assert_eq!(a.as_str().parse::<RequesterRef>().unwrap(), a);
        assert!(!a.as_str().contains("RSS"));
    }

    #[test]
    fn short_or_non_hex_keys_are_refused() {
        assert!("abcd".parse::<PseudonymKey>().is_err());
        assert!("zz".repeat(32).parse::<PseudonymKey>().is_err());
        assert!(
            "é".repeat(64).parse::<PseudonymKey>().is_err(),
            "no panic on non-ASCII"
        );
        assert!(!format!("{:?}", key()).contains("0011"));
    }
}
