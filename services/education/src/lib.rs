//! Education services (servizi educativi): schools and nurseries, enrolments and their
//! rankings, canteen subscriptions, fees by income band and their payment notices.
//!
//! Layout: each area is a module with its `domain` (request parsing), `store` (SQL) and
//! `grpc` (the tonic service); [`error`] is the service's one error table.

pub mod access;
pub mod config;
pub mod enrolment;
pub mod error;
pub mod fees;
pub mod retention;
pub mod schools;

use std::sync::Arc;

use sportello_kit::{
    Api, DefaultPorts, Listeners, Running, Service, ServiceSpec, StartError, StreamSpec,
    protocol::{ProtocolRegister, RoutingProtocol, Unconfigured},
    require_call_context,
};
use sportello_proto::education::v1::{
    enrolment_service_server::EnrolmentServiceServer, fee_service_server::FeeServiceServer,
    school_service_server::SchoolServiceServer,
};
use tokio_util::sync::CancellationToken;

pub use config::{EducationConfig, IntoEducationConfig};

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
    // Routing's events about education's work and the registry's about residents: the
    // consumers' NATS permissions come from here.
    consumers: education_consumers,
    subscriptions: &[],
    serves_http: false,
    policy: &access::POLICY,
};

fn education_consumers() -> Vec<sportello_kit::ConsumerSpec> {
    vec![
        enrolment::work::consumer_spec(),
        enrolment::reviews::consumer_spec(),
    ]
}

/// Starts the education service on `listeners` until `shutdown` is cancelled.
pub async fn start(
    config: impl IntoEducationConfig,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<Running, StartError> {
    let config = config.into_education_config()?;
    let mut service = Service::start(&SPEC, config.service.clone()).await?;
    service.retain(retention::RULES);
    service.consume(
        enrolment::work::consumer_spec(),
        enrolment::work::WorkEvents,
    );
    service.consume(
        enrolment::reviews::consumer_spec(),
        enrolment::reviews::RegistryEvents,
    );
    service.on_timer(enrolment::offers::LAPSE_TIMER, enrolment::offers::Lapse);
    // The fees' debt positions; the receipt poller marks their charges paid.
    let ledger = sportello_kit::payments::Ledger::install(
        &mut service,
        fees::DOMAIN,
        config.payments.clone(),
        sportello_kit::payments::PaidHandlers::new().on(fees::CHARGE, fees::notices::paid),
    )
    .await?;
    let protocol: Arc<dyn ProtocolRegister> = match &config.routing_url {
        Some(url) => Arc::new(RoutingProtocol::new(
            service
                .channel_to("routing", url)
                .map_err(|e| StartError::Other(format!("ROUTING_URL: {e}")))?,
            "education",
        )),
        None => {
            tracing::warn!("ROUTING_URL is not set: enrolment applications are unavailable");
            Arc::new(Unconfigured)
        }
    };
    let registry = match &config.registry_url {
        Some(url) => Some(
            service
                .channel_to("registry", url)
                .map_err(|e| StartError::Other(format!("REGISTRY_URL: {e}")))?,
        ),
        None => {
            tracing::warn!("REGISTRY_URL is not set: enrolment applications are unavailable");
            None
        }
    };
    let office = enrolment::Office {
        db: service.db().clone(),
        protocol,
        facts: enrolment::facts::RegistryFacts::new(registry),
        key: config.pseudonym_key.clone(),
    };
    let desk = fees::Desk {
        office: office.clone(),
        ledger,
    };
    let schools = schools::grpc::Schools::new(service.db().clone());
    let api = Api::new()
        .grpc(SchoolServiceServer::with_interceptor(
            schools,
            require_call_context,
        ))
        .grpc(EnrolmentServiceServer::with_interceptor(
            enrolment::grpc::Enrolment::new(office),
            require_call_context,
        ))
        .grpc(FeeServiceServer::with_interceptor(
            fees::grpc::Fees::new(desk),
            require_call_context,
        ));
    service.serve(api, listeners, shutdown).await
}
