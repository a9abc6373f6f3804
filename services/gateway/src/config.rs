//! The gateway's configuration: the common one plus where each service is.

use sportello_kit::{ConfigError, Env, ServiceConfig};

/// A service the gateway talks to, and the variable that says where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Service name.
    pub name: &'static str,
    /// Its gRPC URL, e.g. `http://routing:50051`.
    pub url: String,
}

/// The services behind the gateway, in the order the status page lists them.
pub const PEERS: [(&str, &str); 6] = [
    ("routing", "ROUTING_URL"),
    ("registry", "REGISTRY_URL"),
    ("education", "EDUCATION_URL"),
    ("suap", "SUAP_URL"),
    ("mobility", "MOBILITY_URL"),
    ("urp", "URP_URL"),
];

/// Everything the gateway needs.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// The common configuration.
    pub service: ServiceConfig,
    /// The services behind it.
    pub peers: Vec<Peer>,
}

impl AsRef<ServiceConfig> for GatewayConfig {
    fn as_ref(&self) -> &ServiceConfig {
        &self.service
    }
}

impl GatewayConfig {
    /// Reads the configuration; every service URL is required.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let service = crate::SPEC.config_from_env(env)?;
        let peers = PEERS
            .iter()
            .map(|(name, var)| {
                let url: String = env.required(
                    var,
                    &format!("set it to the {name} service's gRPC URL, e.g. http://{name}:50051"),
                )?;
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(ConfigError::invalid(
                        var,
                        &url,
                        "must start with http:// or https://",
                    ));
                }
                Ok(Peer { name, url })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { service, peers })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_service_url_is_named() {
        let env = Env::from_pairs([
            ("DATABASE_URL", "postgres://h/db"),
            ("NATS_URL", "nats://h"),
        ]);
        let error = GatewayConfig::from_env(&env).unwrap_err();
        assert!(
            error.to_string().starts_with("ROUTING_URL is not set"),
            "{error}"
        );
    }

    #[test]
    fn a_url_without_scheme_is_refused() {
        let mut pairs = vec![
            ("DATABASE_URL", "postgres://h/db"),
            ("NATS_URL", "nats://h"),
        ];
        pairs.extend(PEERS.iter().map(|(_, var)| (*var, "http://h:1")));
        pairs.push(("URP_URL", "urp:50056"));
        let error = GatewayConfig::from_env(&Env::from_pairs(pairs)).unwrap_err();
        assert!(error.to_string().starts_with("URP_URL="), "{error}");
    }
}
