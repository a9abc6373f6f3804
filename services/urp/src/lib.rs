//! URP (ufficio relazioni con il pubblico): information requests, complaints and reports,
//! the forms catalogue and satisfaction feedback, answered on the service charter's clock;
//! access-to-documents and FOIA requests on their statutory terms.
//!
//! Layout: each area is a module with its `domain` (request parsing), `store` (SQL) and
//! `grpc` (the tonic service).

pub mod access;
pub mod access_requests;
pub mod config;
pub mod error;
pub mod feedback;
pub mod knowledge;
pub mod paging;
pub mod reports;
pub mod retention;

use std::sync::Arc;

use sportello_kit::{
    Api, DefaultPorts, Listeners, Running, Service, ServiceSpec, StartError, StreamSpec,
    protocol::{ProtocolRegister, RoutingProtocol, Unconfigured},
};
use sportello_proto::urp::v1::{
    access_service_server::AccessServiceServer, feedback_service_server::FeedbackServiceServer,
    knowledge_service_server::KnowledgeServiceServer, report_service_server::ReportServiceServer,
};
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;

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
    // Routing's completed cases make them rateable (feedback::cases), routing's events
    // about URP's work advance reports (reports::work): the consumers' NATS permissions
    // come from here.
    consumers: urp_consumers,
    subscriptions: &[],
    serves_http: false,
    policy: &access::POLICY,
};

pub use config::{IntoUrpConfig, UrpConfig};

fn urp_consumers() -> Vec<sportello_kit::ConsumerSpec> {
    vec![
        feedback::cases::consumer_spec(),
        reports::work::consumer_spec(),
    ]
}

/// Starts the URP service on `listeners` until `shutdown` is cancelled.
pub async fn start(
    config: impl IntoUrpConfig,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<Running, StartError> {
    let config = config.into_urp_config()?;
    let mut service = Service::start(&SPEC, config.service.clone()).await?;
    service.retain(retention::RULES);
    let protocol: Arc<dyn ProtocolRegister> = match &config.routing_url {
        Some(url) => Arc::new(RoutingProtocol::new(
            service
                .channel_to("routing", url)
                .map_err(|e| StartError::Other(format!("ROUTING_URL: {e}")))?,
            "urp",
        )),
        None => {
            tracing::warn!("ROUTING_URL is not set: reports and access requests are unavailable");
            Arc::new(Unconfigured)
        }
    };
    let desk = reports::Desk {
        db: service.db().clone(),
        protocol,
        documents: config
            .documents
            .open(service.db())
            .map_err(|e| StartError::Other(format!("DOCUMENT_STORE_URL: {}", e.detail())))?,
        key: config.pseudonym_key.clone(),
        mailer: config.mailer.clone(),
        reply_days: config.reply_days,
        copy_cents_per_page: config.copy_cents_per_page,
    };
    service.consume(reports::work::consumer_spec(), reports::work::WorkEvents);
    service.on_timer(
        access_requests::flow::EXPIRY_TIMER,
        access_requests::expiry::TermExpired,
    );
    service.on_timer(
        reports::reply::MAIL_TIMER,
        reports::reply::MailReply {
            mailer: config.mailer.clone(),
        },
    );
    // Reports carry attachments: room for them.
    let request_limit = usize::try_from(
        desk.documents
            .rules()
            .max_bytes()
            .saturating_mul(reports::domain::MAX_ATTACHMENTS as u64),
    )
    .unwrap_or(usize::MAX)
    .saturating_add(1024 * 1024);
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
        ))
        .grpc(AccessServiceServer::with_interceptor(
            access_requests::grpc::AccessDesk::new(desk.clone()),
            sportello_kit::require_call_context,
        ))
        .grpc(InterceptedService::new(
            ReportServiceServer::new(reports::grpc::Reports::new(desk))
                .max_decoding_message_size(request_limit),
            sportello_kit::require_call_context,
        ));
    service.serve(api, listeners, shutdown).await
}
