//! Prometheus metrics on `/metrics`.
//!
//! Metrics are aggregated per queue, service and site — never per operator: per-person
//! productivity is a report with its own access rules, not a metric (Italian law limits
//! the monitoring of employees).

use std::sync::{
    Arc, OnceLock,
    atomic::{AtomicBool, Ordering},
};

use axum::{Router, http::StatusCode, routing::get};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder once (several services may share a test process)
/// and returns its handle.
fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(handle) => Some(handle),
            Err(error) => {
                tracing::warn!(%error, "metrics recorder not installed");
                None
            }
        })
        .as_ref()
}

/// Readiness and liveness for Kubernetes probes, on the plain-HTTP metrics port: the
/// gRPC port speaks only mutual TLS, which the kubelet's gRPC probes cannot. They say
/// the same as the gRPC health service's `readiness` and `liveness` names.
#[derive(Debug, Clone, Default)]
pub struct Probes {
    ready: Arc<AtomicBool>,
    stopping: Arc<AtomicBool>,
}

impl Probes {
    /// Readiness follows the database.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// Shutdown has begun: never ready again.
    pub fn set_stopping(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed) && !self.stopping.load(Ordering::Relaxed)
    }
}

/// `/metrics`, `/livez` (the process answers) and `/readyz` (it can serve: 503 when the
/// database is unreachable or shutdown has begun).
pub fn router(probes: Probes) -> Router {
    let handle = handle();
    Router::new()
        .route(
            "/metrics",
            get(move || async move { handle.map(PrometheusHandle::render).unwrap_or_default() }),
        )
        .route("/livez", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || async move {
                if probes.is_ready() {
                    (StatusCode::OK, "ready")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "not ready")
                }
            }),
        )
}

/// Registers the recorder early, so metrics recorded before the first scrape are kept.
pub fn install() {
    let _ = handle();
}
