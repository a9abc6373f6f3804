//! Test helpers: a fresh database per test cloned from a migrated template, NATS
//! subjects and streams isolated per test, services started in-process on port 0 with a
//! manual clock and stepped workers.
//!
//! `make test` starts a private PostgreSQL and sets `SPORTELLO_TEST_DATABASE_URL` (a
//! maintenance database of that cluster) and `SPORTELLO_TEST_NATS_SERVER` (the
//! nats-server binary: each test context starts its own server, authentication on, see
//! [`nats`]) and `SPORTELLO_TEST_SMTPD_PYTHONPATH` (a private aiosmtpd: a test that
//! sends mail starts its own SMTP server, see [`smtp`]); tests never touch anything else.

#![allow(clippy::expect_used, clippy::panic)]

pub mod nats;
#[cfg(feature = "payments")]
pub mod pagopa;
pub mod pki;
pub mod smtp;

use std::{future::Future, sync::Once};

use jiff::Timestamp;
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection};
use tokio_util::sync::CancellationToken;

use crate::{
    Clock, ManualClock,
    config::{LogFormat, NatsAuth, ServiceConfig, SubjectPrefix, TlsSource, WorkerMode},
    db,
    service::{Listeners, Running, ServiceSpec, StartError},
};

/// The maintenance database of the private test cluster.
pub const DATABASE_URL_VAR: &str = "SPORTELLO_TEST_DATABASE_URL";

/// The instant manual clocks start at: a Thursday morning in Rome.
pub const TEST_START: &str = "2026-11-26T08:30:00Z";

fn required_var(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: run the tests with `make test`, which starts a private \
             PostgreSQL and NATS and sets it"
        )
    })
}

/// Installs a test log subscriber once per process (`RUST_LOG` filters it).
pub fn init_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = crate::telemetry::init("test", LogFormat::Text, None).map(std::mem::forget);
    });
}

/// A subject prefix no other test uses.
pub fn unique_prefix() -> SubjectPrefix {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
        .parse()
        .expect("generated prefixes are valid")
}

/// `url` pointing at database `name` instead.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// Creates a fresh database with every schema of `specs` migrated, cloned from a
/// template built once per set of migrations (shared by all test processes), and
/// returns its URL.
pub async fn fresh_database(specs: &[&'static ServiceSpec]) -> String {
    let admin_url = required_var(DATABASE_URL_VAR);
    let template = template_name(specs);
    let mut admin = PgConnection::connect(&admin_url)
        .await
        .expect("connect to the test cluster");

    if !database_exists(&mut admin, &template).await {
        let lock = db::advisory_key(&template);
        sqlx::query("select pg_advisory_lock($1)")
            .bind(lock)
            .execute(&mut admin)
            .await
            .expect("template lock");
        if !database_exists(&mut admin, &template).await {
            build_template(&mut admin, &admin_url, &template, specs).await;
        }
        sqlx::query("select pg_advisory_unlock($1)")
            .bind(lock)
            .execute(&mut admin)
            .await
            .expect("template unlock");
    }

    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let mut attempts = 0;
    loop {
        let created = sqlx::query(sqlx::AssertSqlSafe(format!(
            "create database {name} template {template} strategy file_copy"
        )))
        .execute(&mut admin)
        .await;
        match created {
            Ok(_) => break,
            // Another process may be copying the template this very moment.
            Err(error) if attempts < 50 => {
                attempts += 1;
                tracing::debug!(%error, "template busy; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(error) => panic!("cannot create test database: {error}"),
        }
    }
    with_database(&admin_url, &name)
}

fn template_name(specs: &[&'static ServiceSpec]) -> String {
    let mut hash = Sha256::new();
    for spec in specs {
        hash.update(spec.name.as_bytes());
        for migration in db::all_migrations(spec.migrator) {
            hash.update(migration.version.to_be_bytes());
            hash.update(&migration.checksum);
        }
    }
    let digest = hash.finalize();
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("tpl_{hex}")
}

async fn database_exists(admin: &mut PgConnection, name: &str) -> bool {
    sqlx::query_scalar::<_, bool>("select exists (select 1 from pg_database where datname = $1)")
        .bind(name)
        .fetch_one(admin)
        .await
        .expect("query pg_database")
}

async fn build_template(
    admin: &mut PgConnection,
    admin_url: &str,
    template: &str,
    specs: &[&'static ServiceSpec],
) {
    let building = format!("{template}_building");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "drop database if exists {building}"
    )))
    .execute(&mut *admin)
    .await
    .expect("drop half-built template");
    sqlx::query(sqlx::AssertSqlSafe(format!("create database {building}")))
        .execute(&mut *admin)
        .await
        .expect("create template");
    let url = with_database(admin_url, &building);
    for spec in specs {
        let pool = db::connect(
            &url,
            spec.name,
            1,
            std::time::Duration::from_secs(10),
            std::time::Duration::from_secs(60),
        )
        .await
        .expect("connect to template");
        db::migrate(&pool, spec.name, spec.migrator)
            .await
            .unwrap_or_else(|e| panic!("migrate {} into the template: {e}", spec.name));
        pool.close().await;
    }
    // Renaming publishes the template whole: other processes only ever see a finished one.
    let mut attempts = 0;
    while let Err(error) = sqlx::query(sqlx::AssertSqlSafe(format!(
        "alter database {building} rename to {template}"
    )))
    .execute(&mut *admin)
    .await
    {
        attempts += 1;
        assert!(attempts < 50, "cannot publish the template: {error}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Everything a test needs to start services: a fresh database, a NATS server of its own
/// with a user per service, a unique NATS prefix, a manual clock and manual workers.
#[derive(Debug, Clone)]
pub struct TestContext {
    /// The configuration to start services with.
    pub config: ServiceConfig,
    /// Moves the services' clock.
    pub clock: ManualClock,
    /// The test's NATS server.
    pub nats: std::sync::Arc<nats::TestNats>,
}

impl TestContext {
    /// A context whose database holds the schemas of `specs`, and whose NATS server has
    /// a user for each of them.
    pub async fn new(specs: &[&'static ServiceSpec]) -> Self {
        init_logging();
        let database_url = fresh_database(specs).await;
        let subject_prefix = unique_prefix();
        let nats = std::sync::Arc::new(nats::TestNats::start(specs, &subject_prefix).await);
        let start: Timestamp = TEST_START.parse().expect("valid start instant");
        let (clock, hand) = Clock::manual(start);
        let config = ServiceConfig {
            database_url,
            database_migration_url: None,
            database_max_connections: 5,
            database_connect_timeout: std::time::Duration::from_secs(10),
            nats_url: nats.url().to_owned(),
            nats_auth: NatsAuth::Test(nats.clone()),
            subject_prefix,
            stream_replicas: 1,
            listen_host: std::net::IpAddr::from([127, 0, 0, 1]),
            grpc_port: 0,
            metrics_port: 0,
            http_port: 0,
            otlp_endpoint: None,
            log_format: LogFormat::Text,
            outbox_poll_interval: std::time::Duration::from_millis(50),
            retention: std::time::Duration::from_secs(7 * 86_400),
            retention_periods: crate::retention::Periods::default(),
            workers: WorkerMode::Manual,
            clock,
            tls: TlsSource::Test,
            grpc_timeout: std::time::Duration::from_secs(10),
            grpc_timeouts: std::collections::HashMap::new(),
            database_statement_timeout: std::time::Duration::from_secs(30),
        };
        Self {
            config,
            clock: hand,
            nats,
        }
    }

    /// The same context with background workers (for tests of the running system).
    pub fn with_background_workers(mut self) -> Self {
        self.config.workers = WorkerMode::Background;
        self
    }

    /// A NATS client for the test's own subscriptions, as the harness (allowed
    /// everything: it plays every party the test does not start).
    pub async fn nats(&self) -> async_nats::Client {
        self.nats.connect_as(nats::HARNESS_USER).await
    }

    /// A NATS client as `service`'s own user, with exactly its permissions.
    pub async fn nats_as(&self, service: &str) -> async_nats::Client {
        self.nats.connect_as(service).await
    }

    /// `NATS_URL` for a `service` binary the test starts: its user and password in it.
    pub fn nats_url_for(&self, service: &str) -> String {
        self.nats.url_for(service)
    }
}

/// A service started for a test; stops when dropped.
#[derive(Debug)]
pub struct TestService {
    /// The running service.
    pub running: Running,
    name: &'static str,
    shutdown: CancellationToken,
    _stop_on_drop: tokio_util::sync::DropGuard,
}

impl TestService {
    /// Starts a service with `start` on port-0 listeners and waits for its streams.
    pub async fn start<C, F, Fut>(spec: &'static ServiceSpec, config: C, start: F) -> Self
    where
        F: FnOnce(C, Listeners, CancellationToken) -> Fut,
        Fut: Future<Output = Result<Running, StartError>>,
    {
        let listeners = Listeners::ephemeral(spec).await.expect("bind port 0");
        let shutdown = CancellationToken::new();
        let running = start(config, listeners, shutdown.clone())
            .await
            .unwrap_or_else(|e| panic!("{} did not start: {e}", spec.name));
        running.streams_ready().await;
        Self {
            running,
            name: spec.name,
            _stop_on_drop: shutdown.clone().drop_guard(),
            shutdown,
        }
    }

    /// The service's name (its certificate's DNS name).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// `https://127.0.0.1:<port>` of the gRPC server.
    pub fn grpc_url(&self) -> String {
        format!("https://{}", self.running.grpc_addr)
    }

    /// A channel to the gRPC server, as the gateway (the caller most RPCs admit).
    pub async fn channel(&self) -> crate::trust::PeerChannel {
        self.channel_as("svc/gateway").await
    }

    /// A channel to the gRPC server as `peer` (`svc/registry`, `system/x`, `tool/cli`),
    /// with a certificate from the tests' authority.
    pub async fn channel_as(&self, peer: &str) -> crate::trust::PeerChannel {
        crate::trust::PeerChannel::connect(
            &pki::identity(peer),
            self.name,
            &self.grpc_url(),
            std::time::Duration::from_secs(30),
        )
        .await
        .expect("connect to the service")
    }

    /// Handles what the consumer whose durable name ends with `consumer` has, waiting up
    /// to two seconds for the first message: a pull consumer may see a message JetStream
    /// has just stored only a moment later, so one empty fetch is no answer. A test that
    /// expects nothing to arrive uses [`exchange`] instead.
    pub async fn step(&self, consumer: &str) -> Vec<crate::inbox::Outcome> {
        for _ in 0..80 {
            let outcomes = self.fetch_once(consumer).await;
            if !outcomes.is_empty() {
                return outcomes;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        Vec::new()
    }

    /// Handles what one fetch of the consumer brings, perhaps nothing.
    async fn fetch_once(&self, consumer: &str) -> Vec<crate::inbox::Outcome> {
        self.running
            .workers
            .consumers
            .iter()
            .find(|c| c.durable_name().ends_with(consumer))
            .unwrap_or_else(|| panic!("{} has no consumer {consumer}", self.name))
            .run_once(50)
            .await
            .expect("step the consumer")
    }

    /// Stops the service in its shutdown order and waits until it has stopped.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.running.wait().await;
    }
}

/// Passes events between in-process services until nothing moves. A round publishes
/// every listed service's outbox before each step of a listed consumer (a service and
/// the end of a durable name). It ends after three quiet rounds a little apart: a pull
/// consumer may see a message JetStream has just stored only a moment later, so one
/// empty fetch does not mean nothing is coming.
pub async fn exchange(route: &[(&TestService, &str)]) {
    const QUIET_ROUNDS: usize = 3;
    const MAX_ROUNDS: usize = 200;
    let mut quiet = 0;
    for _ in 0..MAX_ROUNDS {
        let mut moved = 0;
        for (service, consumer) in route {
            for (relaying, _) in route {
                moved += relaying
                    .running
                    .workers
                    .relay
                    .run_once()
                    .await
                    .expect("relay the outbox")
                    .published;
            }
            // A handler that fails is retried later, by JetStream's delay: not progress.
            moved += service
                .fetch_once(consumer)
                .await
                .iter()
                .filter(|o| **o != crate::inbox::Outcome::WillRetry)
                .count();
        }
        if moved > 0 {
            quiet = 0;
            continue;
        }
        quiet += 1;
        if quiet == QUIET_ROUNDS {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("events kept moving after {MAX_ROUNDS} rounds");
}

/// A way to spoil one field of a valid request, and the field the error must name.
pub type Spoil<R> = (&'static str, fn(&mut R));

/// Checks that each spoiled copy of `valid` is refused with INVALID_ARGUMENT naming the
/// spoiled field, and that `valid` itself parses.
pub fn assert_each_bad_field_is_named<R: Clone, T>(
    valid: &R,
    parse: impl Fn(&R) -> Result<T, crate::ServiceError>,
    spoils: &[Spoil<R>],
) {
    assert!(parse(valid).is_ok(), "the valid request parses");
    for (field, spoil) in spoils {
        let mut bad = valid.clone();
        spoil(&mut bad);
        match parse(&bad) {
            Ok(_) => panic!("a request with a bad {field} was accepted"),
            Err(error) => {
                assert_eq!(error.kind(), crate::ErrorKind::InvalidArgument, "{error}");
                assert_eq!(error.violations()[0].field, *field, "{error}");
            }
        }
    }
}

/// A database handle on `pool` reading `clock`: for a test that needs more connections
/// than a test service's own pool (many callers racing through one flow).
pub fn db_with(pool: sqlx::PgPool, clock: Clock) -> crate::Db {
    crate::Db::new(pool, clock)
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_of_a_url() {
        assert_eq!(
            with_database("postgres://u@127.0.0.1:5433/postgres", "x"),
            "postgres://u@127.0.0.1:5433/x"
        );
        assert_eq!(
            with_database("postgres://u@h:1/postgres?sslmode=disable", "x"),
            "postgres://u@h:1/x?sslmode=disable"
        );
    }
}
