//! The calling board (tabellone): public, read-only, no personal data — ticket labels,
//! counters and queue lengths only.

use std::{convert::Infallible, time::Duration};

use axum::{
    Json,
    extract::State,
    response::sse::{Event, KeepAlive, Sse},
};
use serde::Serialize;
use sportello_kit::{CallContext, ServiceError};
use sportello_proto::routing::v1::{ListQueuesRequest, ListRecentCallsRequest};
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::{
    body::Path,
    live::LiveEvent,
    site_by_code, sites_of,
    views::{BoardCall, QueueView},
};
use crate::app::AppState;

/// A site as the public pages show it.
#[derive(Debug, Serialize)]
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
    Ok(state
        .cases()?
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

/// `GET /api/v1/sites/{site}/board`.
pub async fn snapshot(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<Snapshot>, ServiceError> {
    let context = state.public_context("board.show")?;
    let site = site_by_code(&state, &context, state.settings.public_municipality, &code).await?;
    let calls = state
        .cases()?
        .list_recent_calls(context.request(ListRecentCallsRequest {
            site_id: site.id.clone(),
            limit: 8,
        }))
        .await?
        .into_inner()
        .calls;
    let queues = queues(&state, &context, &site.id).await?;
    Ok(Json(Snapshot {
        calls: calls.iter().map(BoardCall::from).collect(),
        queues,
        site: SiteView {
            id: site.id,
            code: site.code,
            name: site.name,
            counters: site.counter_numbers,
        },
    }))
}

fn queues_event(queues: &[QueueView]) -> Result<Event, ServiceError> {
    Event::default()
        .event("queues")
        .json_data(serde_json::json!({ "queues": queues }))
        .map_err(ServiceError::internal)
}

/// `GET /api/v1/sites/{site}/board/events`: server-sent events, `queues` at once (so a
/// board that reconnects after a drop shows the queues as they are now, not as they
/// were), then `call` as each ticket is called and `queues` when the queues change (at
/// most every half second).
pub async fn events(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Sse<impl futures::Stream<Item = Result<Event, Infallible>>>, ServiceError> {
    let context = state.public_context("board.show")?;
    let site = site_by_code(&state, &context, state.settings.public_municipality, &code).await?;
    let mut feed = state.live.subscribe();
    let (sender, receiver) = mpsc::channel(64);
    // Subscribed before the first snapshot is read: no change falls in between.
    let first = queues_event(&queues(&state, &context, &site.id).await?)?;
    let _ = sender.try_send(Ok(first));
    tokio::spawn(async move {
        let mut queues_stale = false;
        loop {
            // Wait for an event, or, with a queue change pending, for the half second
            // that coalesces a burst of changes into one refresh.
            let next = if queues_stale {
                tokio::time::timeout(Duration::from_millis(500), feed.recv()).await
            } else {
                Ok(feed.recv().await)
            };
            match next {
                Ok(Ok(event)) if event.site_id() == site.id => match event {
                    LiveEvent::Called { call, .. } => {
                        let Ok(event) = Event::default().event("call").json_data(&call) else {
                            continue;
                        };
                        if sender.send(Ok(event)).await.is_err() {
                            break;
                        }
                    }
                    LiveEvent::QueuesChanged { .. } => queues_stale = true,
                },
                Ok(Ok(_)) => {}
                // Fell behind: the queues are refreshed below; missed calls are old.
                Ok(Err(RecvError::Lagged(_))) => queues_stale = true,
                Ok(Err(RecvError::Closed)) => break,
                Err(_timeout) => {
                    queues_stale = false;
                    let Ok(queues) = queues(&state, &context, &site.id).await else {
                        continue;
                    };
                    let Ok(event) = queues_event(&queues) else {
                        continue;
                    };
                    if sender.send(Ok(event)).await.is_err() {
                        break;
                    }
                }
            }
            if sender.is_closed() {
                break;
            }
        }
    });
    let stream: ReceiverStream<Result<Event, Infallible>> = ReceiverStream::new(receiver);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
