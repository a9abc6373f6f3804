//! Mobility (mobilità): permits tied to people and vehicles — disabled parking badges
//! (CUDE), limited-traffic-zone (ZTL) and resident parking permits — and the zones they
//! are valid in.
//!
//! Layout: each area is a module with its `domain` (request parsing), `store` (SQL) and
//! `grpc` (the tonic service); [`error`] is the service's one error table.

pub mod access;
pub mod error;
pub mod zones;

use sportello_kit::{
    Api, DefaultPorts, Listeners, Running, Service, ServiceConfig, ServiceSpec, StartError,
    StreamSpec,
};
use sportello_proto::mobility::v1::zone_service_server::ZoneServiceServer;
use tokio_util::sync::CancellationToken;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// The mobility service's name, ports, migrations and stream.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "mobility",
    ports: DefaultPorts {
        grpc: 50055,
        metrics: 9105,
        http: 0,
    },
    migrator: &MIGRATOR,
    streams: &[StreamSpec {
        part: "mobility",
        subjects: &["mobility.>"],
    }],
    consumers: Vec::new,
    subscriptions: &[],
    serves_http: false,
    policy: &access::POLICY,
};

/// Starts the mobility service on `listeners` until `shutdown` is cancelled.
pub async fn start(
    config: ServiceConfig,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<Running, StartError> {
    let service = Service::start(&SPEC, config).await?;
    let zones = zones::grpc::Zones::new(service.db().clone());
    let api = Api::new().grpc(ZoneServiceServer::with_interceptor(
        zones,
        sportello_kit::require_call_context,
    ));
    service.serve(api, listeners, shutdown).await
}
