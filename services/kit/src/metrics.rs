//! Prometheus metrics on `/metrics`.
//!
//! Metrics are aggregated per queue, service and site — never per operator: per-person
//! productivity is a report with its own access rules, not a metric (Italian law limits
//! the monitoring of employees).

use std::sync::OnceLock;

use axum::{Router, routing::get};
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

/// The `/metrics` router.
pub fn router() -> Router {
    let handle = handle();
    Router::new().route(
        "/metrics",
        get(move || async move { handle.map(PrometheusHandle::render).unwrap_or_default() }),
    )
}

/// Registers the recorder early, so metrics recorded before the first scrape are kept.
pub fn install() {
    let _ = handle();
}
