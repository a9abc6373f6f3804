//! SUAP's configuration: the common one and pagoPA's.

use sportello_kit::{ConfigError, Env, ServiceConfig, payments::PaymentsConfig};

/// Everything SUAP needs.
#[derive(Debug, Clone)]
pub struct SuapConfig {
    /// The common configuration.
    pub service: ServiceConfig,
    /// pagoPA (`PAGOPA_*`); `None` leaves payment requests UNAVAILABLE.
    pub payments: Option<PaymentsConfig>,
}

impl AsRef<ServiceConfig> for SuapConfig {
    fn as_ref(&self) -> &ServiceConfig {
        &self.service
    }
}

impl SuapConfig {
    /// Reads the configuration from `env`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            service: crate::SPEC.config_from_env(env)?,
            payments: crate::payments::config_from_env(env)?,
        })
    }
}

/// What [`crate::start`] accepts: a whole [`SuapConfig`], or the common configuration
/// alone (tests that do not pay).
pub trait IntoSuapConfig {
    /// The SUAP configuration.
    fn into_suap_config(self) -> SuapConfig;
}

impl IntoSuapConfig for SuapConfig {
    fn into_suap_config(self) -> SuapConfig {
        self
    }
}

impl IntoSuapConfig for ServiceConfig {
    fn into_suap_config(self) -> SuapConfig {
        SuapConfig {
            service: self,
            payments: None,
        }
    }
}
