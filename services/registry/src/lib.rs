//! The registry (anagrafe): the municipality's residents, families, addresses and
//! certificates. Other services ask it for residence and family facts over gRPC instead
//! of asking citizens for certificates (DPR 445/2000 art. 43).
//!
//! Layout: each area of the registry is a module with its `domain` (request parsing
//! into domain types), `store` (SQL) and `grpc` (the tonic service); [`error`] is the
//! registry's one error table.

pub mod error;
pub mod streets;

use sportello_kit::{
    Api, DefaultPorts, Listeners, Running, Service, ServiceConfig, ServiceSpec, StartError,
    StreamSpec,
};
use sportello_proto::registry::v1::street_service_server::StreetServiceServer;
use tokio_util::sync::CancellationToken;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// The registry's name, ports, migrations and stream.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "registry",
    ports: DefaultPorts {
        grpc: 50052,
        metrics: 9102,
        http: 0,
    },
    migrator: &MIGRATOR,
    streams: &[StreamSpec {
        part: "registry",
        subjects: &["registry.>"],
    }],
    serves_http: false,
};

/// Starts the registry on `listeners` until `shutdown` is cancelled.
pub async fn start(
    config: ServiceConfig,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<Running, StartError> {
    let service = Service::start(&SPEC, config).await?;
    let streets = streets::grpc::Streets::new(service.db().clone());
    let api = Api::new().grpc(StreetServiceServer::with_interceptor(
        streets,
        sportello_kit::require_call_context,
    ));
    service.serve(api, listeners, shutdown).await
}
