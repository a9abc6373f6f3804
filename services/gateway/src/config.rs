//! The gateway's configuration: the common one plus where each service is.

use std::path::PathBuf;

use jiff::SignedDuration;

use crate::auth::source::TrustedProxies;
use sportello_kit::{
    ConfigError, Env, MunicipalityCode, ServiceConfig,
    documents::{DEFAULT_MAX_BYTES, DOCUMENT_MAX_BYTES_VAR},
};

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
    /// The web UI and its sessions.
    pub web: WebConfig,
}

/// The web UI and its sessions.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The built UI (`make ui`): pages and static files. `UI_ASSETS_DIR`, default
    /// `services/gateway/ui/dist` (the repository's build output).
    pub assets_dir: PathBuf,
    /// Whether session cookies are `Secure` (sent over HTTPS only). `COOKIE_SECURE`,
    /// default true; `make run` serves plain HTTP on loopback and sets it false.
    pub cookie_secure: bool,
    /// How long a session lasts. `SESSION_HOURS`, 1-24, default 10 (a working day).
    pub session_ttl: SignedDuration,
    /// The municipality whose boards, kiosks and sites the public pages show.
    /// `PUBLIC_MUNICIPALITY`, default 011015 (La Spezia, the demo).
    pub public_municipality: MunicipalityCode,
    /// The size limit of one document attached to a declaration, in bytes:
    /// `DOCUMENT_MAX_BYTES`, the variable the registry reads for its own check, so one
    /// setting sizes both the gateway's request limit and the registry's; default 10 MiB.
    pub document_max_bytes: u64,
    /// The proxies (the ingress controller) whose `X-Forwarded-For` names the client:
    /// `TRUSTED_PROXIES`, CIDR blocks separated by commas; default none (the TCP peer is
    /// the client). Behind an ingress, set it to the ingress pods' network, or every
    /// sign-in counts against the ingress's address.
    pub trusted_proxies: TrustedProxies,
    /// How many password hashes (19 MiB each) may run at once:
    /// `PASSWORD_HASH_CONCURRENCY`, 1-1024; default a quarter of the cgroup memory limit
    /// over the cost of one hash, at most the CPUs.
    pub password_hash_concurrency: Option<usize>,
    /// Calling-board streams open at once in this gateway: `BOARD_MAX_STREAMS`, default
    /// 500; beyond it a board is answered 503 with `Retry-After`.
    pub board_max_streams: usize,
    /// Calling-board streams open at once for one site: `BOARD_MAX_STREAMS_PER_SITE`,
    /// default 50.
    pub board_max_streams_per_site: usize,
    /// Operators' sign-in through an OpenID provider (`OIDC_*`); none: local accounts only.
    pub oidc: Option<std::sync::Arc<crate::auth::oidc::OidcConfig>>,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            assets_dir: PathBuf::from(DEFAULT_ASSETS_DIR),
            cookie_secure: true,
            session_ttl: SignedDuration::from_hours(10),
            public_municipality: DEMO_MUNICIPALITY,
            document_max_bytes: DEFAULT_MAX_BYTES,
            trusted_proxies: TrustedProxies::default(),
            password_hash_concurrency: None,
            board_max_streams: 500,
            board_max_streams_per_site: 50,
            oidc: None,
        }
    }
}

/// Where `make ui` builds the pages.
pub const DEFAULT_ASSETS_DIR: &str = "services/gateway/ui/dist";

/// La Spezia.
pub const DEMO_MUNICIPALITY: MunicipalityCode = match MunicipalityCode::from_digits(*b"011015") {
    Some(code) => code,
    None => unreachable!(),
};

impl WebConfig {
    /// Reads `UI_ASSETS_DIR`, `COOKIE_SECURE`, `SESSION_HOURS`, `PUBLIC_MUNICIPALITY`,
    /// `DOCUMENT_MAX_BYTES`, `TRUSTED_PROXIES`, `PASSWORD_HASH_CONCURRENCY`,
    /// `BOARD_MAX_STREAMS`, `BOARD_MAX_STREAMS_PER_SITE`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let document_max_bytes: u64 = env.or(DOCUMENT_MAX_BYTES_VAR, DEFAULT_MAX_BYTES)?;
        if document_max_bytes == 0 {
            return Err(ConfigError::invalid(
                DOCUMENT_MAX_BYTES_VAR,
                "0",
                "must be at least 1",
            ));
        }
        let hours: i64 = env.or("SESSION_HOURS", 10)?;
        if !(1..=24).contains(&hours) {
            return Err(ConfigError::invalid(
                "SESSION_HOURS",
                &hours.to_string(),
                "must be 1 to 24",
            ));
        }
        let password_hash_concurrency: Option<usize> = env.optional("PASSWORD_HASH_CONCURRENCY")?;
        if let Some(n) = password_hash_concurrency
            && !(1..=1024).contains(&n)
        {
            return Err(ConfigError::invalid(
                "PASSWORD_HASH_CONCURRENCY",
                &n.to_string(),
                "must be 1 to 1024",
            ));
        }
        let board_max_streams = at_least_one(env, "BOARD_MAX_STREAMS", defaults.board_max_streams)?;
        let board_max_streams_per_site = at_least_one(
            env,
            "BOARD_MAX_STREAMS_PER_SITE",
            defaults.board_max_streams_per_site,
        )?;
        Ok(Self {
            trusted_proxies: env.or("TRUSTED_PROXIES", defaults.trusted_proxies)?,
            password_hash_concurrency,
            board_max_streams,
            board_max_streams_per_site,
            assets_dir: env.or("UI_ASSETS_DIR", defaults.assets_dir)?,
            cookie_secure: env.or("COOKIE_SECURE", true)?,
            session_ttl: SignedDuration::from_hours(hours),
            public_municipality: env.or("PUBLIC_MUNICIPALITY", defaults.public_municipality)?,
            document_max_bytes,
            oidc: crate::auth::oidc::OidcConfig::from_env(env)?.map(std::sync::Arc::new),
        })
    }
}

fn at_least_one(env: &Env, var: &str, default: usize) -> Result<usize, ConfigError> {
    let value: usize = env.or(var, default)?;
    if value == 0 {
        return Err(ConfigError::invalid(var, "0", "must be at least 1"));
    }
    Ok(value)
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
                let url = env
                    .peer_url(var, name)?
                    .ok_or_else(|| ConfigError::Missing {
                        var: (*var).to_owned(),
                        hint: format!(
                            "set it to the {name} service's gRPC URL, e.g. https://{name}:50051"
                        ),
                    })?;
                Ok(Peer { name, url })
            })
            .collect::<Result<_, _>>()?;
        let web = WebConfig::from_env(env)?;
        Ok(Self {
            service,
            peers,
            web,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_service_url_is_named() {
        let mut pairs = vec![
            ("DATABASE_URL", "postgres://h/db"),
            ("NATS_URL", "nats://h"),
        ];
        pairs.extend(sportello_kit::testing::pki::tls_vars("svc/gateway"));
        let env = Env::from_pairs(pairs);
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
        pairs.extend(sportello_kit::testing::pki::tls_vars("svc/gateway"));
        pairs.extend(PEERS.iter().map(|(_, var)| (*var, "https://h:1")));
        pairs.push(("URP_URL", "http://urp:50056"));
        let error = GatewayConfig::from_env(&Env::from_pairs(pairs)).unwrap_err();
        assert!(error.to_string().starts_with("URP_URL="), "{error}");
    }
}
