//! Routing's configuration: the common one plus its own rules.

use std::{sync::Arc, time::Duration};

use sportello_kit::{
    ConfigError, Env, MunicipalityCode, PseudonymKey, ServiceConfig, mail::Mailer,
};

use crate::protocol::sealed::Keyring;

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
    /// The keys that seal the correspondents' names in the protocol register
    /// (`PROTOCOL_NAME_KEYS`: `<id>:<64 hex digits>`, comma-separated, the current key
    /// first; older keys stay to read older entries).
    pub protocol_name_keys: Arc<Keyring>,
    /// How often the back office's gauges (items by department and state) are read from
    /// the database: 15 s, a Prometheus scrape's usual interval; tests shorten it.
    pub gauges_every: Duration,
    /// The deployment secret behind requester_refs (`PSEUDONYM_KEY`, the registry's):
    /// a booking is bound to the person by the reference of their fiscal code, and the
    /// caps count sources and addresses by keyed hashes under it.
    pub pseudonym_key: PseudonymKey,
    /// Sends the bookings' confirmation codes (`SMTP_URL`, `MAIL_FROM`); without it,
    /// citizens cannot book online (operators still book on their behalf).
    pub mailer: Option<Mailer>,
}

impl AsRef<ServiceConfig> for RoutingConfig {
    fn as_ref(&self) -> &ServiceConfig {
        &self.service
    }
}

impl From<ServiceConfig> for RoutingConfig {
    /// Routing with its defaults: no seed, a 90-second heartbeat timeout, and a random
    /// key for the register's names that lives as long as the process (tests and the
    /// whole-stack test). Production starts through [`RoutingConfig::from_env`], which
    /// requires the real keys.
    fn from(service: ServiceConfig) -> Self {
        Self {
            service,
            seed_municipalities: Vec::new(),
            heartbeat_timeout: Duration::from_secs(90),
            offers: crate::work::flow::OfferSettings::default(),
            protocol_name_keys: Arc::new(Keyring::random()),
            gauges_every: crate::work::gauges::EVERY,
            pseudonym_key: PseudonymKey::random(),
            mailer: None,
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
        let raw: String = env.required(
            "PROTOCOL_NAME_KEYS",
            "servono le chiavi che cifrano i nomi nel registro di protocollo (the keys sealing the names in the protocol register): <id>:<64 hex digits>, e.g. k1:$(openssl rand -hex 32)",
        )?;
        let protocol_name_keys = Keyring::parse(&raw)
            .map_err(|why| ConfigError::invalid("PROTOCOL_NAME_KEYS", &raw, why))?;
        let raw: String = env.required(
            "PSEUDONYM_KEY",
            "serve la chiave dei riferimenti pseudonimi, la stessa dell'anagrafe (the key behind requester_refs, the registry's): 64 or more hex digits",
        )?;
        let pseudonym_key: PseudonymKey = raw
            .parse()
            .map_err(|why| ConfigError::invalid("PSEUDONYM_KEY", &raw, why))?;
        let mailer = Mailer::from_env(env)?;
        Ok(Self {
            service,
            seed_municipalities,
            heartbeat_timeout,
            offers,
            protocol_name_keys: Arc::new(protocol_name_keys),
            gauges_every: crate::work::gauges::EVERY,
            pseudonym_key,
            mailer,
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
            (
                "PROTOCOL_NAME_KEYS",
                "k1:0101010101010101010101010101010101010101010101010101010101010101",
            ),
            (
                "PSEUDONYM_KEY",
                "0202020202020202020202020202020202020202020202020202020202020202",
            ),
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
    fn the_protocol_name_keys_are_required_and_checked_without_being_echoed() {
        let mut pairs = vec![
            ("DATABASE_URL", "postgres://h/db"),
            ("NATS_URL", "nats://h"),
        ];
        pairs.extend(sportello_kit::testing::pki::tls_vars("svc/routing"));
        let error = RoutingConfig::from_env(&Env::from_pairs(pairs)).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("PROTOCOL_NAME_KEYS is not set"),
            "{error}"
        );
        let error = RoutingConfig::from_env(&env(&[(
            "PROTOCOL_NAME_KEYS",
            "k1:0202020202020202020202020202020202020202",
        )]))
        .unwrap_err()
        .to_string();
        assert!(
            error.starts_with("PROTOCOL_NAME_KEYS=<redacted> is invalid"),
            "{error}"
        );
        assert!(!error.contains("0202") && !error.contains('\n'), "{error}");
        let config = RoutingConfig::from_env(&env(&[])).unwrap();
        assert_eq!(config.protocol_name_keys.current_id(), "k1");
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
