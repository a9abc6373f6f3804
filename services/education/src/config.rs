//! Education's configuration: the common one, where routing (the protocol register) and
//! the registry (residence facts) are, and the key behind requester_refs.

use sportello_kit::{
    ConfigError, Env, PseudonymKey, ServiceConfig, StartError, payments::PaymentsConfig,
};

/// Everything education needs.
#[derive(Debug, Clone)]
pub struct EducationConfig {
    /// The common configuration.
    pub service: ServiceConfig,
    /// Routing's gRPC URL (`ROUTING_URL`); without it applications are refused with
    /// UNAVAILABLE, saying so: without a protocol number there is no application.
    pub routing_url: Option<String>,
    /// The registry's gRPC URL (`REGISTRY_URL`); without it applications are refused with
    /// UNAVAILABLE: residence is the registry's fact, never the family's word
    /// (DPR 445/2000 art. 43).
    pub registry_url: Option<String>,
    /// The deployment secret behind requester_refs (`PSEUDONYM_KEY`, the registry's): an
    /// application knows its child by the reference of the fiscal code, never the code.
    pub pseudonym_key: PseudonymKey,
    /// pagoPA (`PAGOPA_*`, education's segregation code `01` by default); `None` keeps
    /// subscriptions but leaves their notices to issue, saying why.
    pub payments: Option<PaymentsConfig>,
}

impl EducationConfig {
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
            routing_url: env.peer_url("ROUTING_URL", "routing")?,
            registry_url: env.peer_url("REGISTRY_URL", "registry")?,
            pseudonym_key,
            payments: PaymentsConfig::from_env(env, crate::fees::SEGREGATION_CODE)?,
        })
    }
}

impl AsRef<ServiceConfig> for EducationConfig {
    fn as_ref(&self) -> &ServiceConfig {
        &self.service
    }
}

/// What [`crate::start`] accepts: a full [`EducationConfig`], or the common configuration
/// alone (no routing, no registry — applications UNAVAILABLE —, no pagoPA, and a key that
/// lives as long as the process).
pub trait IntoEducationConfig {
    /// Education's configuration.
    fn into_education_config(self) -> Result<EducationConfig, StartError>;
}

impl IntoEducationConfig for EducationConfig {
    fn into_education_config(self) -> Result<EducationConfig, StartError> {
        Ok(self)
    }
}

impl IntoEducationConfig for ServiceConfig {
    fn into_education_config(self) -> Result<EducationConfig, StartError> {
        Ok(EducationConfig {
            service: self,
            routing_url: None,
            registry_url: None,
            pseudonym_key: PseudonymKey::random(),
            payments: None,
        })
    }
}
