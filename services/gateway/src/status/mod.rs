//! The stack's status: each service's gRPC health, as a page (`/stato`) and as JSON
//! (`/api/v1/status`), and the gateway's own liveness (`/healthz`).
//!
//! Anyone learns whether the stack is up (`all_serving`); which services, where they are
//! and how each is doing is for operations staff only: a signed-in account with the
//! admin role. The checks are made once for every visitor of the moment and kept
//! [`FRESH_FOR`], so a flood of status requests costs no more health checks than one.

mod page;

use std::{sync::Arc, time::Duration};

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, header},
    response::{Html, IntoResponse},
    routing::get,
};
use futures::future::join_all;
use serde::Serialize;
use sportello_kit::Db;
use tokio::{sync::Mutex, time::Instant};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::{
    auth::{Role, session},
    peers::Peers,
};

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
    /// Each service, the gateway first; only for operations staff (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<ServiceStatus>>,
}

impl StackStatus {
    /// What anyone may see: up or not.
    fn public(&self) -> Self {
        Self {
            all_serving: self.all_serving,
            services: None,
        }
    }
}

/// The roles that see the details.
pub const DETAILS_FOR: &[Role] = &[Role::Admin];

/// How long one round of checks answers every visitor.
pub const FRESH_FOR: Duration = Duration::from_secs(2);

#[derive(Clone)]
struct StatusState {
    peers: Peers,
    db: Db,
    last: Arc<Mutex<Option<(Instant, StackStatus)>>>,
}

/// The status routes.
pub fn router(peers: Peers, db: Db) -> Router {
    Router::new()
        .route("/stato", get(status_page))
        .route("/stato.js", get(status_script))
        .route("/api/v1/status", get(status_json))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(StatusState {
            peers,
            db,
            last: Arc::default(),
        })
}

/// Whether the request comes from a live session of operations staff.
async fn details_allowed(state: &StatusState, headers: &HeaderMap) -> bool {
    let Some(token) = session::token_from(headers) else {
        return false;
    };
    match session::find(&state.db, &token).await {
        Ok(Some(session)) => session.account.has_any(DETAILS_FOR),
        _ => false,
    }
}

/// The status as `headers`' sender may see it.
async fn status_for(state: &StatusState, headers: &HeaderMap) -> StackStatus {
    let stack = checked(state).await;
    if details_allowed(state, headers).await {
        stack
    } else {
        stack.public()
    }
}

async fn status_json(State(state): State<StatusState>, headers: HeaderMap) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(status_for(&state, &headers).await),
    )
}

async fn status_page(State(state): State<StatusState>, headers: HeaderMap) -> impl IntoResponse {
    (
        crate::pages::security_headers(),
        Html(page::render(&status_for(&state, &headers).await)),
    )
}

/// The last round of checks if fresh, else a new one; visitors arriving meanwhile wait
/// for it and share it.
async fn checked(state: &StatusState) -> StackStatus {
    let mut last = state.last.lock().await;
    if let Some((at, stack)) = last.as_ref()
        && at.elapsed() < FRESH_FOR
    {
        return stack.clone();
    }
    let stack = check_all(state).await;
    *last = Some((Instant::now(), stack.clone()));
    stack
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
        services: Some(services),
    }
}
