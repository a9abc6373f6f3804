//! The registry (anagrafe): the municipality's residents, families, addresses and
//! certificates. Other services ask it for residence and family facts over gRPC instead
//! of asking citizens for certificates (DPR 445/2000 art. 43).
//!
//! Layout: each area of the registry is a module with its `domain` (request parsing
//! into domain types), `store` (SQL) and `grpc` (the tonic service); [`error`] is the
//! registry's one error table, [`source`] the seam the register is read through (the
//! local database, or in real life ANPR), [`audit`] the log every read of personal data
//! writes to.

pub mod access;
pub mod audit;
pub mod certificates;
pub mod config;
pub mod domain;
pub mod error;
pub mod facts;
pub mod privacy;
pub mod records;
pub mod residence;
pub mod residents;
pub mod retention;
pub mod source;
pub mod state;
pub mod streets;
pub mod synth;

use std::sync::Arc;

use sportello_kit::{
    Api, DefaultPorts, Listeners, Running, Service, ServiceSpec, StartError, StreamSpec,
    protocol::{self, ProtocolRegister, RoutingProtocol},
    require_call_context,
};
use sportello_proto::registry::v1::{
    certificate_service_server::CertificateServiceServer, fact_service_server::FactServiceServer,
    privacy_service_server::PrivacyServiceServer,
    residence_change_service_server::ResidenceChangeServiceServer,
    resident_service_server::ResidentServiceServer, street_service_server::StreetServiceServer,
};
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;

pub use config::{IntoRegistryConfig, RegistryConfig};
pub use state::Registry;

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
    // Routing's events about the registry's work (the address check): the consumer's
    // NATS permissions come from here.
    consumers: registry_consumers,
    subscriptions: &[],
    serves_http: false,
    policy: &access::POLICY,
};

fn registry_consumers() -> Vec<sportello_kit::ConsumerSpec> {
    vec![residence::work::consumer_spec()]
}

/// Starts the registry on `listeners` until `shutdown` is cancelled.
pub async fn start(
    config: impl IntoRegistryConfig,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<Running, StartError> {
    let config = config.into_registry_config()?;
    let mut service = Service::start(&SPEC, config.service.clone()).await?;
    service.retain(retention::RULES);
    // Declarations in, notices and decisions out: routing's protocol register, whose
    // numbers are needed at once (a gRPC seam of the kit's).
    let protocol: Arc<dyn ProtocolRegister> = match &config.routing_url {
        Some(url) => Arc::new(RoutingProtocol::new(
            service
                .channel_to("routing", url)
                .map_err(|e| StartError::Other(format!("ROUTING_URL: {e}")))?,
            "registry",
        )),
        None => {
            tracing::warn!("ROUTING_URL is not set: changes of residence are unavailable");
            Arc::new(protocol::Unconfigured)
        }
    };
    service.on_timer(
        residence::timers::SILENCE_TIMER,
        residence::timers::SilenceAssent,
    );
    service.on_timer(
        residence::notice::WINDOW_TIMER,
        residence::notice::WindowLapsed {
            outgoing: protocol.clone(),
        },
    );
    service.on_timer(
        residence::timers::CLOSE_TIMER,
        residence::timers::CloseCheck,
    );
    service.consume(
        residence::work::consumer_spec(),
        residence::work::WorkEvents,
    );
    let registry = Registry {
        db: service.db().clone(),
        source: Arc::new(source::LocalSource::new(service.db().pool().clone())),
        pseudonym_key: config.pseudonym_key.clone(),
        seal_key: config.seal_key.clone(),
        verify_url: config.verify_url.as_str().into(),
        virtual_stamp_authorisation: config
            .virtual_stamp_authorisation
            .as_deref()
            .map(Into::into),
        protocol,
        documents: config
            .documents
            .open(service.db())
            .map_err(|e| StartError::Other(format!("DOCUMENT_STORE_URL: {}", e.detail())))?,
        privacy_reads_per_hour: config.privacy_reads_per_hour,
    };
    let streets = streets::grpc::Streets::new(service.db().clone());
    let residents = residents::grpc::Residents::new(registry.clone());
    let facts = facts::grpc::Facts::new(registry.clone());
    let certificates = certificates::grpc::Certificates::new(registry.clone());
    let privacy = privacy::grpc::Privacy::new(service.db().clone());
    let request_limit = residence::documents::request_limit(registry.documents.as_ref());
    let residence = residence::grpc::Residence::new(registry.clone());
    let api = Api::new()
        .grpc(StreetServiceServer::with_interceptor(
            streets,
            require_call_context,
        ))
        .grpc(ResidentServiceServer::with_interceptor(
            residents,
            require_call_context,
        ))
        .grpc(FactServiceServer::with_interceptor(
            facts,
            require_call_context,
        ))
        .grpc(CertificateServiceServer::with_interceptor(
            certificates,
            require_call_context,
        ))
        .grpc(PrivacyServiceServer::with_interceptor(
            privacy,
            require_call_context,
        ))
        // Declarations carry documents: room for them (see `request_limit`).
        .grpc(InterceptedService::new(
            ResidenceChangeServiceServer::new(residence).max_decoding_message_size(request_limit),
            require_call_context,
        ));
    service.serve(api, listeners, shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kit derives the registry's NATS permissions from its spec, and refuses to start
    /// a consumer the spec does not declare: routing's events about the registry's work
    /// must be there, on routing's stream, and nothing wider than the registry's own.
    #[test]
    fn the_spec_declares_the_consumer_of_routings_work_events() {
        let consumers = (SPEC.consumers)();
        assert_eq!(consumers.len(), 1);
        assert_eq!(consumers[0].name, residence::work::CONSUMER);
        assert_eq!(consumers[0].stream_part, "routing");
        assert_eq!(consumers[0].subjects, &["work.registry.>"]);
    }
}
