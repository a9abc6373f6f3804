//! The registry's configuration: the common one, the pseudonymisation key, where routing
//! is, and where certificates are verified.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use sportello_kit::{
    ConfigError, Env, PseudonymKey, ServiceConfig, StartError, documents::DocumentStoreConfig,
};

/// Where the public verification page is when `CERTIFICATE_VERIFY_URL` is not set: the
/// gateway of `make run`.
pub const DEFAULT_VERIFY_URL: &str = "http://127.0.0.1:8080/verifica";

/// How many reads of residents' data one operator may make within an hour before the
/// privacy/security officer is alerted, when `PRIVACY_READS_PER_HOUR` is not set.
pub const DEFAULT_PRIVACY_READS_PER_HOUR: u32 = 60;

/// Everything the registry needs.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// The common configuration.
    pub service: ServiceConfig,
    /// The deployment secret behind requester_refs (`PSEUDONYM_KEY`).
    pub pseudonym_key: PseudonymKey,
    /// The key that seals issued certificates, derived from the same secret.
    pub seal_key: SealKey,
    /// Routing's gRPC URL (`ROUTING_URL`); without it, declarations of change of
    /// residence are kept and registered once routing is configured.
    pub routing_url: Option<String>,
    /// The public page a certificate's QR code points to (`CERTIFICATE_VERIFY_URL`); the
    /// verification code is appended as a path segment.
    pub verify_url: String,
    /// The authorisation for virtual payment of the stamp duty (DPR 642/1972 art. 15),
    /// as printed on certificates (`STAMP_DUTY_VIRTUAL_AUTHORISATION`, e.g. "aut.
    /// Agenzia delle Entrate n. 12345 del 02/01/2020"); unset when the municipality has
    /// none.
    pub virtual_stamp_authorisation: Option<String>,
    /// Where documents handed in are kept and how they are checked
    /// (`DOCUMENT_STORE_URL`, `DOCUMENT_MAX_BYTES`): the registry's own schema by default.
    pub documents: DocumentStoreConfig,
    /// Reads of residents' data by one operator within an hour above which an alert is
    /// raised for the privacy/security officer (`PRIVACY_READS_PER_HOUR`, 1-100000).
    pub privacy_reads_per_hour: u32,
}

impl AsRef<ServiceConfig> for RegistryConfig {
    fn as_ref(&self) -> &ServiceConfig {
        &self.service
    }
}

impl RegistryConfig {
    /// Reads the configuration. `PSEUDONYM_KEY` is required: requester_refs must be the
    /// same in every service and across restarts.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let service = crate::SPEC.config_from_env(env)?;
        let hint =
            "64 or more hex digits shared by every service, e.g. from `openssl rand -hex 32`";
        let raw: String = env.required("PSEUDONYM_KEY", hint)?;
        let (pseudonym_key, seal_key) =
            keys_from_hex(&raw).map_err(|why| ConfigError::invalid("PSEUDONYM_KEY", &raw, why))?;
        let routing_url = env.peer_url("ROUTING_URL", "routing")?;
        let verify_url: String = env.or("CERTIFICATE_VERIFY_URL", DEFAULT_VERIFY_URL.to_owned())?;
        check_http_url("CERTIFICATE_VERIFY_URL", &verify_url)?;
        let authorisation: String = env.or("STAMP_DUTY_VIRTUAL_AUTHORISATION", String::new())?;
        let authorisation = authorisation.trim();
        if authorisation.chars().count() > 120 {
            return Err(ConfigError::invalid(
                "STAMP_DUTY_VIRTUAL_AUTHORISATION",
                authorisation,
                "at most 120 characters",
            ));
        }
        let privacy_reads_per_hour: u32 =
            env.or("PRIVACY_READS_PER_HOUR", DEFAULT_PRIVACY_READS_PER_HOUR)?;
        if !(1..=100_000).contains(&privacy_reads_per_hour) {
            return Err(ConfigError::invalid(
                "PRIVACY_READS_PER_HOUR",
                &privacy_reads_per_hour.to_string(),
                "between 1 and 100000",
            ));
        }
        Ok(Self {
            service,
            pseudonym_key,
            seal_key,
            routing_url,
            verify_url: verify_url.trim_end_matches('/').to_owned(),
            privacy_reads_per_hour,
            virtual_stamp_authorisation: (!authorisation.is_empty())
                .then(|| authorisation.to_owned()),
            documents: DocumentStoreConfig::from_env(env)?,
        })
    }

    /// A configuration for tests and tools: `key_hex` as the secret, no routing.
    pub fn with_key(service: ServiceConfig, key_hex: &str) -> Result<Self, ConfigError> {
        let (pseudonym_key, seal_key) = keys_from_hex(key_hex)
            .map_err(|why| ConfigError::invalid("PSEUDONYM_KEY", key_hex, why))?;
        Ok(Self {
            service,
            pseudonym_key,
            seal_key,
            routing_url: None,
            verify_url: DEFAULT_VERIFY_URL.to_owned(),
            virtual_stamp_authorisation: None,
            documents: DocumentStoreConfig::default(),
            privacy_reads_per_hour: DEFAULT_PRIVACY_READS_PER_HOUR,
        })
    }
}

/// What [`crate::start`] accepts: a full [`RegistryConfig`], or the common configuration
/// alone (the whole-stack test), which gets a random secret for this process and no
/// routing. Production starts through [`RegistryConfig::from_env`], which requires the
/// real key.
pub trait IntoRegistryConfig {
    /// The registry's configuration.
    fn into_registry_config(self) -> Result<RegistryConfig, StartError>;
}

impl IntoRegistryConfig for RegistryConfig {
    fn into_registry_config(self) -> Result<RegistryConfig, StartError> {
        Ok(self)
    }
}

impl IntoRegistryConfig for ServiceConfig {
    fn into_registry_config(self) -> Result<RegistryConfig, StartError> {
        let random = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        RegistryConfig::with_key(self, &random).map_err(StartError::from)
    }
}

fn check_http_url(var: &str, url: &str) -> Result<(), ConfigError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            var,
            url,
            "must start with http:// or https://",
        ))
    }
}

/// The two keys behind one secret: the kit's pseudonymisation key, and a separate key
/// for certificate seals (HMAC of a fixed label under the secret), so neither use can
/// stand in for the other.
fn keys_from_hex(hex: &str) -> Result<(PseudonymKey, SealKey), &'static str> {
    let hex = hex.trim();
    let pseudonym: PseudonymKey = hex.parse()?;
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| "expected hex digits")?;
    Ok((pseudonym, SealKey::derive(&bytes)))
}

/// The key that seals certificates (HMAC-SHA-256). Its `Debug` shows nothing.
#[derive(Clone)]
pub struct SealKey(Hmac<Sha256>);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(<redacted>)")
    }
}

impl SealKey {
    fn derive(secret: &[u8]) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
            .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
        mac.update(b"sportello.registry.certificate-seal.v1");
        let derived = mac.finalize().into_bytes();
        Self(
            <Hmac<Sha256> as Mac>::new_from_slice(&derived)
                .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default())),
        )
    }

    /// The seal of `parts`, each length-prefixed so no two inputs collide.
    pub fn seal(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.0.clone();
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    fn env(extra: &[(&'static str, &'static str)]) -> Env {
        let mut pairs = vec![
            ("DATABASE_URL", "postgres://h/db"),
            ("NATS_URL", "nats://h"),
        ];
        pairs.extend(sportello_kit::testing::pki::tls_vars("svc/registry"));
        pairs.extend_from_slice(extra);
        Env::from_pairs(pairs)
    }

    #[test]
    fn the_key_is_required_and_never_echoed() {
        let error = RegistryConfig::from_env(&env(&[])).unwrap_err();
        assert!(
            error.to_string().starts_with("PSEUDONYM_KEY is not set"),
            "{error}"
        );
        let error = RegistryConfig::from_env(&env(&[("PSEUDONYM_KEY", "abcd")])).unwrap_err();
        assert!(error.to_string().contains("<redacted>"), "{error}");
        assert!(!error.to_string().contains("abcd"), "{error}");
    }

    #[test]
    fn routing_is_optional_but_must_be_a_url() {
        let config = RegistryConfig::from_env(&env(&[("PSEUDONYM_KEY", KEY)])).unwrap();
        assert_eq!(config.routing_url, None);
        assert_eq!(config.verify_url, DEFAULT_VERIFY_URL);
        assert_eq!(
            config.privacy_reads_per_hour,
            DEFAULT_PRIVACY_READS_PER_HOUR
        );
        let error = RegistryConfig::from_env(&env(&[
            ("PSEUDONYM_KEY", KEY),
            ("PRIVACY_READS_PER_HOUR", "0"),
        ]))
        .unwrap_err();
        assert!(
            error.to_string().starts_with("PRIVACY_READS_PER_HOUR="),
            "{error}"
        );
        let error = RegistryConfig::from_env(&env(&[
            ("PSEUDONYM_KEY", KEY),
            ("ROUTING_URL", "routing:50051"),
        ]))
        .unwrap_err();
        assert!(error.to_string().starts_with("ROUTING_URL="), "{error}");
    }

    #[test]
    fn seals_depend_on_the_secret_and_on_every_part() {
        let a = RegistryConfig::from_env(&env(&[("PSEUDONYM_KEY", KEY)])).unwrap();
        let b = a.service.clone().into_registry_config().unwrap();
        assert_ne!(a.seal_key.seal(&[b"x"]), b.seal_key.seal(&[b"x"]));
        assert_ne!(
            a.seal_key.seal(&[b"ab", b"c"]),
            a.seal_key.seal(&[b"a", b"bc"])
        );
        assert_eq!(a.seal_key.seal(&[b"x"]), a.seal_key.seal(&[b"x"]));
    }
}
