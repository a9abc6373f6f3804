//! The calling board (tabellone): public, read-only, no personal data — ticket labels,
//! counters and queue lengths only.

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, header},
    response::{
        IntoResponse, Response,
        sse::{KeepAlive, Sse},
    },
};
use serde::Serialize;
use sportello_kit::{CallContext, ErrorKind, PeerChannel, ServiceError};
use sportello_proto::routing::v1::{ListQueuesRequest, case_service_client::CaseServiceClient};

use super::{
    body::Path,
    sites_of,
    views::{BoardCall, QueueView},
};
use crate::app::AppState;

/// A site as the public pages show it.
#[derive(Debug, Clone, Serialize)]
pub struct SiteView {
    pub id: String,
    pub code: String,
    pub name: String,
    pub counters: Vec<u32>,
}

/// `GET /api/v1/sites`: the public municipality's sites.
pub async fn sites(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ServiceError> {
    let context = state.public_context("board.show")?;
    let sites = sites_of(&state, &context, state.settings.public_municipality).await?;
    let sites: Vec<SiteView> = sites
        .into_iter()
        .map(|s| SiteView {
            id: s.id,
            code: s.code,
            name: s.name,
            counters: s.counter_numbers,
        })
        .collect();
    Ok(Json(serde_json::json!({ "sites": sites })))
}

/// What a board shows when it opens.
#[derive(Debug, Serialize)]
pub struct Snapshot {
    pub site: SiteView,
    pub calls: Vec<BoardCall>,
    pub queues: Vec<QueueView>,
}

pub(crate) async fn queues(
    state: &AppState,
    context: &CallContext,
    site_id: &str,
) -> Result<Vec<QueueView>, ServiceError> {
    queues_from(state.cases()?, context, site_id).await
}

/// A site's queues as the board shows them, from routing's `ListQueues`.
pub(crate) async fn queues_from(
    mut cases: CaseServiceClient<PeerChannel>,
    context: &CallContext,
    site_id: &str,
) -> Result<Vec<QueueView>, ServiceError> {
    Ok(cases
        .list_queues(context.request(ListQueuesRequest {
            site_id: site_id.to_owned(),
            operator_id: String::new(),
        }))
        .await?
        .into_inner()
        .queues
        .iter()
        .map(QueueView::from)
        .collect())
}

/// `GET /api/v1/sites/{site}/board`: from the site's shared board (no RPC while any
/// screen of the site is open).
pub async fn snapshot(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<Snapshot>, ServiceError> {
    let board = state.boards.snapshot(&code).await?;
    Ok(Json(Snapshot {
        site: SiteView::clone(&board.site),
        calls: board.calls.into_iter().map(|(_, call)| call).collect(),
        queues: board.queues,
    }))
}

/// `GET /api/v1/sites/{site}/board/events`: server-sent events from the site's shared
/// board (`board_hub`): `queues` at once, then `call` as each ticket is called and
/// `queues` when the queues change (at most every half second); the stream ends when the
/// gateway shuts down. Over the caps on open boards: 503 with `Retry-After`.
pub async fn events(State(state): State<AppState>, Path(code): Path<String>) -> Response {
    match state.boards.stream(&code).await {
        Ok(stream) => Sse::new(stream)
            .keep_alive(KeepAlive::default())
            .into_response(),
        Err(error) => {
            let unavailable = error.kind() == ErrorKind::Unavailable;
            let mut response = error.into_response();
            if unavailable {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            response
        }
    }
}
