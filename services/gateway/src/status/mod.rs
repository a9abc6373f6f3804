//! The stack's status: each service's gRPC health, as a page (`/stato`) and as JSON
//! (`/api/v1/status`), and the gateway's own liveness (`/healthz`).

mod page;

use std::time::Duration;

use axum::{
    Json, Router,
    extract::State,
    http::header,
    response::{Html, IntoResponse},
    routing::get,
};
use futures::future::join_all;
use serde::Serialize;
use sportello_kit::Db;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::peers::Peers;

/// One service's health.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ServiceStatus {
    /// Service name.
    pub name: &'static str,
    /// Where the gateway reaches it.
    pub url: String,
    /// `SERVING`, `NOT_SERVING` or `UNREACHABLE`.
    pub status: &'static str,
}

/// The whole stack's health.
#[derive(Debug, Clone, Serialize)]
pub struct StackStatus {
    /// True when every service is serving.
    pub all_serving: bool,
    /// Each service, the gateway first.
    pub services: Vec<ServiceStatus>,
}

#[derive(Clone)]
struct StatusState {
    peers: Peers,
    db: Db,
}

/// The status routes.
pub fn router(peers: Peers, db: Db) -> Router {
    Router::new()
        .route("/stato", get(status_page))
        .route("/stato.js", get(status_script))
        .route("/api/v1/status", get(status_json))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(StatusState { peers, db })
}

async fn status_json(State(state): State<StatusState>) -> Json<StackStatus> {
    Json(check_all(&state).await)
}

async fn status_page(State(state): State<StatusState>) -> impl IntoResponse {
    (
        crate::pages::security_headers(),
        Html(page::render(&check_all(&state).await)),
    )
}

async fn status_script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        page::SCRIPT,
    )
}

/// How long one health check may take before the service counts as unreachable.
const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

async fn check_all(state: &StatusState) -> StackStatus {
    let own = tokio::time::timeout(
        CHECK_TIMEOUT,
        sqlx::query("select 1").execute(state.db.pool()),
    )
    .await;
    let gateway = ServiceStatus {
        name: "gateway",
        url: "(this server)".to_owned(),
        status: if matches!(own, Ok(Ok(_))) {
            "SERVING"
        } else {
            "NOT_SERVING"
        },
    };
    let checks = state.peers.all().map(|(name, url, channel)| async move {
        let mut client = HealthClient::new(channel);
        let check = client.check(HealthCheckRequest {
            service: String::new(),
        });
        let status = match tokio::time::timeout(CHECK_TIMEOUT, check).await {
            Ok(Ok(reply)) if reply.get_ref().status() == ServingStatus::Serving => "SERVING",
            Ok(Ok(_)) => "NOT_SERVING",
            _ => "UNREACHABLE",
        };
        ServiceStatus {
            name,
            url: url.to_owned(),
            status,
        }
    });
    let mut services = vec![gateway];
    services.extend(join_all(checks).await);
    StackStatus {
        all_serving: services.iter().all(|s| s.status == "SERVING"),
        services,
    }
}
