//! SUAP (sportello unico per le attività produttive): business permit applications —
//! public-land occupation and *dehors*, commercial authorisations, driveway permits
//! (*passo carrabile*) — their fees, and the statutory clock with its suspensions.
//!
//! Layout: each area is a module with its `domain` (request parsing), `store` (SQL) and
//! `grpc` (the tonic service); [`error`] is the service's one error table.

pub mod access;
pub mod businesses;
pub mod config;
pub mod error;
pub mod payments;

use sportello_kit::{
    Api, DefaultPorts, Listeners, Running, Service, ServiceSpec, StartError, StreamSpec,
};
use sportello_proto::suap::v1::business_service_server::BusinessServiceServer;
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
    config: impl config::IntoSuapConfig,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<Running, StartError> {
    let config = config.into_suap_config();
    let mut service = Service::start(&SPEC, config.service).await?;
    // The ledger that the procedures' flows ask for payments through.
    let _payments = payments::SuapPayments::install(&mut service, config.payments).await?;
    let businesses = businesses::grpc::Businesses::new(service.db().clone());
    let api = Api::new().grpc(BusinessServiceServer::with_interceptor(
        businesses,
        sportello_kit::require_call_context,
    ));
    service.serve(api, listeners, shutdown).await
}
