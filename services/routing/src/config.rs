//! Routing's configuration: the common one plus its own rules.

use std::time::Duration;

use sportello_kit::{ConfigError, Env, MunicipalityCode, ServiceConfig};

/// Everything routing needs.
#[derive(Debug, Clone)]
pub struct RoutingConfig {
    /// The common configuration.
    pub service: ServiceConfig,
    /// Municipalities whose shipped catalogue seed is applied at start
    /// (`CATALOGUE_SEED`, comma-separated ISTAT codes; empty by default).
    pub seed_municipalities: Vec<MunicipalityCode>,
    /// How long an operator's client may stay silent before the operator turns offline
    /// (`HEARTBEAT_TIMEOUT`, default 90s).
    pub heartbeat_timeout: Duration,
    /// How the back office offers work (`BACK_OFFICE_OFFER_TIMEOUT`, default 2m;
    /// `BACK_OFFICE_WIDEN_AFTER`, default 30m).
    pub offers: crate::work::flow::OfferSettings,
}

impl AsRef<ServiceConfig> for RoutingConfig {
    fn as_ref(&self) -> &ServiceConfig {
        &self.service
    }
}

impl From<ServiceConfig> for RoutingConfig {
    /// Routing with its defaults: no seed, a 90-second heartbeat timeout.
    fn from(service: ServiceConfig) -> Self {
        Self {
            service,
            seed_municipalities: Vec::new(),
            heartbeat_timeout: Duration::from_secs(90),
            offers: crate::work::flow::OfferSettings::default(),
        }
    }
}

impl RoutingConfig {
    /// Reads the configuration.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let service = crate::SPEC.config_from_env(env)?;
        let seed_municipalities = match env.raw("CATALOGUE_SEED") {
            None => Vec::new(),
            Some(raw) => raw
                .split(',')
                .map(|code| {
                    code.trim()
                        .parse()
                        .map_err(|e| ConfigError::invalid("CATALOGUE_SEED", raw, e))
                })
                .collect::<Result<_, _>>()?,
        };
        let heartbeat_timeout = env.duration_or("HEARTBEAT_TIMEOUT", Duration::from_secs(90))?;
        if heartbeat_timeout < Duration::from_secs(5) {
            return Err(ConfigError::invalid(
                "HEARTBEAT_TIMEOUT",
                &format!("{}ms", heartbeat_timeout.as_millis()),
                "must be at least 5s",
            ));
        }
        let defaults = crate::work::flow::OfferSettings::default();
        let offers = crate::work::flow::OfferSettings {
            offer_timeout: env.duration_or("BACK_OFFICE_OFFER_TIMEOUT", defaults.offer_timeout)?,
            widen_after: env.duration_or("BACK_OFFICE_WIDEN_AFTER", defaults.widen_after)?,
        };
        if offers.offer_timeout < Duration::from_secs(10) {
            return Err(ConfigError::invalid(
                "BACK_OFFICE_OFFER_TIMEOUT",
                &format!("{}ms", offers.offer_timeout.as_millis()),
                "must be at least 10s: a specialist needs time to answer",
            ));
        }
        Ok(Self {
            service,
            seed_municipalities,
            heartbeat_timeout,
            offers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(extra: &[(&'static str, &'static str)]) -> Env {
        let mut pairs = vec![
            ("DATABASE_URL", "postgres://h/db"),
            ("NATS_URL", "nats://h"),
        ];
        pairs.extend(sportello_kit::testing::pki::tls_vars("svc/routing"));
        pairs.extend_from_slice(extra);
        Env::from_pairs(pairs)
    }

    #[test]
    fn seed_municipalities_are_istat_codes() {
        let config =
            RoutingConfig::from_env(&env(&[("CATALOGUE_SEED", "011015, 010025")])).unwrap();
        assert_eq!(config.seed_municipalities.len(), 2);
        let error = RoutingConfig::from_env(&env(&[("CATALOGUE_SEED", "La Spezia")])).unwrap_err();
        assert!(error.to_string().starts_with("CATALOGUE_SEED="), "{error}");
    }

    #[test]
    fn a_tiny_heartbeat_timeout_is_refused() {
        let error = RoutingConfig::from_env(&env(&[("HEARTBEAT_TIMEOUT", "1s")])).unwrap_err();
        assert!(
            error.to_string().starts_with("HEARTBEAT_TIMEOUT="),
            "{error}"
        );
    }
}
