//! A service's life: start (database, migrations, NATS), serve (gRPC with health and
//! reflection, metrics, optional HTTP, background workers), and stop in a fixed order.
//!
//! Shutdown order, on SIGTERM/SIGINT or when the caller's token is cancelled:
//! 1. readiness turns NOT_SERVING, so load balancers stop sending new calls;
//! 2. consumers stop pulling messages (the one in hand is finished and acknowledged);
//! 3. the gRPC and HTTP servers stop accepting and drain in-flight requests;
//! 4. the outbox relay makes a last pass, timers and purge stop, metrics stop;
//! 5. telemetry is flushed ([`main`] does it after [`Running::wait`]); the process exits 0.

use std::{
    collections::HashMap, future::Future, net::SocketAddr, process::ExitCode, sync::Arc,
    time::Duration,
};

use async_nats::jetstream;
use sqlx::migrate::Migrator;
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tonic_health::{ServingStatus, server::HealthReporter};

use crate::{
    Clock,
    config::{ConfigError, DefaultPorts, Env, ServiceConfig, WorkerMode},
    db::{self, DbError},
    inbox::{Consumer, ConsumerSpec, EventHandler},
    janitor::Janitor,
    nats::{self, DEAD_LETTER_STREAM, NatsUrlError, StreamSpec},
    nats_auth::Subscription,
    outbox::Relay,
    retention::RetentionRule,
    server::{self, Api, health_names},
    telemetry::{self, TelemetryError},
    timers::{TimerHandler, TimerWorker},
    uow::Db,
};

/// What makes a service itself: its name (also its schema and its subjects' first
/// token), ports, migrations and streams.
#[derive(Debug)]
pub struct ServiceSpec {
    /// `registry`, `routing`, …
    pub name: &'static str,
    /// Default ports.
    pub ports: DefaultPorts,
    /// The service's own migrations (`sqlx::migrate!()`).
    pub migrator: &'static Migrator,
    /// The streams it owns (it publishes on their subjects).
    pub streams: &'static [StreamSpec],
    /// The durable consumers it runs ([`Service::consume`] refuses any other): a
    /// function, so a service may build them from a table.
    pub consumers: fn() -> Vec<ConsumerSpec>,
    /// Its subscriptions outside the kit's consumers (live boards, ordered views).
    pub subscriptions: &'static [Subscription],
    /// Whether it serves HTTP besides gRPC (the gateway).
    pub serves_http: bool,
    /// Who may call which of its RPCs, and who may act for a person there.
    pub policy: &'static crate::trust::Policy,
}

impl ServiceSpec {
    /// Reads the common configuration with this service's default ports.
    pub fn config_from_env(&self, env: &Env) -> Result<ServiceConfig, ConfigError> {
        let config = ServiceConfig::from_env(env, self.ports)?;
        // A certificate naming another peer is a configuration error, found before start.
        config.tls.identity_for(self.name)?;
        Ok(config)
    }
}

/// Why a service could not start. Each message is one line an operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A port is taken or not allowed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The database is unreachable or a migration failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// `NATS_URL` is malformed.
    #[error(transparent)]
    Nats(#[from] NatsUrlError),
    /// The OTLP exporter could not be built.
    #[error(transparent)]
    Telemetry(#[from] TelemetryError),
    /// The reflection service could not be built from the descriptors.
    #[error("gRPC reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// A service-specific start-up step failed.
    #[error("{0}")]
    Other(String),
}

/// The sockets a service serves on, bound before it starts so the real ports are known
/// (tests bind port 0).
#[derive(Debug)]
pub struct Listeners {
    /// gRPC.
    pub grpc: TcpListener,
    /// Prometheus metrics.
    pub metrics: TcpListener,
    /// HTTP, for services that serve it.
    pub http: Option<TcpListener>,
}

impl Listeners {
    /// Binds the configured ports.
    pub async fn bind(spec: &ServiceSpec, config: &ServiceConfig) -> Result<Self, StartError> {
        let host = config.listen_host;
        Ok(Self {
            grpc: bind(SocketAddr::new(host, config.grpc_port)).await?,
            metrics: bind(SocketAddr::new(host, config.metrics_port)).await?,
            http: if spec.serves_http {
                Some(bind(SocketAddr::new(host, config.http_port)).await?)
            } else {
                None
            },
        })
    }

    /// Binds port 0 everywhere on 127.0.0.1 (tests).
    pub async fn ephemeral(spec: &ServiceSpec) -> Result<Self, StartError> {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Ok(Self {
            grpc: bind(any).await?,
            metrics: bind(any).await?,
            http: if spec.serves_http {
                Some(bind(any).await?)
            } else {
                None
            },
        })
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })
}

/// A started service, before it serves: add timer handlers and consumers, then
/// [`Service::serve`].
pub struct Service {
    spec: &'static ServiceSpec,
    config: ServiceConfig,
    identity: crate::trust::TlsIdentity,
    db: Db,
    nats: async_nats::Client,
    js: jetstream::Context,
    timer_handlers: HashMap<String, Arc<dyn TimerHandler>>,
    consumers: Vec<Arc<Consumer>>,
    undeclared: Vec<String>,
    retention_rules: Vec<RetentionRule>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("name", &self.spec.name)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// Connects to PostgreSQL (waiting for it up to `DATABASE_CONNECT_TIMEOUT`), migrates the service's schema,
    /// and connects to NATS in the background.
    pub async fn start(
        spec: &'static ServiceSpec,
        config: ServiceConfig,
    ) -> Result<Self, StartError> {
        crate::metrics::install();
        let identity = config.tls.identity_for(spec.name)?;
        // A configuration built in code (tests, tools) is held to the same invariant as
        // one read from the environment.
        config.retention_periods.check_events(config.retention)?;
        let pool = db::connect(
            &config.database_url,
            spec.name,
            config.database_max_connections,
            config.database_connect_timeout,
            config.database_statement_timeout,
        )
        .await?;
        prepare_schema(spec, &config, &pool).await?;
        let credentials = config
            .nats_auth
            .credentials_for(&config.nats_url, spec.name)?;
        let nats = nats::connect(&config.nats_url, spec.name, credentials).await?;
        let js = jetstream::new(nats.clone());
        tracing::info!(service = spec.name, "database ready, schema migrated");
        Ok(Self {
            spec,
            db: Db::new(pool, config.clock.clone()),
            config,
            identity,
            nats,
            js,
            timer_handlers: HashMap::new(),
            consumers: Vec::new(),
            undeclared: Vec::new(),
            retention_rules: Vec::new(),
        })
    }

    /// The database handle.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.config.clock
    }

    /// The configuration.
    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// This service's TLS identity (its certificate names `svc/<name>`).
    pub fn identity(&self) -> &crate::trust::TlsIdentity {
        &self.identity
    }

    /// A channel to the service called `peer` at `url` (`https://…`), as this service,
    /// with the configured deadline for calls to it.
    pub fn channel_to(
        &self,
        peer: &str,
        url: &str,
    ) -> Result<crate::trust::PeerChannel, crate::trust::ChannelError> {
        crate::trust::PeerChannel::lazy(
            &self.identity,
            peer,
            url,
            self.config.grpc_timeout_for(peer),
        )
    }

    /// The NATS client (for live, non-durable subscriptions such as a display board's).
    pub fn nats(&self) -> &async_nats::Client {
        &self.nats
    }

    /// Hands the janitor the service's retention rules (its `retention.rs`), applied on
    /// each pass after the kit's own purge.
    pub fn retain(&mut self, rules: &[RetentionRule]) {
        self.retention_rules.extend_from_slice(rules);
    }

    /// Fires timers of `kind` with `handler`.
    pub fn on_timer(&mut self, kind: &str, handler: impl TimerHandler) {
        self.timer_handlers
            .insert(kind.to_owned(), Arc::new(handler));
    }

    /// Consumes events with `handler`. The consumer must be one of the spec's
    /// `consumers`, where its NATS permissions come from: [`Service::serve`] refuses to
    /// start otherwise, rather than run a consumer the server will refuse.
    pub fn consume(&mut self, spec: ConsumerSpec, handler: impl EventHandler) {
        let declared = (self.spec.consumers)().iter().any(|c| {
            c.name == spec.name && c.stream_part == spec.stream_part && c.subjects == spec.subjects
        });
        if !declared {
            self.undeclared.push(spec.name.to_owned());
        }
        self.consumers.push(Arc::new(Consumer::new(
            spec,
            self.spec.name,
            self.db.clone(),
            self.js.clone(),
            self.config.subject_prefix.clone(),
            Arc::new(handler),
        )));
    }

    /// Serves `api` on `listeners` until `shutdown` is cancelled.
    pub async fn serve(
        self,
        api: Api,
        listeners: Listeners,
        shutdown: CancellationToken,
    ) -> Result<Running, StartError> {
        let Self {
            spec,
            config,
            identity,
            db,
            js,
            timer_handlers,
            consumers,
            undeclared,
            retention_rules,
            ..
        } = self;
        if !undeclared.is_empty() {
            return Err(StartError::Other(format!(
                "consumatori non dichiarati in ServiceSpec.consumers, NATS li rifiuterebbe / \
                 consumers not declared in ServiceSpec.consumers, NATS would refuse them: {}",
                undeclared.join(", ")
            )));
        }
        let (routes, names, health, http) = api.finish()?;
        health
            .set_service_status(health_names::LIVENESS, ServingStatus::Serving)
            .await;
        server::set_readiness(&health, &names, ServingStatus::Serving).await;

        let addr = |l: &TcpListener| {
            l.local_addr().map_err(|source| StartError::Bind {
                addr: SocketAddr::from(([0, 0, 0, 0], 0)),
                source,
            })
        };
        let grpc_addr = addr(&listeners.grpc)?;
        let metrics_addr = addr(&listeners.metrics)?;
        let http_addr = listeners.http.as_ref().map(addr).transpose()?;

        let workers = Workers {
            relay: Arc::new(Relay::new(
                db.clone(),
                js.clone(),
                config.subject_prefix.clone(),
                spec.name,
            )),
            timers: Arc::new(TimerWorker::new(db.clone(), timer_handlers)),
            janitor: Arc::new(Janitor::new(
                db.clone(),
                config.retention,
                config.retention_periods.clone(),
                retention_rules,
            )),
            consumers,
        };

        // Streams: set up in the background, retried while NATS is away.
        let stream_configs: Vec<_> = spec
            .streams
            .iter()
            .chain([&DEAD_LETTER_STREAM])
            .map(|s| {
                nats::stream_config_kept(
                    &config.subject_prefix,
                    s,
                    config.stream_replicas,
                    config.retention_periods.events,
                )
            })
            .collect();
        let (streams_ready_tx, streams_ready) = watch::channel(false);
        let background = CancellationToken::new();
        {
            let js = js.clone();
            let token = background.clone();
            tokio::spawn(async move {
                if nats::ensure_streams(&js, &stream_configs, &token).await {
                    let _ = streams_ready_tx.send(true);
                }
            });
        }

        let consumer_token = CancellationToken::new();
        let mut consumer_tasks = Vec::new();
        let mut worker_tasks = Vec::new();
        if config.workers == WorkerMode::Background {
            for consumer in &workers.consumers {
                consumer_tasks.push(tokio::spawn(consumer.clone().run(consumer_token.clone())));
            }
            worker_tasks.push(tokio::spawn(
                workers
                    .relay
                    .clone()
                    .run(config.outbox_poll_interval, background.clone()),
            ));
            worker_tasks.push(tokio::spawn(
                workers
                    .timers
                    .clone()
                    .run(Duration::from_secs(1), background.clone()),
            ));
            worker_tasks.push(tokio::spawn(
                workers.janitor.clone().run(background.clone()),
            ));
        }
        let probes = crate::metrics::Probes::default();
        worker_tasks.push(tokio::spawn(watch_readiness(
            db.clone(),
            health.clone(),
            names.clone(),
            probes.clone(),
            shutdown.clone(),
        )));
        worker_tasks.push(tokio::spawn(serve_http(
            listeners.metrics,
            crate::metrics::router(probes.clone()),
            background.clone(),
        )));

        let stop_servers = CancellationToken::new();
        let trace = tower_http::trace::TraceLayer::new_for_grpc()
            .make_span_with(grpc_span)
            .on_failure(LogGrpcFailure);
        let gate = crate::trust::GateLayer(crate::trust::Gate::new(spec.name, spec.policy));
        let grpc_task = tokio::spawn(
            tonic::transport::Server::builder()
                .tls_config(identity.server_config())
                .map_err(|e| StartError::Other(format!("TLS: {e}")))?
                .layer(trace)
                .layer(gate)
                .layer(crate::server::RequestErrorsLayer)
                .add_routes(routes)
                .serve_with_incoming_shutdown(
                    tonic::transport::server::TcpIncoming::from(listeners.grpc)
                        .with_nodelay(Some(true)),
                    stop_servers.clone().cancelled_owned(),
                ),
        );
        let http_task = match (http, listeners.http) {
            (Some(router), Some(listener)) => Some(tokio::spawn(serve_http(
                listener,
                router,
                stop_servers.clone(),
            ))),
            _ => None,
        };
        tracing::info!(service = spec.name, %grpc_addr, %metrics_addr, http = ?http_addr, "serving");

        let health_for_stop = health.clone();
        let done = tokio::spawn(async move {
            shutdown.cancelled().await;
            tracing::info!(service = spec.name, "shutting down");
            probes.set_stopping();
            server::set_readiness(&health_for_stop, &names, ServingStatus::NotServing).await;
            consumer_token.cancel();
            for task in consumer_tasks {
                let _ = task.await;
            }
            stop_servers.cancel();
            match grpc_task.await {
                Ok(Err(error)) => tracing::error!(%error, "gRPC server stopped with an error"),
                Err(error) => tracing::error!(%error, "gRPC server task failed"),
                Ok(Ok(())) => {}
            }
            if let Some(task) = http_task {
                let _ = task.await;
            }
            background.cancel();
            for task in worker_tasks {
                let _ = task.await;
            }
            tracing::info!(service = spec.name, "stopped");
        });

        Ok(Running {
            grpc_addr,
            metrics_addr,
            http_addr,
            workers,
            health,
            streams_ready,
            db,
            done,
        })
    }
}

fn grpc_span(request: &http::Request<tonic::body::Body>) -> tracing::Span {
    let span = tracing::info_span!("grpc", method = %request.uri().path());
    let parent = crate::propagation::extract_from_headers(request.headers());
    let _ = tracing_opentelemetry::OpenTelemetrySpanExt::set_parent(&span, parent);
    span
}

/// Logs a failed gRPC call at the level of whose fault it was ([`failure_level`]).
#[derive(Debug, Clone, Copy)]
struct LogGrpcFailure;

impl tower_http::trace::OnFailure<tower_http::classify::GrpcFailureClass> for LogGrpcFailure {
    fn on_failure(
        &mut self,
        class: tower_http::classify::GrpcFailureClass,
        latency: Duration,
        _span: &tracing::Span,
    ) {
        use tower_http::classify::GrpcFailureClass;
        let latency_ms = latency.as_millis();
        let status = match class {
            GrpcFailureClass::Status(status) => status,
            other => {
                tracing::error!(failure = %other, latency_ms, "gRPC call failed");
                return;
            }
        };
        let code = tonic::Code::from_i32(status.code_raw());
        match failure_level(code) {
            tracing::Level::ERROR => tracing::error!(?code, latency_ms, "gRPC call failed"),
            tracing::Level::WARN => tracing::warn!(?code, latency_ms, "gRPC call refused"),
            _ => tracing::debug!(?code, latency_ms, "gRPC call answered"),
        }
    }
}

/// A code the client caused (a record that does not exist, a bad argument, a refused
/// state change, a conflict to retry) is an answer, not a fault of this server: DEBUG. A
/// refused identity or an exhausted quota is worth a look, as is a dependency that was
/// unavailable or slow: WARN. Only what this server got wrong is an ERROR.
fn failure_level(code: tonic::Code) -> tracing::Level {
    use tonic::Code;
    match code {
        Code::NotFound
        | Code::InvalidArgument
        | Code::FailedPrecondition
        | Code::AlreadyExists
        | Code::OutOfRange
        | Code::Aborted
        | Code::Cancelled => tracing::Level::DEBUG,
        Code::PermissionDenied
        | Code::Unauthenticated
        | Code::ResourceExhausted
        | Code::Unavailable
        | Code::DeadlineExceeded => tracing::Level::WARN,
        Code::Ok | Code::Unknown | Code::Internal | Code::Unimplemented | Code::DataLoss => {
            tracing::Level::ERROR
        }
    }
}

#[cfg(test)]
mod failure_level_tests {
    use super::failure_level;
    use tonic::Code::*;
    use tracing::Level;

    #[test]
    fn codes_a_client_causes_are_not_errors() {
        for code in [
            NotFound,
            InvalidArgument,
            FailedPrecondition,
            AlreadyExists,
            OutOfRange,
            Aborted,
            Cancelled,
        ] {
            assert_eq!(failure_level(code), Level::DEBUG, "{code:?}");
        }
        for code in [
            PermissionDenied,
            Unauthenticated,
            ResourceExhausted,
            Unavailable,
            DeadlineExceeded,
        ] {
            assert_eq!(failure_level(code), Level::WARN, "{code:?}");
        }
    }

    #[test]
    fn faults_of_the_server_are_errors() {
        for code in [Internal, Unknown, DataLoss, Unimplemented] {
            assert_eq!(failure_level(code), Level::ERROR, "{code:?}");
        }
    }
}

async fn serve_http(listener: TcpListener, router: axum::Router, stop: CancellationToken) {
    let router = router.layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(
        |request: &http::Request<axum::body::Body>| {
            let span = tracing::info_span!("http", method = %request.method(), path = %request.uri().path());
            let parent = crate::propagation::extract_from_headers(request.headers());
            let _ = tracing_opentelemetry::OpenTelemetrySpanExt::set_parent(&span, parent);
            span
        },
    ));
    // The peer's address rides along for handlers that count by network source (the
    // public booking page's caps).
    let router = router.into_make_service_with_connect_info::<SocketAddr>();
    if let Err(error) = axum::serve(listener, router)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
    {
        tracing::error!(%error, "HTTP server stopped with an error");
    }
}

/// Readiness follows the database: checked every 5 s, until shutdown begins (from then
/// on readiness stays NOT_SERVING, whatever the database does).
async fn watch_readiness(
    db: Db,
    health: HealthReporter,
    names: Vec<&'static str>,
    probes: crate::metrics::Probes,
    stop: CancellationToken,
) {
    let mut ready = true;
    probes.set_ready(true);
    loop {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
            () = stop.cancelled() => return,
        }
        let ping = tokio::time::timeout(
            Duration::from_secs(2),
            sqlx::query("select 1").execute(db.pool()),
        )
        .await;
        let now_ready = matches!(ping, Ok(Ok(_)));
        if now_ready != ready && !stop.is_cancelled() {
            ready = now_ready;
            if ready {
                tracing::info!("database reachable again: ready");
            } else {
                tracing::warn!("database unreachable: not ready");
            }
            let status = if ready {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            probes.set_ready(ready);
            server::set_readiness(&health, &names, status).await;
        }
    }
}

/// The schema ready for this release: migrated as its owner when the owner's URL is
/// given, then granted to the service's own role; otherwise migrated by, or only checked
/// for, the service's role ([`db::migrate`]).
async fn prepare_schema(
    spec: &ServiceSpec,
    config: &ServiceConfig,
    pool: &sqlx::PgPool,
) -> Result<(), DbError> {
    let Some(owner_url) = &config.database_migration_url else {
        return db::migrate(pool, spec.name, spec.migrator).await;
    };
    let role = db::current_role(pool).await?;
    let owner = db::connect(
        owner_url,
        spec.name,
        1,
        config.database_connect_timeout,
        MIGRATION_STATEMENT_TIMEOUT,
    )
    .await?;
    let migrated = db::migrate_as_owner(&owner, spec.name, spec.migrator, &role).await;
    // The owner's connection is not kept: the running service holds no owner session.
    owner.close().await;
    migrated
}

/// A migration may rebuild an index on a large table: far longer than a request's
/// statement may take.
const MIGRATION_STATEMENT_TIMEOUT: Duration = Duration::from_secs(3600);

/// `sportello-<service> migrate`: migrates the service's schema as its owner
/// (`DATABASE_MIGRATION_URL`) and grants the service's role (`DATABASE_SERVICE_ROLE`), then
/// exits — the init step of a deployment, so the running service never holds the owner's
/// credentials. Exits 0 when done, 2 on a configuration error, 1 when migrating failed.
pub async fn migrate_main(spec: &'static ServiceSpec, env: &Env) -> ExitCode {
    let program = format!("sportello-{} migrate", spec.name);
    let parsed = (|| {
        let url: String = env.required(
            "DATABASE_MIGRATION_URL",
            "l'URL PostgreSQL del ruolo proprietario dello schema / the PostgreSQL URL of \
             the schema's owner role",
        )?;
        let role: String = env.required(
            "DATABASE_SERVICE_ROLE",
            "il ruolo con cui il servizio si collega / the role the service connects as",
        )?;
        let patience = env.duration_or("DATABASE_CONNECT_TIMEOUT", Duration::from_secs(30))?;
        let log_format = env.or("LOG_FORMAT", crate::config::LogFormat::Text)?;
        Ok::<_, ConfigError>((url, role, patience, log_format))
    })();
    let (url, role, patience, log_format) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            eprintln!("{program}: errore di configurazione / configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    // Logs only (no traces): the waits for PostgreSQL show in the init container's log.
    let mut telemetry = match telemetry::init(spec.name, log_format, None) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("{program}: errore di configurazione / configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    let result = async {
        let owner = db::connect(&url, spec.name, 1, patience, MIGRATION_STATEMENT_TIMEOUT).await?;
        let migrated = db::migrate_as_owner(&owner, spec.name, spec.migrator, &role).await;
        owner.close().await;
        migrated
    }
    .await;
    telemetry.shutdown().await;
    match result {
        Ok(()) => {
            eprintln!(
                "{program}: schema {} migrato, ruolo {role} abilitato / schema migrated, role granted",
                spec.name
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{program}: {error}");
            ExitCode::from(1)
        }
    }
}

/// The background workers of a running service, which tests step by hand.
#[derive(Debug, Clone)]
pub struct Workers {
    /// The outbox relay.
    pub relay: Arc<Relay>,
    /// The timer worker.
    pub timers: Arc<TimerWorker>,
    /// The purge worker.
    pub janitor: Arc<Janitor>,
    /// The event consumers, in the order they were added.
    pub consumers: Vec<Arc<Consumer>>,
}

/// A serving service.
#[derive(Debug)]
pub struct Running {
    /// Where gRPC is served.
    pub grpc_addr: SocketAddr,
    /// Where `/metrics` is served.
    pub metrics_addr: SocketAddr,
    /// Where HTTP is served, for services that serve it.
    pub http_addr: Option<SocketAddr>,
    /// The workers (stepped by tests in [`WorkerMode::Manual`]).
    pub workers: Workers,
    /// The health reporter.
    pub health: HealthReporter,
    streams_ready: watch::Receiver<bool>,
    db: Db,
    done: JoinHandle<()>,
}

impl Running {
    /// Waits until the service's streams exist (tests wait before publishing).
    pub async fn streams_ready(&self) {
        let mut ready = self.streams_ready.clone();
        let _ = ready.wait_for(|ready| *ready).await;
    }

    /// The database handle (tests inspect state through it).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Waits until the service has stopped.
    pub async fn wait(self) {
        if let Err(error) = self.done.await {
            tracing::error!(%error, "shutdown task failed");
        }
    }
}

/// Runs a service binary: configuration, telemetry, listeners, signals, and the exit code.
/// A configuration error prints one line naming the variable and exits 2; a start-up
/// failure prints one line and exits 1; a clean shutdown exits 0.
pub async fn main<C, Parse, Start, Fut>(
    spec: &'static ServiceSpec,
    parse: Parse,
    start: Start,
) -> ExitCode
where
    C: AsRef<ServiceConfig>,
    Parse: FnOnce(&Env) -> Result<C, ConfigError>,
    Start: FnOnce(C, Listeners, CancellationToken) -> Fut,
    Fut: Future<Output = Result<Running, StartError>>,
{
    let program = format!("sportello-{}", spec.name);
    let env = Env::from_process();
    // `sportello-<service> verify-audit` and `archive-audit` (the audit chains); any other
    // start refuses an AUDIT_RETENTION shorter than six months.
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    if let Some(code) = crate::audit::command::dispatch(spec, &env, &args).await {
        return code;
    }
    // `sportello-<service> migrate`: the deployment's init step, nothing else.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|arg| arg == "migrate")
    {
        return migrate_main(spec, &env).await;
    }
    // `sportello-<service> discard-proposals`: the archivist's list, as CSV.
    if std::env::args().nth(1).as_deref() == Some(DISCARD_PROPOSALS_COMMAND) {
        return discard_proposals_main(spec, &env).await;
    }
    // `sportello-<name> nats-permissions`: the NATS user this build needs, for
    // sportello-nats-auth to render the server's configuration from (one source: the spec).
    if std::env::args().nth(1).as_deref() == Some(NATS_PERMISSIONS_COMMAND) {
        return print_nats_permissions(spec, &program);
    }
    let config = match parse(&env) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{program}: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    let common = config.as_ref();
    let mut telemetry = match telemetry::init(
        spec.name,
        common.log_format,
        common.otlp_endpoint.as_deref(),
    ) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("{program}: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    let listeners = match Listeners::bind(spec, common).await {
        Ok(listeners) => listeners,
        Err(error) => {
            eprintln!("{program}: {error}");
            return ExitCode::from(1);
        }
    };
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    match start(config, listeners, shutdown).await {
        Ok(running) => {
            running.wait().await;
            telemetry.shutdown().await;
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "start-up failed");
            eprintln!("{program}: {error}");
            telemetry.shutdown().await;
            ExitCode::from(1)
        }
    }
}

/// The argument that makes a service binary print its proposals of discard and exit.
pub const DISCARD_PROPOSALS_COMMAND: &str = "discard-proposals";

/// `sportello-<service> discard-proposals`: prints the service's proposals of discard
/// (archival records past their term in the piano di conservazione) as CSV on stdout, for
/// the archivist to check and submit to the archival superintendence (D.Lgs 42/2004
/// art. 21). Reads as the service's role (`DATABASE_URL`); changes nothing. Exits 0 when
/// printed, 2 on a configuration error, 1 when the database could not be read.
pub async fn discard_proposals_main(spec: &'static ServiceSpec, env: &Env) -> ExitCode {
    let program = format!("sportello-{} {DISCARD_PROPOSALS_COMMAND}", spec.name);
    let parsed = (|| {
        let url: String = env.required(
            "DATABASE_URL",
            "l'URL PostgreSQL del servizio / the service's PostgreSQL URL",
        )?;
        let patience = env.duration_or("DATABASE_CONNECT_TIMEOUT", Duration::from_secs(30))?;
        Ok::<_, ConfigError>((url, patience))
    })();
    let (url, patience) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            eprintln!("{program}: errore di configurazione / configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    let listed = async {
        let pool = db::connect(&url, spec.name, 1, patience, Duration::from_secs(60)).await?;
        let proposals = crate::janitor::discard_proposals(&pool).await;
        pool.close().await;
        Ok::<_, DbError>(proposals?)
    }
    .await;
    match listed {
        Ok(proposals) => {
            use std::io::Write;
            let csv = crate::janitor::proposals_csv(&proposals);
            let mut out = std::io::stdout().lock();
            match out.write_all(csv.as_bytes()).and_then(|()| out.flush()) {
                Ok(()) => {
                    eprintln!(
                        "{program}: {} proposte di scarto / discard proposals",
                        proposals.len()
                    );
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("{program}: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(error) => {
            eprintln!("{program}: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The argument that makes a service binary print its NATS permissions and exit.
pub const NATS_PERMISSIONS_COMMAND: &str = "nats-permissions";

/// Prints the service's [`crate::NatsPermissions`] as JSON for `NATS_SUBJECT_PREFIX`
/// (default `sportello`).
fn print_nats_permissions(spec: &ServiceSpec, program: &str) -> ExitCode {
    let prefix = match Env::from_process().or(
        "NATS_SUBJECT_PREFIX",
        crate::config::SubjectPrefix::default(),
    ) {
        Ok(prefix) => prefix,
        Err(error) => {
            eprintln!("{program}: errore di configurazione / configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    let permissions = crate::NatsPermissions::of(spec, &prefix);
    match serde_json::to_string(&permissions) {
        Ok(json) => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            match writeln!(out, "{json}").and_then(|()| out.flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("{program}: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(error) => {
            eprintln!("{program}: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn stop_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    shutdown.cancel();
}

impl AsRef<ServiceConfig> for ServiceConfig {
    fn as_ref(&self) -> &ServiceConfig {
        self
    }
}
