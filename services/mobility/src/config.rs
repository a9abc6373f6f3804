//! Mobility's configuration: the common one, where the registry is (residence in a
//! zone), the key behind requester_refs and pagoPA.

use std::sync::Arc;

use sportello_kit::{
    ConfigError, Env, PseudonymKey, ServiceConfig, StartError, payments::PaymentsConfig,
    sealed::Keyring,
};

/// Everything mobility needs.
#[derive(Debug, Clone)]
pub struct MobilityConfig {
    /// The common configuration.
    pub service: ServiceConfig,
    /// The registry's gRPC URL (`REGISTRY_URL`); without it resident and guest permits
    /// are refused with UNAVAILABLE: residence is the registry's fact, never the
    /// citizen's word (DPR 445/2000 art. 43).
    pub registry_url: Option<String>,
    /// The deployment secret behind requester_refs (`PSEUDONYM_KEY`, the registry's): a
    /// permit knows its holder by the reference of the fiscal code, never the code.
    pub pseudonym_key: PseudonymKey,
    /// pagoPA (`PAGOPA_*`, mobility's segregation code `03` by default); `None` keeps
    /// permits with a fee awaiting their notice, saying why.
    pub payments: Option<PaymentsConfig>,
    /// The keys sealing the disabled badges' certifications (`HEALTH_DATA_KEYS`,
    /// `<id>:<64 hex>[,…]`, the current key first); without them the badge desk answers
    /// UNAVAILABLE: health data are never stored in the clear.
    pub health_keys: Option<Arc<Keyring>>,
}

impl MobilityConfig {
    /// Reads the configuration.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        // The common settings first: a missing database is the first thing to say.
        let service = crate::SPEC.config_from_env(env)?;
        let raw: String = env.required(
            "PSEUDONYM_KEY",
            "serve la chiave dei riferimenti pseudonimi, la stessa dell'anagrafe (the key behind requester_refs, the registry's): 64 or more hex digits",
        )?;
        let pseudonym_key: PseudonymKey = raw
            .trim()
            .parse()
            .map_err(|why| ConfigError::invalid("PSEUDONYM_KEY", &raw, why))?;
        Ok(Self {
            service,
            registry_url: env.peer_url("REGISTRY_URL", "registry")?,
            pseudonym_key,
            payments: PaymentsConfig::from_env(env, crate::permits::SEGREGATION_CODE)?,
            health_keys: match env.optional::<String>("HEALTH_DATA_KEYS")? {
                Some(raw) => Some(Arc::new(Keyring::parse(raw.trim()).map_err(|why| {
                    ConfigError::invalid("HEALTH_DATA_KEYS", "<redacted>", why)
                })?)),
                None => None,
            },
        })
    }
}

impl AsRef<ServiceConfig> for MobilityConfig {
    fn as_ref(&self) -> &ServiceConfig {
        &self.service
    }
}

/// What [`crate::start`] accepts: a full [`MobilityConfig`], or the common configuration
/// alone (no registry — resident permits UNAVAILABLE —, no pagoPA, and keys that live as
/// long as the process).
pub trait IntoMobilityConfig {
    /// Mobility's configuration.
    fn into_mobility_config(self) -> Result<MobilityConfig, StartError>;
}

impl IntoMobilityConfig for MobilityConfig {
    fn into_mobility_config(self) -> Result<MobilityConfig, StartError> {
        Ok(self)
    }
}

impl IntoMobilityConfig for ServiceConfig {
    fn into_mobility_config(self) -> Result<MobilityConfig, StartError> {
        Ok(MobilityConfig {
            service: self,
            registry_url: None,
            pseudonym_key: PseudonymKey::random(),
            payments: None,
            health_keys: Some(Arc::new(Keyring::random())),
        })
    }
}
