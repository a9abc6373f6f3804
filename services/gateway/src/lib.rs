//! The gateway: Sportello's only HTTP face. It holds operator sessions and talks to the
//! services as a gRPC client; it keeps no domain data of its own.
//!
//! Layout: [`config`] (the services it talks to, the web settings), [`peers`] (their
//! gRPC channels), [`app`] (what handlers share), [`auth`] (accounts, sessions, roles),
//! [`api`] (the REST/JSON API under `/api/v1`), [`pages`] (the web UI's pages and
//! assets), [`status`] (the stack's status page), [`sessions`] (session revocation over
//! gRPC), [`open311`] (Open311 GeoReport v2 over URP's reports), [`demo`] (the demo
//! municipality `make run` seeds).

pub mod access;
pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod demo;
pub mod open311;
pub mod pages;
pub mod peers;
pub mod retention;
pub mod sessions;
pub mod status;

use std::sync::Arc;

use sportello_kit::{
    Api, DefaultPorts, Listeners, Running, Service, ServiceSpec, StartError, StreamSpec,
    Subscription,
};
use sportello_proto::gateway::v1::session_service_server::SessionServiceServer;
use tokio_util::sync::CancellationToken;

use crate::config::GatewayConfig;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// The gateway's name, ports, migrations and stream.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "gateway",
    ports: DefaultPorts {
        grpc: 50057,
        metrics: 9107,
        http: 8080,
    },
    migrator: &MIGRATOR,
    streams: &[StreamSpec {
        part: "gateway",
        subjects: &["gateway.>"],
    }],
    consumers: Vec::new,
    // The boards' live feed: routing's case events as they pass.
    subscriptions: &[Subscription::Plain {
        subjects: api::live::SUBJECTS,
    }],
    serves_http: true,
    policy: &access::POLICY,
};

/// Starts the gateway on `listeners` until `shutdown` is cancelled.
pub async fn start(
    config: GatewayConfig,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<Running, StartError> {
    let mut service = Service::start(&SPEC, config.service).await?;
    service.retain(retention::RULES);
    let hashes = auth::password::configure(config.web.password_hash_concurrency);
    tracing::info!(concurrency = hashes, "password hashing bounded");
    let peers = peers::Peers::connect(&config.peers, service.identity(), service.config())
        .map_err(|e| StartError::Other(e.to_string()))?;
    let sessions = sessions::grpc::Sessions::new(service.db().clone());
    let live = api::live::Live::start(
        service.nats().clone(),
        &service.config().subject_prefix,
        shutdown.clone(),
    );
    let boards = api::board_hub::BoardHub::new(
        peers.clone(),
        config.web.public_municipality,
        live,
        api::board_hub::Caps {
            total: config.web.board_max_streams,
            per_site: config.web.board_max_streams_per_site,
        },
        shutdown.clone(),
    );
    let state = app::AppState {
        db: service.db().clone(),
        peers: peers.clone(),
        settings: Arc::new(config.web.clone()),
        limiter: Arc::default(),
        boards,
    };
    let oidc = auth::oidc::OidcState {
        app: state.clone(),
        provider: match config.web.oidc.clone() {
            Some(oidc) => Some(Arc::new(
                auth::oidc::Provider::new(oidc).map_err(|e| StartError::Other(e.to_string()))?,
            )),
            None => None,
        },
    };
    let http = status::router(peers, service.db().clone())
        .merge(auth::oidc::router(oidc))
        .merge(api::router().with_state(state.clone()))
        .merge(open311::router().with_state(state.clone()))
        .merge(pages::router(config.web.assets_dir).with_state(state));
    let api = Api::new()
        .grpc(SessionServiceServer::with_interceptor(
            sessions,
            sportello_kit::require_call_context,
        ))
        .http(http);
    service.serve(api, listeners, shutdown).await
}
