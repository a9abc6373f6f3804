//! The SUAP's configuration: the common one, where routing is (the protocol register),
//! where filed documents are kept, and pagoPA's.

use sportello_kit::{
    ConfigError, Env, ServiceConfig, StartError, documents::DocumentStoreConfig,
    payments::PaymentsConfig,
};

/// Everything the SUAP needs.
#[derive(Debug, Clone)]
pub struct SuapConfig {
    /// The common configuration.
    pub service: ServiceConfig,
    /// Routing's gRPC URL (`ROUTING_URL`); without it filings are refused with
    /// UNAVAILABLE, saying so: without a protocol number there is no application.
    pub routing_url: Option<String>,
    /// Where filed documents are kept and how they are checked (`DOCUMENT_STORE_URL`,
    /// `DOCUMENT_MAX_BYTES`): the SUAP's own schema by default.
    pub documents: DocumentStoreConfig,
    /// pagoPA (`PAGOPA_*`); `None` leaves payment requests UNAVAILABLE.
    pub payments: Option<PaymentsConfig>,
}

impl SuapConfig {
    /// Reads the configuration.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            service: crate::SPEC.config_from_env(env)?,
            routing_url: env.peer_url("ROUTING_URL", "routing")?,
            documents: DocumentStoreConfig::from_env(env)?,
            payments: crate::payments::config_from_env(env)?,
        })
    }
}

impl AsRef<ServiceConfig> for SuapConfig {
    fn as_ref(&self) -> &ServiceConfig {
        &self.service
    }
}

/// What [`crate::start`] accepts: a full [`SuapConfig`], or the common configuration
/// alone (no routing, documents in the SUAP's schema, no payments).
pub trait IntoSuapConfig {
    /// The SUAP's configuration.
    fn into_suap_config(self) -> Result<SuapConfig, StartError>;
}

impl IntoSuapConfig for SuapConfig {
    fn into_suap_config(self) -> Result<SuapConfig, StartError> {
        Ok(self)
    }
}

impl IntoSuapConfig for ServiceConfig {
    fn into_suap_config(self) -> Result<SuapConfig, StartError> {
        Ok(SuapConfig {
            service: self,
            routing_url: None,
            documents: DocumentStoreConfig::default(),
            payments: None,
        })
    }
}
