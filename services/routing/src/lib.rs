//! Routing: the service catalogue, sites and counters, queues and tickets, operators and
//! their presence, cases from every channel, and the decision of who serves whom next;
//! also the protocol register, since every case passes through here.
//!
//! Layout: each area is a module with its `domain` (request parsing), `store` (SQL) and
//! `grpc` (the tonic service); [`error`] is the service's one error table.

pub mod domain;
pub mod error;
pub mod protocol;
pub mod sites;

use sportello_kit::require_call_context;
use sportello_kit::{
    Api, DefaultPorts, Listeners, Running, Service, ServiceConfig, ServiceSpec, StartError,
    StreamSpec,
};
use sportello_proto::routing::v1::{
    protocol_service_server::ProtocolServiceServer, site_service_server::SiteServiceServer,
};
use tokio_util::sync::CancellationToken;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// Routing's name, ports, migrations and stream. The counter flow publishes on
/// `case.*`, `ticket.*`, `operator.*` and `protocol.*` besides `routing.*`.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "routing",
    ports: DefaultPorts {
        grpc: 50051,
        metrics: 9101,
        http: 0,
    },
    migrator: &MIGRATOR,
    streams: &[StreamSpec {
        part: "routing",
        subjects: &[
            "routing.>",
            "case.>",
            "ticket.>",
            "operator.>",
            "protocol.>",
        ],
    }],
    serves_http: false,
};

/// Starts routing on `listeners` until `shutdown` is cancelled.
pub async fn start(
    config: ServiceConfig,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<Running, StartError> {
    let service = Service::start(&SPEC, config).await?;
    let db = service.db().clone();
    let api = Api::new()
        .grpc(SiteServiceServer::with_interceptor(
            sites::grpc::Sites::new(db.clone()),
            require_call_context,
        ))
        .grpc(ProtocolServiceServer::with_interceptor(
            protocol::grpc::Register::new(db.clone()),
            require_call_context,
        ));
    service.serve(api, listeners, shutdown).await
}
