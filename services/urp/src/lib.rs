//! URP (ufficio relazioni con il pubblico): information requests, complaints and reports,
//! the forms catalogue and satisfaction feedback, answered on the service charter's clock;
//! access-to-documents and FOIA requests on their statutory terms.
//!
//! Layout: each area is a module with its `domain` (request parsing), `store` (SQL) and
//! `grpc` (the tonic service).

pub mod access;
pub mod feedback;
pub mod knowledge;

use sportello_kit::{
    Api, DefaultPorts, Listeners, Running, Service, ServiceConfig, ServiceSpec, StartError,
    StreamSpec,
};
use sportello_proto::urp::v1::{
    feedback_service_server::FeedbackServiceServer,
    knowledge_service_server::KnowledgeServiceServer,
};
use tokio_util::sync::CancellationToken;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// The URP service's name, ports, migrations and stream.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "urp",
    ports: DefaultPorts {
        grpc: 50056,
        metrics: 9106,
        http: 0,
    },
    migrator: &MIGRATOR,
    streams: &[StreamSpec {
        part: "urp",
        subjects: &["urp.>"],
    }],
    // Routing's completed cases make them rateable (feedback::cases): the consumer's NATS
    // permissions come from here.
    consumers: urp_consumers,
    subscriptions: &[],
    serves_http: false,
    policy: &access::POLICY,
};

fn urp_consumers() -> Vec<sportello_kit::ConsumerSpec> {
    vec![feedback::cases::consumer_spec()]
}

/// Starts the URP service on `listeners` until `shutdown` is cancelled.
pub async fn start(
    config: ServiceConfig,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<Running, StartError> {
    let mut service = Service::start(&SPEC, config).await?;
    service.consume(
        feedback::cases::consumer_spec(),
        feedback::cases::CompletedCases,
    );
    let feedback = feedback::grpc::FeedbackDesk::new(service.db().clone());
    let knowledge = knowledge::grpc::Knowledge::new(service.db().clone());
    let api = Api::new()
        .grpc(FeedbackServiceServer::with_interceptor(
            feedback,
            sportello_kit::require_call_context,
        ))
        .grpc(KnowledgeServiceServer::with_interceptor(
            knowledge,
            sportello_kit::require_call_context,
        ));
    service.serve(api, listeners, shutdown).await
}
