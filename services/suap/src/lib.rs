//! SUAP (sportello unico per le attività produttive): business permit applications —
//! SCIA, communications and the ordinary procedure (DPR 160/2010), public-land occupation
//! and *dehors*, driveway permits (*passo carrabile*) — their fees, and the statutory
//! clock with its suspensions.
//!
//! Layout: each area is a module with its `domain` (request parsing), `store` (SQL) and
//! `grpc` (the tonic service); [`error`] is the service's one error table.

pub mod access;
pub mod applications;
pub mod businesses;
pub mod config;
pub mod error;
pub mod occupations;
pub mod payments;
pub mod retention;

use std::sync::Arc;

use sportello_kit::{
    Api, DefaultPorts, Listeners, Running, Service, ServiceSpec, StartError, StreamSpec,
    protocol::{ProtocolRegister, RoutingProtocol, Unconfigured},
    require_call_context,
};
use sportello_proto::suap::v1::{
    application_service_server::ApplicationServiceServer,
    business_service_server::BusinessServiceServer,
    occupation_service_server::OccupationServiceServer,
};
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;

pub use config::{IntoSuapConfig, SuapConfig};

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
    // Routing's events about the SUAP's work: the consumer's NATS permissions come from
    // here.
    consumers: suap_consumers,
    subscriptions: &[],
    serves_http: false,
    policy: &access::POLICY,
};

fn suap_consumers() -> Vec<sportello_kit::ConsumerSpec> {
    vec![applications::work::consumer_spec()]
}

/// Starts the SUAP on `listeners` until `shutdown` is cancelled.
pub async fn start(
    config: impl IntoSuapConfig,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<Running, StartError> {
    let config = config.into_suap_config()?;
    let mut service = Service::start(&SPEC, config.service.clone()).await?;
    service.retain(retention::RULES);
    // The ledger that the procedures' flows ask for payments through.
    let payments = payments::SuapPayments::install(&mut service, config.payments.clone()).await?;
    let protocol: Arc<dyn ProtocolRegister> = match &config.routing_url {
        Some(url) => Arc::new(RoutingProtocol::new(
            service
                .channel_to("routing", url)
                .map_err(|e| StartError::Other(format!("ROUTING_URL: {e}")))?,
            "suap",
        )),
        None => {
            tracing::warn!("ROUTING_URL is not set: SUAP filings are unavailable");
            Arc::new(Unconfigured)
        }
    };
    let desk = applications::steps::Desk {
        db: service.db().clone(),
        protocol,
        documents: config
            .documents
            .open(service.db())
            .map_err(|e| StartError::Other(format!("DOCUMENT_STORE_URL: {}", e.detail())))?,
    };
    service.on_timer(
        applications::clock::EXPIRY_TIMER,
        applications::steps::TermExpired,
    );
    service.on_timer(
        occupations::expiry::EXPIRY_TIMER,
        occupations::expiry::Expire,
    );
    service.on_timer(
        applications::reasons::WINDOW_TIMER,
        applications::reasons::WindowEnded,
    );
    service.on_timer(
        applications::land::NOTICE_TIMER,
        applications::land::CanoneNotice {
            payments: payments.clone(),
            db: service.db().clone(),
        },
    );
    service.consume(
        applications::work::consumer_spec(),
        applications::work::WorkEvents::new(desk.clone()),
    );
    // Filings carry documents: room for them.
    let request_limit = usize::try_from(
        desk.documents
            .rules()
            .max_bytes()
            .saturating_mul(applications::filing::MAX_DOCUMENTS as u64),
    )
    .unwrap_or(usize::MAX)
    .saturating_add(1024 * 1024);
    let businesses = businesses::grpc::Businesses::new(service.db().clone());
    let occupations = occupations::grpc::Occupations::new(service.db().clone(), payments);
    let applications = applications::grpc::Applications::new(desk);
    let api = Api::new()
        .grpc(BusinessServiceServer::with_interceptor(
            businesses,
            require_call_context,
        ))
        .grpc(InterceptedService::new(
            ApplicationServiceServer::new(applications).max_decoding_message_size(request_limit),
            require_call_context,
        ))
        .grpc(OccupationServiceServer::with_interceptor(
            occupations,
            require_call_context,
        ));
    service.serve(api, listeners, shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kit derives the SUAP's NATS permissions from its spec: routing's events about
    /// the SUAP's work must be declared, on routing's stream.
    #[test]
    fn the_spec_declares_the_consumer_of_routings_work_events() {
        let consumers = (SPEC.consumers)();
        assert_eq!(consumers.len(), 1);
        assert_eq!(consumers[0].name, applications::work::CONSUMER);
        assert_eq!(consumers[0].stream_part, "routing");
        assert_eq!(consumers[0].subjects, &["work.suap.>"]);
    }
}
