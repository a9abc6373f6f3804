//! Traces leave the process over OTLP when an endpoint is set, and one trace follows a
//! change across gRPC metadata and NATS headers. (Its own test binary: the process-wide
//! subscriber is installed once, here, with an exporter.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
    trace_service_server::{TraceService, TraceServiceServer},
};
use sportello_kit::{Api, config::LogFormat, testing::TestService};
use tracing::Instrument;

/// A collector that keeps the trace ids of the spans it receives.
#[derive(Clone, Default)]
struct Collector {
    trace_ids: Arc<Mutex<Vec<String>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut ids = self.trace_ids.lock().unwrap();
        for resource in request.into_inner().resource_spans {
            for scope in resource.scope_spans {
                for span in scope.spans {
                    ids.push(span.trace_id.iter().map(|b| format!("{b:02x}")).collect());
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tokio::test]
async fn spans_are_exported_and_the_trace_crosses_nats() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let collector = Collector::default();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let mut guard =
        sportello_kit::telemetry::init("kittest", LogFormat::Text, Some(&endpoint)).unwrap();

    let ctx = common::context().await;
    let service = TestService::start(
        &common::SPEC,
        ctx.config.clone(),
        |config, listeners, shutdown| async move {
            let service = sportello_kit::Service::start(&common::SPEC, config).await?;
            service.serve(Api::new(), listeners, shutdown).await
        },
    )
    .await;

    // A change made inside a span, then a gRPC call from the same span.
    let span = tracing::info_span!("register a street");
    let channel = service.channel().await;
    let (traceparent, metadata) = async {
        let mut uow = service.running.db().begin().await.unwrap();
        common::emit_one(&mut uow, "PRIONE").await;
        uow.commit().await.unwrap();
        let context =
            sportello_kit::CallContext::new("kittest", "system:test", "011015", "test").unwrap();
        let request = context.request(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        });
        let metadata = request.metadata().clone();
        tonic_health::pb::health_client::HealthClient::new(channel)
            .check(request)
            .await
            .unwrap();
        (
            sportello_kit::propagation::current_traceparent().unwrap(),
            metadata,
        )
    }
    .instrument(span)
    .await;
    let trace_id = traceparent.split('-').nth(1).unwrap().to_owned();

    // Across gRPC: the call's metadata carries the trace.
    let sent = metadata.get("traceparent").unwrap().to_str().unwrap();
    assert!(sent.contains(&trace_id), "{sent} continues {traceparent}");

    // Across NATS: the published event's headers carry the same trace.
    service.running.workers.relay.run_once().await.unwrap();
    let js = async_nats::jetstream::new(ctx.nats().await);
    let messages = common::stream_messages(&js, &ctx.config.subject_prefix.stream("kittest")).await;
    let header = messages[0]
        .headers
        .as_ref()
        .unwrap()
        .get("traceparent")
        .unwrap()
        .as_str()
        .to_owned();
    assert!(
        header.contains(&trace_id),
        "{header} continues {traceparent}"
    );

    // Out of the process: on flush the collector receives the client's span and the
    // server's span of the health check, in one trace.
    guard.shutdown().await;
    let exported = collector.trace_ids.lock().unwrap().clone();
    let in_trace = exported.iter().filter(|id| **id == trace_id).count();
    assert!(
        in_trace >= 2,
        "the collector received both sides of the trace {trace_id}: {exported:?}"
    );
}
