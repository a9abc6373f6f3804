//! The gateway: Sportello's only HTTP face. It holds operator sessions and talks to the
//! services as a gRPC client; it keeps no domain data of its own.
//!
//! Layout: [`config`] (the services it talks to), [`peers`] (their gRPC channels),
//! [`status`] (the stack's status page), [`sessions`] (operator sessions and their
//! revocation over gRPC).

pub mod config;
pub mod peers;
pub mod sessions;
pub mod status;

use sportello_kit::{
    Api, DefaultPorts, Listeners, Running, Service, ServiceSpec, StartError, StreamSpec,
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
    serves_http: true,
};

/// Starts the gateway on `listeners` until `shutdown` is cancelled.
pub async fn start(
    config: GatewayConfig,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<Running, StartError> {
    let peers =
        peers::Peers::connect(&config.peers).map_err(|e| StartError::Other(e.to_string()))?;
    let service = Service::start(&SPEC, config.service).await?;
    let sessions = sessions::grpc::Sessions::new(service.db().clone());
    let http = status::router(peers, service.db().clone());
    let api = Api::new()
        .grpc(SessionServiceServer::with_interceptor(
            sessions,
            sportello_kit::require_call_context,
        ))
        .http(http);
    service.serve(api, listeners, shutdown).await
}
