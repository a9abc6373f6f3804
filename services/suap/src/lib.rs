//! SUAP (sportello unico per le attività produttive): business permit applications —
//! public-land occupation and *dehors*, commercial authorisations, driveway permits
//! (*passo carrabile*) — their fees, and the statutory clock with its suspensions.
//!
//! Layout: each area is a module with its `domain` (request parsing), `store` (SQL) and
//! `grpc` (the tonic service); [`error`] is the service's one error table.

pub mod access;
pub mod businesses;
pub mod error;
pub mod occupations;

use sportello_kit::{
    Api, DefaultPorts, Listeners, Running, Service, ServiceConfig, ServiceSpec, StartError,
    StreamSpec,
};
use sportello_proto::suap::v1::{
    business_service_server::BusinessServiceServer,
    occupation_service_server::OccupationServiceServer,
};
use tokio_util::sync::CancellationToken;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// The SUAP's name, ports, migrations and stream.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "suap",
    ports: DefaultPorts {
        grpc: 50054,
        metrics: 9104,
        http: 0,
    },
    migrator: &MIGRATOR,
    streams: &[StreamSpec {
        part: "suap",
        subjects: &["suap.>"],
    }],
    consumers: Vec::new,
    subscriptions: &[],
    serves_http: false,
    policy: &access::POLICY,
};

/// Starts the SUAP on `listeners` until `shutdown` is cancelled.
pub async fn start(
    config: ServiceConfig,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<Running, StartError> {
    let service = Service::start(&SPEC, config).await?;
    let businesses = businesses::grpc::Businesses::new(service.db().clone());
    let occupations = occupations::grpc::Occupations::new(service.db().clone());
    let api = Api::new()
        .grpc(BusinessServiceServer::with_interceptor(
            businesses,
            sportello_kit::require_call_context,
        ))
        .grpc(OccupationServiceServer::with_interceptor(
            occupations,
            sportello_kit::require_call_context,
        ));
    service.serve(api, listeners, shutdown).await
}
