//! A small certificate authority for the local stack and the tests: `make run` and
//! `make test` create one under `.sportello/pki/` (or in memory), and `sportello-pki`
//! issues a certificate to a department system or a tool from it. In Kubernetes,
//! cert-manager is the authority (deploy/base/pki) and this module is not used.
//!
//! Keys are Ed25519: the same key that authenticates a peer in TLS signs the end-user
//! assertions it sends ([`super::token`]), so a verifier needs nothing but the peer's
//! certificate to check them.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ED25519, SanType,
};

use super::peer::{PeerId, PeerKind};

/// Why a certificate could not be made or read.
#[derive(Debug, thiserror::Error)]
#[error("certificate authority: {0}")]
pub struct PkiError(String);

impl From<rcgen::Error> for PkiError {
    fn from(error: rcgen::Error) -> Self {
        Self(error.to_string())
    }
}

/// A certificate and its private key, both PEM.
#[derive(Clone)]
pub struct Issued {
    /// The certificate (PEM).
    pub cert_pem: String,
    /// The PKCS#8 v1 private key (PEM). Secret.
    pub key_pem: String,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued").finish_non_exhaustive()
    }
}

/// The PKCS#8 v1 (RFC 5208) PEM of an Ed25519 key, from ring's v2 (RFC 5958, with the
/// public key appended): OpenSSL 3.0 and other tools read only v1 for Ed25519, and
/// everything here (rustls, ring) reads both.
fn ed25519_pkcs8_v1_pem(key: &KeyPair) -> Result<String, PkiError> {
    // SEQUENCE { INTEGER v, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING seed } }
    const HEAD: [u8; 14] = [
        0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20, 0, 0, 0,
    ];
    let der = key.serialize_der();
    let seed = der
        .windows(11)
        .position(|w| w == &HEAD[..11])
        .and_then(|at| der.get(at + 11..at + 11 + 32))
        .ok_or_else(|| PkiError("not an Ed25519 PKCS#8 key".into()))?;
    let mut v1 = vec![0x30, 0x2e, 0x02, 0x01, 0x00];
    v1.extend_from_slice(&HEAD[..11]);
    v1.extend_from_slice(seed);
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(&v1);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    Ok(pem)
}

/// How long a certificate is valid, from now.
#[derive(Debug, Clone, Copy)]
pub enum Validity {
    /// From a minute ago for this many days.
    Days(u32),
    /// Expired: valid from two days ago until yesterday (tests of refusal).
    Expired,
}

/// The authority: its certificate and the key it signs with.
pub struct Authority {
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority").finish_non_exhaustive()
    }
}

fn window(validity: Validity) -> (time::OffsetDateTime, time::OffsetDateTime) {
    let now = time::OffsetDateTime::now_utc();
    match validity {
        Validity::Days(days) => (
            now - time::Duration::minutes(1),
            now + time::Duration::days(i64::from(days)),
        ),
        Validity::Expired => (now - time::Duration::days(2), now - time::Duration::days(1)),
    }
}

impl Authority {
    /// A new authority called `name`, valid for ten years.
    pub fn generate(name: &str) -> Result<Self, PkiError> {
        let key = KeyPair::generate_for(&PKCS_ED25519)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "Sportello");
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        (params.not_before, params.not_after) = window(Validity::Days(3_650));
        let cert = params.self_signed(&key)?;
        Ok(Self {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The authority kept in `cert_pem` and `key_pem`.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let key = KeyPair::from_pem(key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)?;
        Ok(Self {
            cert_pem: cert_pem.to_owned(),
            issuer,
        })
    }

    /// The authority's certificate: what every peer trusts (PEM).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The authority's private key (PKCS#8 v1 PEM). Secret.
    pub fn key_pem(&self) -> Result<String, PkiError> {
        ed25519_pkcs8_v1_pem(self.issuer.key())
    }

    /// A certificate for `peer`, usable as a client and, for a service, as a server.
    /// A service's certificate names it as a DNS name too (`routing`, and the
    /// `extra_dns` names, e.g. `routing.sportello.svc`): clients verify the server by
    /// that name, whatever address they reach it at.
    pub fn issue(
        &self,
        peer: &PeerId,
        extra_dns: &[String],
        validity: Validity,
    ) -> Result<Issued, PkiError> {
        let key = KeyPair::generate_for(&PKCS_ED25519)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "Sportello");
        dn.push(DnType::CommonName, peer.path());
        params.distinguished_name = dn;
        params.subject_alt_names = vec![SanType::URI(peer.uri().try_into()?)];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        if peer.kind() == PeerKind::Service {
            params
                .extended_key_usages
                .push(ExtendedKeyUsagePurpose::ServerAuth);
            for dns in std::iter::once(peer.name()).chain(extra_dns.iter().map(String::as_str)) {
                params
                    .subject_alt_names
                    .push(SanType::DnsName(dns.try_into()?));
            }
        }
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        (params.not_before, params.not_after) = window(validity);
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: ed25519_pkcs8_v1_pem(&key)?,
        })
    }
}
