//! Mutual TLS: a service's own certificate and key, the deployment's CA, the server and
//! client configurations built from them, and what a peer's certificate says about it.

use std::{path::Path, sync::Arc};

use sha2::{Digest, Sha256};
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use super::peer::PeerId;
use crate::config::{ConfigError, Env};

/// Variable: the PEM certificate (chain) of this process.
pub const TLS_CERT: &str = "TLS_CERT";
/// Variable: its PKCS#8 Ed25519 private key (PEM).
pub const TLS_KEY: &str = "TLS_KEY";
/// Variable: the deployment's CA certificate (PEM): the only issuer trusted for peers.
pub const TLS_CA: &str = "TLS_CA";

/// What a certificate says about its holder.
#[derive(Debug, Clone)]
pub struct PeerCert {
    /// The identity in its `spiffe://` URI SAN.
    pub id: PeerId,
    /// The Ed25519 public key (32 bytes) that verifies its signed assertions.
    pub public_key: Vec<u8>,
    /// SHA-256 of the certificate's DER, base64url: the `x5t#S256` its assertions are
    /// bound to (RFC 8705).
    pub thumbprint: String,
}

/// Why a certificate does not identify a Sportello peer.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct CertError(String);

/// The `x5t#S256` thumbprint of a DER certificate.
pub fn thumbprint(der: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(der))
}

impl PeerCert {
    /// Reads a DER certificate: exactly one `spiffe://sportello/…` URI and an Ed25519 key.
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        use x509_parser::prelude::*;
        let (_, cert) = X509Certificate::from_der(der)
            .map_err(|e| CertError(format!("unreadable certificate: {e}")))?;
        let mut ids = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                if let GeneralName::URI(uri) = name
                    && uri.starts_with("spiffe://")
                {
                    ids.push(PeerId::parse(uri).map_err(|e| CertError(e.to_string()))?);
                }
            }
        }
        let id = match ids.as_slice() {
            [id] => id.clone(),
            [] => {
                return Err(CertError(
                    "the certificate names no spiffe:// identity".into(),
                ));
            }
            _ => return Err(CertError("the certificate names several identities".into())),
        };
        let spki = cert.public_key();
        if spki.algorithm.algorithm != x509_parser::oid_registry::OID_SIG_ED25519 {
            return Err(CertError(format!(
                "the certificate of {id} does not hold an Ed25519 key"
            )));
        }
        Ok(Self {
            id,
            public_key: spki.subject_public_key.data.to_vec(),
            thumbprint: thumbprint(der),
        })
    }

    /// Reads the first certificate of a PEM chain.
    pub fn from_pem(pem: &str) -> Result<Self, CertError> {
        let der = first_der(pem).ok_or_else(|| CertError("no certificate in the PEM".into()))?;
        Self::from_der(&der)
    }
}

/// The DER of the first `CERTIFICATE` block of a PEM text.
pub fn first_der(pem: &str) -> Option<Vec<u8>> {
    use rustls_pki_types::{CertificateDer, pem::PemObject};
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()?
        .ok()
        .map(|c| c.to_vec())
}

/// This process's TLS material: who it is, its certificate and key, and the CA it trusts.
#[derive(Clone)]
pub struct TlsIdentity {
    cert: Arc<PeerCert>,
    cert_pem: Arc<str>,
    key_pem: Arc<str>,
    key_der: Arc<[u8]>,
    ca_pem: Arc<str>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("id", &self.cert.id)
            .finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// From PEM texts. The key must be the certificate's (checked by signing with it and
    /// verifying with the certificate's key).
    pub fn from_pem(cert_pem: &str, key_pem: &str, ca_pem: &str) -> Result<Self, CertError> {
        use rustls_pki_types::{PrivateKeyDer, pem::PemObject};
        let cert = PeerCert::from_pem(cert_pem)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
            .map_err(|e| CertError(format!("unreadable private key: {e}")))?;
        let key_der: Arc<[u8]> = match key {
            PrivateKeyDer::Pkcs8(der) => Arc::from(der.secret_pkcs8_der()),
            _ => return Err(CertError("the private key is not PKCS#8".into())),
        };
        let pair = ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&key_der)
            .map_err(|_| CertError("the private key is not an Ed25519 key".into()))?;
        if ring::signature::KeyPair::public_key(&pair).as_ref() != cert.public_key.as_slice() {
            return Err(CertError(format!(
                "the private key does not belong to the certificate of {}",
                cert.id
            )));
        }
        if first_der(ca_pem).is_none() {
            return Err(CertError("no CA certificate in the PEM".into()));
        }
        Ok(Self {
            cert: Arc::new(cert),
            cert_pem: cert_pem.into(),
            key_pem: key_pem.into(),
            key_der,
            ca_pem: ca_pem.into(),
        })
    }

    /// From the files named by `TLS_CERT`, `TLS_KEY` and `TLS_CA`, all required.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let read = |var: &str, hint: &str| -> Result<String, ConfigError> {
            let path: String = env.required(var, hint)?;
            std::fs::read_to_string(Path::new(&path))
                .map_err(|e| ConfigError::invalid(var, &path, format!("cannot read it: {e}")))
        };
        let cert = read(TLS_CERT, "the PEM certificate of this process (mutual TLS)")?;
        let key = read(TLS_KEY, "its PKCS#8 Ed25519 private key (PEM)")?;
        let ca = read(TLS_CA, "the deployment's CA certificate (PEM)")?;
        Self::from_pem(&cert, &key, &ca).map_err(|e| ConfigError::Invalid {
            var: TLS_CERT.to_owned(),
            value: "<certificate>".to_owned(),
            reason: e.to_string(),
        })
    }

    /// Who this process is.
    pub fn id(&self) -> &PeerId {
        &self.cert.id
    }

    /// Its own certificate, as peers see it.
    pub fn cert(&self) -> &PeerCert {
        &self.cert
    }

    /// Its PKCS#8 private key (DER), which also signs its assertions.
    pub(crate) fn key_der(&self) -> &[u8] {
        &self.key_der
    }

    /// The server side: this certificate, and a client certificate from the CA required
    /// of every caller (TLS 1.2 and 1.3 only: rustls speaks nothing older).
    pub fn server_config(&self) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(Identity::from_pem(&*self.cert_pem, &*self.key_pem))
            .client_ca_root(Certificate::from_pem(&*self.ca_pem))
            .client_auth_optional(false)
    }

    /// The client side, towards the service called `service`: its certificate must come
    /// from the CA and name `service`, whatever address it is reached at.
    pub fn client_config(&self, service: &str) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&*self.ca_pem))
            .identity(Identity::from_pem(&*self.cert_pem, &*self.key_pem))
            .domain_name(service)
    }
}
