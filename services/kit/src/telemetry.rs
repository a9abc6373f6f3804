//! Logs and traces.
//!
//! Every service logs through `tracing` (text or JSON lines, filtered by `RUST_LOG`) and
//! keeps OpenTelemetry span contexts, so a W3C `traceparent` can cross gRPC and NATS even
//! when nothing is exported. When `OTEL_EXPORTER_OTLP_ENDPOINT` is set, spans are also
//! exported over OTLP/gRPC; the returned guard flushes them at shutdown.
//!
//! Nothing logged may carry personal data: fields are ids, codes and counts.

use opentelemetry::{global, trace::TracerProvider as _};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_subscriber::{EnvFilter, Layer, layer::SubscriberExt, util::SubscriberInitExt};

use crate::config::LogFormat;

/// Flushes and stops trace export when dropped (or when [`TelemetryGuard::shutdown`] is
/// called, which the shutdown sequence does as its last step).
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Exports what is buffered and stops the exporter. The exporter runs on the Tokio
    /// runtime, so the blocking shutdown waits on a blocking thread while the runtime
    /// keeps running it.
    pub async fn shutdown(&mut self) {
        if let Some(provider) = self.provider.take() {
            match tokio::task::spawn_blocking(move || provider.shutdown()).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::warn!(%error, "trace export did not shut down cleanly"),
                Err(error) => tracing::warn!(%error, "trace export shutdown task failed"),
            }
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        // Shut down with `shutdown().await`; outside a runtime a blocking one still works.
        if let Some(provider) = self.provider.take()
            && tokio::runtime::Handle::try_current().is_err()
        {
            let _ = provider.shutdown();
        }
    }
}

/// A telemetry set-up failure.
#[derive(Debug, thiserror::Error)]
#[error("OTEL_EXPORTER_OTLP_ENDPOINT: cannot build the OTLP exporter: {0}")]
pub struct TelemetryError(String);

/// Installs the process-wide subscriber. Call once, inside the Tokio runtime (the OTLP
/// exporter's channel needs it). A second call (several services in one test process)
/// keeps the first subscriber and returns a guard that does nothing.
pub fn init(
    service: &str,
    format: LogFormat,
    otlp_endpoint: Option<&str>,
) -> Result<TelemetryGuard, TelemetryError> {
    global::set_text_map_propagator(TraceContextPropagator::new());

    let mut builder = SdkTracerProvider::builder().with_resource(
        Resource::builder()
            .with_service_name(format!("sportello-{service}"))
            .build(),
    );
    if let Some(endpoint) = otlp_endpoint {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()
            .map_err(|e| TelemetryError(e.to_string()))?;
        // The batch processor that runs on the Tokio runtime: the default one exports from
        // its own thread with a blocking executor, where tonic has no reactor to run on.
        let processor = opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
            exporter,
            opentelemetry_sdk::runtime::Tokio,
        )
        .build();
        builder = builder.with_span_processor(processor);
    }
    let provider = builder.build();
    let tracer = provider.tracer("sportello");

    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,async_nats=warn,h2=warn,tower=warn"));
    let logs = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer().with_target(false).boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .boxed(),
    };
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .try_init()
        .is_ok();

    if installed {
        global::set_tracer_provider(provider.clone());
        Ok(TelemetryGuard {
            provider: Some(provider),
        })
    } else {
        Ok(TelemetryGuard { provider: None })
    }
}
