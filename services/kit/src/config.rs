//! Configuration from the environment.
//!
//! Every variable is read through [`Env`], whose errors name the variable and say what is
//! wrong with it in one line (`GRPC_PORT="abc" is invalid: not a port number (0-65535)`),
//! so a misconfigured pod ends with a message an operator can act on, never a panic.
//! Values of variables that may hold secrets (URLs, keys, passwords) are never echoed.

use std::{collections::HashMap, fmt, net::IpAddr, str::FromStr, sync::Arc, time::Duration};

use crate::{clock::Clock, trust::TlsIdentity};

/// A configuration problem, naming the variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set (or is empty).
    #[error("{var} is not set: {hint}")]
    Missing {
        /// The variable's name.
        var: String,
        /// What it should hold.
        hint: String,
    },
    /// A variable is set to something that cannot be used.
    #[error("{var}={value} is invalid: {reason}")]
    Invalid {
        /// The variable's name.
        var: String,
        /// The value, quoted, or `<redacted>` for variables that may hold secrets.
        value: String,
        /// Why it cannot be used.
        reason: String,
    },
}

impl ConfigError {
    /// A variable set to an unusable value.
    pub fn invalid(var: &str, value: &str, reason: impl fmt::Display) -> Self {
        Self::Invalid {
            var: var.to_owned(),
            value: shown_value(var, value),
            reason: reason.to_string(),
        }
    }
}

/// Variables whose values may carry credentials are never printed.
fn shown_value(var: &str, value: &str) -> String {
    let secret = ["URL", "KEY", "SECRET", "PASSWORD", "TOKEN"]
        .iter()
        .any(|word| var.contains(word));
    if secret {
        "<redacted>".to_owned()
    } else {
        format!("{value:?}")
    }
}

/// Where configuration is read from: the process environment, or a fixed map in tests.
#[derive(Clone)]
pub struct Env {
    vars: Arc<HashMap<String, String>>,
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Env")
            .field("vars", &self.vars.len())
            .finish()
    }
}

impl Env {
    /// The process environment (variables that are not valid Unicode are ignored).
    pub fn from_process() -> Self {
        Self {
            vars: Arc::new(std::env::vars().collect()),
        }
    }

    /// A fixed set of variables.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            vars: Arc::new(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
            ),
        }
    }

    /// The raw value, if set and not empty.
    pub fn raw(&self, var: &str) -> Option<&str> {
        self.vars
            .get(var)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// A required variable, parsed. `hint` says what it should hold.
    pub fn required<T>(&self, var: &str, hint: &str) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.optional(var)? {
            Some(value) => Ok(value),
            None => Err(ConfigError::Missing {
                var: var.to_owned(),
                hint: hint.to_owned(),
            }),
        }
    }

    /// An optional variable, parsed.
    pub fn optional<T>(&self, var: &str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.raw(var)
            .map(|raw| {
                raw.parse::<T>()
                    .map_err(|e| ConfigError::invalid(var, raw, e))
            })
            .transpose()
    }

    /// An optional variable with a default.
    pub fn or<T>(&self, var: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        Ok(self.optional(var)?.unwrap_or(default))
    }

    /// The URL of a peer service: `https://host:port` (gRPC speaks only mutual TLS).
    pub fn peer_url(&self, var: &str, service: &str) -> Result<Option<String>, ConfigError> {
        let Some(url) = self.raw(var) else {
            return Ok(None);
        };
        if url.starts_with("https://") && url.len() > "https://".len() {
            Ok(Some(url.to_owned()))
        } else {
            Err(ConfigError::Invalid {
                var: var.to_owned(),
                value: format!("{url:?}"),
                reason: format!(
                    "must be the {service} service's https:// URL, e.g. https://{service}:50051 \
                     (every gRPC link is mutual TLS)"
                ),
            })
        }
    }

    /// A TCP port.
    pub fn port_or(&self, var: &str, default: u16) -> Result<u16, ConfigError> {
        match self.raw(var) {
            None => Ok(default),
            Some(raw) => raw
                .parse::<u16>()
                .map_err(|_| ConfigError::invalid(var, raw, "not a port number (0-65535)")),
        }
    }

    /// Every `<PREFIX><SERVICE>` variable as a duration, keyed by the lowercase service
    /// (`GRPC_TIMEOUT_ROUTING=2s` → `routing`: 2 s).
    pub fn per_service_durations(
        &self,
        prefix: &str,
    ) -> Result<HashMap<String, Duration>, ConfigError> {
        let mut found = HashMap::new();
        for var in self.vars.keys() {
            if let Some(service) = var.strip_prefix(prefix)
                && !service.is_empty()
            {
                let duration = self.duration_or(var, Duration::ZERO)?;
                found.insert(service.to_ascii_lowercase(), duration);
            }
        }
        Ok(found)
    }

    /// A duration written as a number with a unit: `500ms`, `30s`, `5m`, `2h`, `7d`.
    pub fn duration_or(&self, var: &str, default: Duration) -> Result<Duration, ConfigError> {
        match self.raw(var) {
            None => Ok(default),
            Some(raw) => parse_duration(raw).ok_or_else(|| {
                ConfigError::invalid(var, raw, "expected a number and a unit: ms, s, m, h or d")
            }),
        }
    }
}

/// The periods of every category, refused when the streams would outlive the inbox.
fn retention_periods(env: &Env) -> Result<crate::retention::Periods, ConfigError> {
    let periods = crate::retention::Periods::from_env(env)?;
    periods.check_events(env.duration_or("RETENTION", Duration::from_secs(7 * 86_400))?)?;
    Ok(periods)
}

fn parse_duration(raw: &str) -> Option<Duration> {
    let split = raw.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = raw.split_at(split);
    let n: u64 = number.parse().ok()?;
    let seconds = match unit {
        "ms" => return Some(Duration::from_millis(n)),
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(seconds).map(Duration::from_secs)
}

/// Whether background workers (outbox relay, consumers, timers, purge) run by themselves
/// or are stepped by the caller, as tests do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerMode {
    /// Workers run in background tasks.
    Background,
    /// Nothing runs by itself; tests call the workers' `run_once` methods.
    Manual,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl FromStr for LogFormat {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err("expected text or json"),
        }
    }
}

/// The prefix of every NATS subject and stream name: `sportello` in a deployment, a
/// unique token per test so tests sharing one NATS server never see each other's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectPrefix(String);

impl SubjectPrefix {
    /// The prefix.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `<prefix>.<relative>`.
    pub fn subject(&self, relative: &str) -> String {
        format!("{}.{relative}", self.0)
    }

    /// A stream name for one part: `SPORTELLO_REGISTRY`.
    pub fn stream(&self, part: &str) -> String {
        format!("{}_{}", self.0, part).to_ascii_uppercase()
    }
}

impl FromStr for SubjectPrefix {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let valid = !s.is_empty()
            && s.len() <= 32
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err("expected 1-32 lowercase letters, digits or '_', starting with a letter")
        }
    }
}

impl Default for SubjectPrefix {
    fn default() -> Self {
        Self("sportello".to_owned())
    }
}

/// What every service needs to start.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// PostgreSQL connection URL (`DATABASE_URL`).
    pub database_url: String,
    /// The schema owner's URL (`DATABASE_MIGRATION_URL`), when the service migrates its
    /// own schema at start as that owner and then grants its own role (the user of
    /// `DATABASE_URL`) what it needs. Unset in production, where an init step runs
    /// `sportello-<service> migrate` with the owner's credentials and the service never
    /// sees them; unset also on a single-role database (a developer's own), where the
    /// service migrates the schema it owns.
    pub database_migration_url: Option<String>,
    /// Pool size (`DATABASE_MAX_CONNECTIONS`, default 10).
    pub database_max_connections: u32,
    /// How long a starting service waits for PostgreSQL (`DATABASE_CONNECT_TIMEOUT`,
    /// default 30s): it may be starting beside the service.
    pub database_connect_timeout: Duration,
    /// NATS server URL(s), comma-separated (`NATS_URL`).
    pub nats_url: String,
    /// Which NATS user the service connects as.
    pub nats_auth: NatsAuth,
    /// Subject and stream prefix (`NATS_SUBJECT_PREFIX`, default `sportello`).
    pub subject_prefix: SubjectPrefix,
    /// Replicas of the streams this service owns (`NATS_STREAM_REPLICAS`, default 1; 3 on
    /// a NATS cluster).
    pub stream_replicas: usize,
    /// Address to listen on (`LISTEN_HOST`, default `0.0.0.0`).
    pub listen_host: IpAddr,
    /// gRPC port (`GRPC_PORT`; 0 picks a free one).
    pub grpc_port: u16,
    /// Prometheus `/metrics` port (`METRICS_PORT`; 0 picks a free one).
    pub metrics_port: u16,
    /// HTTP port for services that serve HTTP (`HTTP_PORT`).
    pub http_port: u16,
    /// OTLP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`); traces are exported only when set.
    pub otlp_endpoint: Option<String>,
    /// Log format (`LOG_FORMAT`, `text` or `json`).
    pub log_format: LogFormat,
    /// How often the relay looks for events written by other replicas
    /// (`OUTBOX_POLL_INTERVAL`, default 250ms); its own writes wake it at once.
    pub outbox_poll_interval: Duration,
    /// How long published outbox rows, inbox rows, fired timers and idempotency records
    /// are kept (`RETENTION`, default 7d).
    pub retention: Duration,
    /// The retention period of each category of data (`RETENTION_CASES`, …) and of the
    /// JetStream streams (`RETENTION_EVENTS`, checked against `RETENTION` at start).
    pub retention_periods: crate::retention::Periods,
    /// Background workers or stepped by tests.
    pub workers: WorkerMode,
    /// The clock ("now") the service reads.
    pub clock: Clock,
    /// This process's certificate, key and the deployment's CA (`TLS_CERT`, `TLS_KEY`,
    /// `TLS_CA`): every gRPC link is mutual TLS.
    pub tls: TlsSource,
    /// The deadline of an outgoing gRPC call (`GRPC_TIMEOUT`, default 5s), unless the
    /// caller's own deadline is nearer.
    pub grpc_timeout: Duration,
    /// Per called service (`GRPC_TIMEOUT_<SERVICE>`, e.g. `GRPC_TIMEOUT_ROUTING=2s`).
    pub grpc_timeouts: HashMap<String, Duration>,
    /// The longest a single SQL statement may run (`DATABASE_STATEMENT_TIMEOUT`, default
    /// 30s): a stuck query fails instead of holding a connection and its locks.
    pub database_statement_timeout: Duration,
}

/// Which NATS user a service connects as: always its own, whose permissions follow from
/// its spec ([`crate::nats_auth`]).
#[derive(Debug, Clone)]
pub enum NatsAuth {
    /// The user and password written in `NATS_URL` (`nats://<service>:<password>@host`),
    /// or none where the server asks for none.
    Url,
    /// The user the test's own NATS server has for whichever service starts with this
    /// configuration ([`crate::testing::nats`]).
    #[cfg(feature = "testing")]
    Test(std::sync::Arc<crate::testing::nats::TestNats>),
}

impl NatsAuth {
    /// The user and password `service` connects with to `url`.
    // Without the test feature the user is the one written in the URL.
    #[cfg_attr(not(feature = "testing"), allow(unused_variables))]
    pub fn credentials_for(
        &self,
        url: &str,
        service: &str,
    ) -> Result<Option<(String, String)>, ConfigError> {
        match self {
            Self::Url => Ok(crate::nats::credentials(url)),
            #[cfg(feature = "testing")]
            Self::Test(nats) => nats
                .password(service)
                .map(|password| Some((service.to_owned(), password.to_owned())))
                .ok_or_else(|| ConfigError::Invalid {
                    var: "NATS_URL".to_owned(),
                    value: url.to_owned(),
                    reason: format!(
                        "the test's NATS server has no user {service}: pass its spec to \
                         TestContext::new"
                    ),
                }),
        }
    }
}

/// Where a service's TLS identity comes from.
#[derive(Debug, Clone)]
pub enum TlsSource {
    /// The files named by `TLS_CERT`, `TLS_KEY` and `TLS_CA` (every deployment).
    Files(TlsIdentity),
    /// A certificate issued at start, for whichever service starts with this
    /// configuration, by the tests' in-process authority ([`crate::testing::pki`]): the
    /// same mutual TLS, provisioned in memory.
    #[cfg(feature = "testing")]
    Test,
}

impl TlsSource {
    /// The identity of the service called `service`; refused when the certificate names
    /// another peer.
    pub fn identity_for(&self, service: &str) -> Result<TlsIdentity, ConfigError> {
        match self {
            Self::Files(identity) => {
                if identity.id().is_service(service) {
                    Ok(identity.clone())
                } else {
                    Err(ConfigError::Invalid {
                        var: crate::trust::tls::TLS_CERT.to_owned(),
                        value: "<certificate>".to_owned(),
                        reason: format!(
                            "it names {}, but this is svc/{service}: each service presents \
                             its own certificate",
                            identity.id()
                        ),
                    })
                }
            }
            #[cfg(feature = "testing")]
            Self::Test => Ok(crate::testing::pki::identity(&format!("svc/{service}"))),
        }
    }
}

impl ServiceConfig {
    /// The deadline of calls to `service`.
    pub fn grpc_timeout_for(&self, service: &str) -> Duration {
        self.grpc_timeouts
            .get(service)
            .copied()
            .unwrap_or(self.grpc_timeout)
    }
}

/// The ports a service listens on by default, from its spec.
#[derive(Debug, Clone, Copy)]
pub struct DefaultPorts {
    /// gRPC.
    pub grpc: u16,
    /// Prometheus metrics.
    pub metrics: u16,
    /// HTTP, for the services that serve it.
    pub http: u16,
}

impl ServiceConfig {
    /// Reads the common configuration from the environment.
    pub fn from_env(env: &Env, ports: DefaultPorts) -> Result<Self, ConfigError> {
        let max_connections: u32 = env.or("DATABASE_MAX_CONNECTIONS", 10)?;
        if max_connections == 0 {
            return Err(ConfigError::invalid(
                "DATABASE_MAX_CONNECTIONS",
                "0",
                "must be at least 1",
            ));
        }
        let replicas: usize = env.or("NATS_STREAM_REPLICAS", 1)?;
        if !(1..=5).contains(&replicas) {
            return Err(ConfigError::invalid(
                "NATS_STREAM_REPLICAS",
                &replicas.to_string(),
                "JetStream allows 1 to 5 replicas",
            ));
        }
        Ok(Self {
            database_url: env.required(
                "DATABASE_URL",
                "set it to the PostgreSQL URL, e.g. postgres://user@host:5432/sportello \
                 (make run sets it for the local stack)",
            )?,
            database_migration_url: env.optional("DATABASE_MIGRATION_URL")?,
            database_max_connections: max_connections,
            database_connect_timeout: env
                .duration_or("DATABASE_CONNECT_TIMEOUT", Duration::from_secs(30))?,
            nats_url: env.required(
                "NATS_URL",
                "set it to the NATS server URL, e.g. nats://host:4222 \
                 (make run sets it for the local stack)",
            )?,
            nats_auth: NatsAuth::Url,
            subject_prefix: env.or("NATS_SUBJECT_PREFIX", SubjectPrefix::default())?,
            stream_replicas: replicas,
            listen_host: env.or("LISTEN_HOST", IpAddr::from([0, 0, 0, 0]))?,
            grpc_port: env.port_or("GRPC_PORT", ports.grpc)?,
            metrics_port: env.port_or("METRICS_PORT", ports.metrics)?,
            http_port: env.port_or("HTTP_PORT", ports.http)?,
            otlp_endpoint: env.optional("OTEL_EXPORTER_OTLP_ENDPOINT")?,
            log_format: env.or("LOG_FORMAT", LogFormat::Text)?,
            outbox_poll_interval: env
                .duration_or("OUTBOX_POLL_INTERVAL", Duration::from_millis(250))?,
            retention: env.duration_or("RETENTION", Duration::from_secs(7 * 86_400))?,
            retention_periods: retention_periods(env)?,
            workers: WorkerMode::Background,
            clock: Clock::system(),
            tls: TlsSource::Files(TlsIdentity::from_env(env)?),
            grpc_timeout: env.duration_or("GRPC_TIMEOUT", Duration::from_secs(5))?,
            grpc_timeouts: env.per_service_durations("GRPC_TIMEOUT_")?,
            database_statement_timeout: env
                .duration_or("DATABASE_STATEMENT_TIMEOUT", Duration::from_secs(30))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORTS: DefaultPorts = DefaultPorts {
        grpc: 50051,
        metrics: 9101,
        http: 8080,
    };

    #[test]
    fn missing_database_url_names_the_variable() {
        let env = Env::from_pairs([("NATS_URL", "nats://localhost:4222")]);
        let err = ServiceConfig::from_env(&env, PORTS).unwrap_err();
        assert!(
            err.to_string().starts_with("DATABASE_URL is not set"),
            "{err}"
        );
    }

    #[test]
    fn invalid_port_names_the_variable_and_value() {
        let env = Env::from_pairs([
            ("DATABASE_URL", "postgres://u:secret@h/db"),
            ("NATS_URL", "nats://localhost:4222"),
            ("GRPC_PORT", "70000"),
        ]);
        let err = ServiceConfig::from_env(&env, PORTS).unwrap_err();
        assert_eq!(
            err.to_string(),
            "GRPC_PORT=\"70000\" is invalid: not a port number (0-65535)"
        );
    }

    #[test]
    fn secrets_are_never_echoed() {
        let err = ConfigError::invalid("DATABASE_URL", "postgres://u:secret@h/db", "bad");
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    /// The TLS variables, pointing at files of the tests' authority for `peer`.
    fn tls_files(peer: &str) -> [(&'static str, String); 3] {
        let (cert, key, ca) = crate::testing::pki::files(peer);
        [
            ("TLS_CERT", cert.display().to_string()),
            ("TLS_KEY", key.display().to_string()),
            ("TLS_CA", ca.display().to_string()),
        ]
    }

    fn env_with(pairs: &[(&str, &str)], tls: &[(&'static str, String); 3]) -> Env {
        Env::from_pairs(
            pairs
                .iter()
                .copied()
                .chain(tls.iter().map(|(k, v)| (*k, v.as_str()))),
        )
    }

    #[test]
    fn the_owners_url_is_read_when_given() {
        let tls = tls_files("svc/routing");
        let env = env_with(
            &[
                ("DATABASE_URL", "postgres://routing@h/db"),
                ("DATABASE_MIGRATION_URL", "postgres://owner@h/db"),
                ("NATS_URL", "n"),
            ],
            &tls,
        );
        let config = ServiceConfig::from_env(&env, PORTS).unwrap();
        assert_eq!(
            config.database_migration_url.as_deref(),
            Some("postgres://owner@h/db")
        );
    }

    #[test]
    fn defaults_apply() {
        let tls = tls_files("svc/routing");
        let env = env_with(
            &[("DATABASE_URL", "postgres://h/db"), ("NATS_URL", "n")],
            &tls,
        );
        let config = ServiceConfig::from_env(&env, PORTS).unwrap();
        assert_eq!(config.grpc_port, 50051);
        assert_eq!(config.subject_prefix.as_str(), "sportello");
        assert_eq!(config.retention, Duration::from_secs(7 * 86_400));
        assert_eq!(config.grpc_timeout_for("registry"), Duration::from_secs(5));
        assert_eq!(config.database_statement_timeout, Duration::from_secs(30));
        // No owner's URL: the service migrates a schema it owns, or only checks it.
        assert_eq!(config.database_migration_url, None);
    }

    #[test]
    fn timeouts_are_set_per_called_service() {
        let tls = tls_files("svc/routing");
        let env = env_with(
            &[
                ("DATABASE_URL", "postgres://h/db"),
                ("NATS_URL", "n"),
                ("GRPC_TIMEOUT", "3s"),
                ("GRPC_TIMEOUT_ROUTING", "800ms"),
            ],
            &tls,
        );
        let config = ServiceConfig::from_env(&env, PORTS).unwrap();
        assert_eq!(
            config.grpc_timeout_for("routing"),
            Duration::from_millis(800)
        );
        assert_eq!(config.grpc_timeout_for("registry"), Duration::from_secs(3));
    }

    #[test]
    fn a_service_presents_only_its_own_certificate() {
        let tls = tls_files("svc/gateway");
        let env = env_with(
            &[("DATABASE_URL", "postgres://h/db"), ("NATS_URL", "n")],
            &tls,
        );
        let config = ServiceConfig::from_env(&env, PORTS).unwrap();
        assert!(config.tls.identity_for("gateway").is_ok());
        let err = config.tls.identity_for("routing").unwrap_err().to_string();
        assert!(
            err.contains("TLS_CERT") && err.contains("svc/gateway"),
            "{err}"
        );
    }

    #[test]
    fn missing_certificates_name_the_variable() {
        let env = Env::from_pairs([("DATABASE_URL", "postgres://h/db"), ("NATS_URL", "n")]);
        let err = ServiceConfig::from_env(&env, PORTS).unwrap_err();
        assert!(err.to_string().starts_with("TLS_CERT is not set"), "{err}");
    }

    #[test]
    fn durations_have_units() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("7"), None);
        assert_eq!(parse_duration("x7s"), None);
    }

    #[test]
    fn subject_prefix_makes_subjects_and_streams() {
        let prefix: SubjectPrefix = "t_abc".parse().unwrap();
        assert_eq!(
            prefix.subject("registry.street.registered"),
            "t_abc.registry.street.registered"
        );
        assert_eq!(prefix.stream("registry"), "T_ABC_REGISTRY");
        assert!("Bad.prefix".parse::<SubjectPrefix>().is_err());
    }
}
