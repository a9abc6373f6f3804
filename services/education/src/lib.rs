//! Education services (servizi educativi): schools and nurseries, enrolments and their
//! rankings, canteen subscriptions, fees by income band and their payment notices.
//!
//! Layout: each area is a module with its `domain` (request parsing), `store` (SQL) and
//! `grpc` (the tonic service); [`error`] is the service's one error table.

pub mod access;
pub mod enrolment;
pub mod error;
pub mod schools;

use sportello_kit::{
    Api, DefaultPorts, Listeners, Running, Service, ServiceConfig, ServiceSpec, StartError,
    StreamSpec,
};
use sportello_proto::education::v1::school_service_server::SchoolServiceServer;
use tokio_util::sync::CancellationToken;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// The education service's name, ports, migrations and stream.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "education",
    ports: DefaultPorts {
        grpc: 50053,
        metrics: 9103,
        http: 0,
    },
    migrator: &MIGRATOR,
    streams: &[StreamSpec {
        part: "education",
        subjects: &["education.>"],
    }],
    consumers: Vec::new,
    subscriptions: &[],
    serves_http: false,
    policy: &access::POLICY,
};

/// Starts the education service on `listeners` until `shutdown` is cancelled.
pub async fn start(
    config: ServiceConfig,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<Running, StartError> {
    let service = Service::start(&SPEC, config).await?;
    let schools = schools::grpc::Schools::new(service.db().clone());
    let api = Api::new().grpc(SchoolServiceServer::with_interceptor(
        schools,
        sportello_kit::require_call_context,
    ));
    service.serve(api, listeners, shutdown).await
}
