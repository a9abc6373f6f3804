//! The end user, signed: a short-lived JWT that the service which authenticated a person
//! (the gateway, a department system acting for its user) signs for each call, and the
//! called service verifies before anything else.
//!
//! - **Signed with the caller's own key** (EdDSA, Ed25519: the key of its TLS
//!   certificate), so a verifier needs nothing but the certificate the caller presented
//!   on the same connection — no key distribution, no key to rotate separately.
//! - **Bound to that certificate** (RFC 8705 `cnf.x5t#S256`) and issued by its identity
//!   (`iss` = its `spiffe://` URI): a token stolen from a connection is useless from any
//!   other certificate.
//! - **For one service** (`aud`), **for seconds** (`exp - iat` ≤ [`MAX_LIFETIME`]), and
//!   **once** (`jti`, refused if seen again within its life). The replay cache is per
//!   process: a token replayed to another replica of the same service within its few
//!   seconds is not caught there — the certificate binding still confines it to the
//!   connection's owner, who could simply have asked for a new one.
//!
//! The AgID interoperability model (ModI) names these properties ID_AUTH (who is
//! calling, from the certificate), INTEGRITY (the assertion cannot be altered) and AUDIT
//! (the end user, purpose and municipality travel signed and are recorded).

use std::{
    collections::{HashMap, VecDeque},
    sync::{Mutex, OnceLock},
};

use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation,
    crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils},
    errors::{ErrorKind as JwtErrorKind, Result as JwtResult},
    signature,
};
use serde::{Deserialize, Serialize};

use super::tls::{PeerCert, TlsIdentity};
use crate::role::Role;

/// The longest life a token may claim.
pub const MAX_LIFETIME_SECS: i64 = 30;
/// The life the kit's clients give their tokens.
pub const LIFETIME_SECS: i64 = 10;
/// Clock skew tolerated between caller and callee.
pub const LEEWAY_SECS: u64 = 2;

/// The claims of an end-user assertion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The caller's identity (`spiffe://sportello/…`).
    pub iss: String,
    /// The person acting: `operator:<id>`, `citizen:<requester_ref>`.
    pub sub: String,
    /// The called service's name.
    pub aud: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expires at.
    pub exp: i64,
    /// Unique id: refused if seen again.
    pub jti: String,
    /// The municipality the call is about (ISTAT code).
    pub mun: String,
    /// The purpose declared for the call.
    pub pur: String,
    /// The person's roles.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// The person's department, for departmental roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dept: Option<String>,
    /// Who asserted the person first, when a service acts on behalf of a person another
    /// service authenticated (RFC 8693 `act`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
    /// The certificate the token is bound to.
    pub cnf: Confirmation,
}

/// RFC 8693's `act` claim: the original asserter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Its identity.
    pub sub: String,
}

/// RFC 8705's confirmation claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// SHA-256 thumbprint of the bound certificate.
    #[serde(rename = "x5t#S256")]
    pub x5t_s256: String,
}

/// Why a token was refused. Every one of them answers `UNAUTHENTICATED`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a well-formed JWT, or a field is missing.
    #[error("the end-user assertion is malformed: {0}")]
    Malformed(String),
    /// Any algorithm but EdDSA, `none` included.
    #[error("the end-user assertion must be signed with EdDSA")]
    Algorithm,
    /// The signature does not verify with the caller's certificate.
    #[error("the end-user assertion's signature does not verify with the caller's certificate")]
    Signature,
    /// Expired, not yet valid, or claiming a life longer than allowed.
    #[error("the end-user assertion is expired or not yet valid")]
    Expired,
    /// For another service.
    #[error("the end-user assertion is for another service")]
    Audience,
    /// Issued by, or bound to, another identity than the connection's.
    #[error("the end-user assertion belongs to another caller")]
    Binding,
    /// Seen before.
    #[error("the end-user assertion was already used")]
    Replayed,
}

/// Signs assertions with this process's key.
#[derive(Clone)]
pub struct Signer {
    identity: TlsIdentity,
    key: EncodingKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("id", self.identity.id())
            .finish_non_exhaustive()
    }
}

/// What the caller asserts about the person.
#[derive(Debug, Clone)]
pub struct Assertion<'a> {
    /// `operator:<id>`, `citizen:<ref>`.
    pub subject: &'a str,
    /// ISTAT code.
    pub municipality: &'a str,
    /// Declared purpose.
    pub purpose: &'a str,
    /// Roles.
    pub roles: &'a [Role],
    /// Department.
    pub department: Option<&'a str>,
    /// The original asserter, when acting on another's assertion.
    pub on_behalf_of: Option<&'a str>,
}

impl Signer {
    /// A signer with `identity`'s key.
    pub fn new(identity: TlsIdentity) -> Self {
        install_provider();
        let key = EncodingKey::from_ed_der(identity.key_der());
        Self { identity, key }
    }

    /// A token for `audience` carrying `assertion`, valid for [`LIFETIME_SECS`].
    pub fn sign(&self, audience: &str, assertion: &Assertion<'_>) -> Result<String, TokenError> {
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let claims = Claims {
            iss: self.identity.id().uri(),
            sub: assertion.subject.to_owned(),
            aud: audience.to_owned(),
            iat: now,
            nbf: now,
            exp: now + LIFETIME_SECS,
            jti: uuid::Uuid::new_v4().simple().to_string(),
            mun: assertion.municipality.to_owned(),
            pur: assertion.purpose.to_owned(),
            roles: assertion.roles.to_vec(),
            dept: assertion.department.map(str::to_owned),
            act: assertion.on_behalf_of.map(|sub| Actor {
                sub: sub.to_owned(),
            }),
            cnf: Confirmation {
                x5t_s256: self.identity.cert().thumbprint.clone(),
            },
        };
        self.sign_claims(&claims)
    }

    /// Signs arbitrary claims (tests of refusal build bad ones on purpose).
    pub fn sign_claims(&self, claims: &Claims) -> Result<String, TokenError> {
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), claims, &self.key)
            .map_err(|e| TokenError::Malformed(e.to_string()))
    }
}

/// Verifies assertions addressed to one service, remembering the ids it has seen.
#[derive(Debug)]
pub struct Verifier {
    audience: String,
    seen: Mutex<Seen>,
}

/// The ids seen and until when each could be replayed, with the order they came in, so
/// forgetting the expired ones costs what expired, never a scan of everything remembered
/// (a scan per call, once thousands of ids were live, was most of a verification's p99).
#[derive(Debug, Default)]
struct Seen {
    until: HashMap<String, i64>,
    /// Arrival order; lifetimes are capped, so it is nearly expiry order, and an id behind
    /// a later-expiring one is only forgotten a little later, never too early.
    order: VecDeque<(i64, String)>,
}

impl Verifier {
    /// A verifier for the service called `audience`.
    pub fn new(audience: &str) -> Self {
        install_provider();
        Self {
            audience: audience.to_owned(),
            seen: Mutex::new(Seen::default()),
        }
    }

    /// Checks `token` against the certificate `peer` presented on the connection it came
    /// on: signature, algorithm, audience, life, issuer and binding, then that its id is
    /// new. Returns its claims.
    pub fn verify(&self, token: &str, peer: &PeerCert) -> Result<Claims, TokenError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| TokenError::Malformed(e.to_string()))?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Algorithm);
        }
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_audience(&[&self.audience]);
        validation.set_issuer(&[peer.id.uri()]);
        validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        let key = DecodingKey::from_ed_der(&peer.public_key);
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| match e.kind() {
                JwtErrorKind::InvalidSignature => TokenError::Signature,
                JwtErrorKind::ExpiredSignature | JwtErrorKind::ImmatureSignature => {
                    TokenError::Expired
                }
                JwtErrorKind::InvalidAudience => TokenError::Audience,
                JwtErrorKind::InvalidIssuer => TokenError::Binding,
                JwtErrorKind::InvalidAlgorithm => TokenError::Algorithm,
                _ => TokenError::Malformed(e.to_string()),
            })?
            .claims;
        if claims.exp - claims.iat > MAX_LIFETIME_SECS || claims.iat > claims.exp {
            return Err(TokenError::Expired);
        }
        if claims.cnf.x5t_s256 != peer.thumbprint {
            return Err(TokenError::Binding);
        }
        self.remember(&claims.jti, claims.exp)?;
        Ok(claims)
    }

    /// Records `jti` until `exp` (plus the leeway); refuses one seen before.
    fn remember(&self, jti: &str, exp: i64) -> Result<(), TokenError> {
        if jti.is_empty() || jti.len() > 64 {
            return Err(TokenError::Malformed("jti".into()));
        }
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let mut seen = self
            .seen
            .lock()
            .map_err(|_| TokenError::Malformed("replay cache poisoned".into()))?;
        // Forget what can no longer be replayed (it would be refused as expired).
        let horizon = now - LEEWAY_SECS as i64;
        while seen
            .order
            .front()
            .is_some_and(|(until, _)| *until < horizon)
        {
            if let Some((_, old)) = seen.order.pop_front() {
                seen.until.remove(&old);
            }
        }
        if seen.until.contains_key(jti) {
            return Err(TokenError::Replayed);
        }
        seen.until.insert(jti.to_owned(), exp);
        seen.order.push_back((exp, jti.to_owned()));
        Ok(())
    }
}

// --- EdDSA with ring --------------------------------------------------------------------
//
// jsonwebtoken 12 leaves the cryptography to a provider. Its built-in ones would bring a
// second TLS-grade library (aws-lc) or a dozen RustCrypto crates; ring is already here
// for TLS, and EdDSA is the one algorithm Sportello's assertions use.

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: ring_signer,
    verifier_factory: ring_verifier,
    key_utils: KeyUtils::new_unimplemented(),
};

fn install_provider() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        // Another provider installed first (by no code of ours) would be used instead;
        // it can only do more, and every token here is EdDSA-checked above.
        let _ = PROVIDER.install_default();
    });
}

struct RingSigner(std::sync::Arc<ring::signature::Ed25519KeyPair>);

impl signature::Signer<Vec<u8>> for RingSigner {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, signature::Error> {
        Ok(self.0.sign(message).as_ref().to_vec())
    }
}

impl JwtSigner for RingSigner {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

struct RingVerifier(Vec<u8>);

impl signature::Verifier<Vec<u8>> for RingVerifier {
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &self.0)
            .verify(message, signature)
            .map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

fn ring_signer(algorithm: &Algorithm, key: &EncodingKey) -> JwtResult<Box<dyn JwtSigner>> {
    if *algorithm != Algorithm::EdDSA {
        return Err(JwtErrorKind::InvalidAlgorithm.into());
    }
    // A process signs with one key (its certificate's): parse it once, not per call
    // (reading a PKCS#8 v1 key derives the public key, a scalar multiplication).
    static PARSED: OnceLock<
        Mutex<HashMap<Vec<u8>, std::sync::Arc<ring::signature::Ed25519KeyPair>>>,
    > = OnceLock::new();
    let mut parsed = PARSED
        .get_or_init(Default::default)
        .lock()
        .map_err(|_| JwtErrorKind::InvalidEddsaKey)?;
    if let Some(pair) = parsed.get(key.as_bytes()) {
        return Ok(Box::new(RingSigner(pair.clone())));
    }
    let pair = std::sync::Arc::new(
        ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(key.as_bytes())
            .map_err(|_| JwtErrorKind::InvalidEddsaKey)?,
    );
    if parsed.len() >= 64 {
        parsed.clear();
    }
    parsed.insert(key.as_bytes().to_vec(), pair.clone());
    Ok(Box::new(RingSigner(pair)))
}

fn ring_verifier(algorithm: &Algorithm, key: &DecodingKey) -> JwtResult<Box<dyn JwtVerifier>> {
    if *algorithm != Algorithm::EdDSA {
        return Err(JwtErrorKind::InvalidAlgorithm.into());
    }
    let bytes = key.try_get_as_bytes()?;
    Ok(Box::new(RingVerifier(bytes.to_vec())))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_replayed_id_is_refused_and_expired_ids_are_forgotten_without_a_scan() {
        let verifier = Verifier::new("routing");
        let now = jsonwebtoken::get_current_timestamp() as i64;
        verifier.remember("old", now - 1_000).unwrap();
        verifier.remember("fresh", now + 10).unwrap();
        assert!(matches!(
            verifier.remember("fresh", now + 10),
            Err(TokenError::Replayed)
        ));
        let seen = verifier.seen.lock().unwrap();
        assert!(
            !seen.until.contains_key("old"),
            "an id past its life is forgotten"
        );
        assert_eq!((seen.until.len(), seen.order.len()), (1, 1));
    }
}
