//! One board per site, shared by every screen that shows it.
//!
//! A site's board (the last calls and the queues) is kept by one task per site that
//! follows the live feed and asks routing again only when the site's queues change (at
//! most every half second, once for all of its screens); every open stream watches that
//! one snapshot through a `watch` channel and turns its changes into server-sent events.
//! A thousand screens cost no more RPCs than one. A site's task ends a minute after its
//! last screen closed, and at shutdown.
//!
//! Streams are capped per gateway and per site (`BOARD_MAX_STREAMS`,
//! `BOARD_MAX_STREAMS_PER_SITE`): beyond, UNAVAILABLE (503 with `Retry-After`), and the
//! page tries again. Every stream ends when the gateway's shutdown begins, so a rolling
//! restart drains instead of waiting for screens that never hang up.

use std::{
    collections::{HashMap, VecDeque},
    convert::Infallible,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::response::sse::Event;
use futures::Stream;
use sportello_kit::{CallContext, ErrorKind, MunicipalityCode, ServiceError};
use sportello_proto::routing::v1::{
    ListRecentCallsRequest, ListSitesRequest, case_service_client::CaseServiceClient,
    site_service_client::SiteServiceClient,
};
use tokio::{
    sync::{OwnedSemaphorePermit, Semaphore, broadcast::error::RecvError, watch},
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use super::{
    board::SiteView,
    live::{Live, LiveEvent},
    views::{BoardCall, QueueView},
};
use crate::peers::Peers;

/// How many recent calls a board keeps.
pub const RECENT_CALLS: usize = 8;
/// A burst of queue changes is read once, this long after the first.
const COALESCE: Duration = Duration::from_millis(500);
/// After a failed read of the queues, the next try.
const RETRY: Duration = Duration::from_secs(2);
/// A site with no screen for this long stops being followed.
const IDLE: Duration = Duration::from_secs(60);

/// A site's board as every screen of it sees it.
#[derive(Debug, Clone)]
pub struct Board {
    /// The site.
    pub site: Arc<SiteView>,
    /// The last calls, newest first, each with its sequence number.
    pub calls: Vec<(u64, BoardCall)>,
    /// The sequence number of the newest call heard live (calls read back from routing
    /// get no new number: they are not announced again).
    pub last_call: u64,
    /// The queues.
    pub queues: Vec<QueueView>,
    /// Bumped each time the queues are read again.
    pub queues_version: u64,
}

struct SiteFeed {
    code: String,
    board: watch::Sender<Board>,
    streams: Arc<Semaphore>,
}

struct Inner {
    peers: Peers,
    municipality: MunicipalityCode,
    live: Live,
    shutdown: CancellationToken,
    streams: Arc<Semaphore>,
    per_site: usize,
    sites: Mutex<HashMap<String, Arc<SiteFeed>>>,
    /// First opens of a site one at a time: a hundred screens switched on together cost
    /// one lookup, and a flood of unknown site codes one RPC at a time.
    opening: tokio::sync::Mutex<()>,
}

/// The boards of the public municipality's sites.
#[derive(Clone)]
pub struct BoardHub {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for BoardHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoardHub")
            .field("sites", &self.followed())
            .field("streams_free", &self.inner.streams.available_permits())
            .finish()
    }
}

/// The caps on open streams.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// In this gateway.
    pub total: usize,
    /// Per site.
    pub per_site: usize,
}

fn busy(what: &str) -> ServiceError {
    ServiceError::new(
        ErrorKind::Unavailable,
        format!(
            "troppi tabelloni aperti {what}: riprova tra poco / too many boards open {what}: \
             try again shortly"
        ),
    )
}

impl BoardHub {
    /// A hub over `live`, asking routing through `peers` as an anonymous visitor of
    /// `municipality`'s public pages, until `shutdown`.
    pub fn new(
        peers: Peers,
        municipality: MunicipalityCode,
        live: Live,
        caps: Caps,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                peers,
                municipality,
                live,
                shutdown,
                streams: Arc::new(Semaphore::new(caps.total.max(1))),
                per_site: caps.per_site.max(1),
                sites: Mutex::new(HashMap::new()),
                opening: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// How many sites are followed now.
    pub fn followed(&self) -> usize {
        self.inner.sites().len()
    }

    /// The board of the site whose code is `code` as it is now.
    pub async fn snapshot(&self, code: &str) -> Result<Board, ServiceError> {
        let (_, receiver) = self.feed(code).await?;
        let board = receiver.borrow().clone();
        Ok(board)
    }

    /// A stream of the board's changes as server-sent events: `queues` at once (a board
    /// that reconnects shows the queues as they are now), then `call` for each ticket
    /// called and `queues` when the queues were read again; it ends at shutdown.
    /// UNAVAILABLE over the caps.
    pub async fn stream(
        &self,
        code: &str,
    ) -> Result<impl Stream<Item = Result<Event, Infallible>> + use<>, ServiceError> {
        if self.inner.shutdown.is_cancelled() {
            return Err(ServiceError::new(
                ErrorKind::Unavailable,
                "il servizio si sta riavviando / the gateway is restarting",
            ));
        }
        let total = Arc::clone(&self.inner.streams)
            .try_acquire_owned()
            .map_err(|_| busy("su questo server / on this server"))?;
        let (feed, receiver) = self.feed(code).await?;
        let site = Arc::clone(&feed.streams)
            .try_acquire_owned()
            .map_err(|_| busy("per questa sede / for this site"))?;
        Ok(board_events(
            receiver,
            [total, site],
            self.inner.shutdown.clone(),
        ))
    }

    /// The site's feed, followed from now on if it was not.
    async fn feed(
        &self,
        code: &str,
    ) -> Result<(Arc<SiteFeed>, watch::Receiver<Board>), ServiceError> {
        if let Some(found) = self.inner.subscribe(code) {
            return Ok(found);
        }
        let _one_at_a_time = self.inner.opening.lock().await;
        if let Some(found) = self.inner.subscribe(code) {
            return Ok(found);
        }
        let context = self.inner.context()?;
        let site = self
            .inner
            .sites_client()?
            .list_sites(context.request(ListSitesRequest {
                municipality_istat_code: self.inner.municipality.to_string(),
            }))
            .await?
            .into_inner()
            .sites
            .into_iter()
            .find(|s| s.code == code)
            .ok_or_else(|| ServiceError::new(ErrorKind::NotFound, format!("no site {code:?}")))?;
        let site_id = site.id.clone();
        let calls = self.inner.recent_calls(&context, &site_id).await?;
        let queues = self.inner.queues(&context, &site_id).await?;
        let board = Board {
            site: Arc::new(SiteView {
                id: site.id,
                code: site.code,
                name: site.name,
                counters: site.counter_numbers,
            }),
            calls: calls.into_iter().map(|c| (0, c)).collect(),
            last_call: 0,
            queues,
            queues_version: 0,
        };
        let feed = Arc::new(SiteFeed {
            code: code.to_owned(),
            board: watch::Sender::new(board),
            streams: Arc::new(Semaphore::new(self.inner.per_site)),
        });
        // Subscribed to the live feed before the first read is published: no change
        // falls in between (the reads above may repeat one: harmless).
        let events = self.inner.live.subscribe();
        let receiver = {
            let mut sites = self.inner.sites();
            sites.insert(code.to_owned(), Arc::clone(&feed));
            feed.board.subscribe()
        };
        tokio::spawn(follow(
            Arc::clone(&self.inner),
            Arc::clone(&feed),
            site_id,
            events,
            context,
        ));
        Ok((feed, receiver))
    }
}

impl Inner {
    fn sites(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<SiteFeed>>> {
        self.sites.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Subscribes under the map's lock, so a site retired at the same moment is either
    /// still followed for this subscriber or not found (and opened afresh).
    fn subscribe(&self, code: &str) -> Option<(Arc<SiteFeed>, watch::Receiver<Board>)> {
        let sites = self.sites();
        sites
            .get(code)
            .map(|feed| (Arc::clone(feed), feed.board.subscribe()))
    }

    /// Stops following `feed` if no screen watches it (checked under the map's lock).
    fn retire_if_idle(&self, feed: &SiteFeed) -> bool {
        let mut sites = self.sites();
        if feed.board.receiver_count() > 0 {
            return false;
        }
        sites.remove(&feed.code);
        true
    }

    fn retire(&self, feed: &SiteFeed) {
        self.sites().remove(&feed.code);
    }

    fn context(&self) -> Result<CallContext, ServiceError> {
        crate::auth::context_for("anonymous:web", self.municipality, "board.show")
    }

    fn routing(&self) -> Result<sportello_kit::PeerChannel, ServiceError> {
        self.peers.channel("routing").ok_or_else(|| {
            ServiceError::new(ErrorKind::Unavailable, "no routing service configured")
        })
    }

    fn sites_client(&self) -> Result<SiteServiceClient<sportello_kit::PeerChannel>, ServiceError> {
        Ok(SiteServiceClient::new(self.routing()?))
    }

    async fn queues(
        &self,
        context: &CallContext,
        site_id: &str,
    ) -> Result<Vec<QueueView>, ServiceError> {
        super::board::queues_from(CaseServiceClient::new(self.routing()?), context, site_id).await
    }

    async fn recent_calls(
        &self,
        context: &CallContext,
        site_id: &str,
    ) -> Result<Vec<BoardCall>, ServiceError> {
        Ok(CaseServiceClient::new(self.routing()?)
            .list_recent_calls(context.request(ListRecentCallsRequest {
                site_id: site_id.to_owned(),
                limit: RECENT_CALLS as u32,
            }))
            .await?
            .into_inner()
            .calls
            .iter()
            .map(BoardCall::from)
            .collect())
    }
}

/// The site's task: follows the live feed, reads the queues again after a change (and
/// the calls, when it fell behind the feed), publishes the board to its screens.
async fn follow(
    hub: Arc<Inner>,
    feed: Arc<SiteFeed>,
    site_id: String,
    mut events: tokio::sync::broadcast::Receiver<LiveEvent>,
    context: CallContext,
) {
    // When the queues (and, after falling behind, the calls) are to be read again.
    let mut refresh: Option<Instant> = None;
    let mut calls_stale = false;
    let mut idle = tokio::time::interval_at(Instant::now() + IDLE, IDLE);
    loop {
        let due = refresh;
        tokio::select! {
            () = hub.shutdown.cancelled() => break,
            event = events.recv() => match event {
                Ok(LiveEvent::Called { site_id: s, call }) if s == site_id => {
                    feed.board.send_modify(|board| {
                        board.last_call += 1;
                        board.calls.insert(0, (board.last_call, call));
                        board.calls.truncate(RECENT_CALLS);
                    });
                }
                Ok(LiveEvent::QueuesChanged { site_id: s }) if s == site_id => {
                    refresh.get_or_insert_with(|| Instant::now() + COALESCE);
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => {
                    calls_stale = true;
                    refresh.get_or_insert_with(Instant::now);
                }
                Err(RecvError::Closed) => break,
            },
            () = sleep_until(due) => {
                refresh = None;
                match read_again(&hub, &context, &site_id, calls_stale).await {
                    Ok((queues, calls)) => {
                        calls_stale = false;
                        feed.board.send_modify(|board| {
                            board.queues = queues;
                            board.queues_version += 1;
                            if let Some(calls) = calls {
                                let seq = board.last_call;
                                board.calls = calls.into_iter().map(|c| (seq, c)).collect();
                            }
                        });
                    }
                    Err(error) => {
                        tracing::warn!(%error, site = %site_id, "board: queues not read, retrying");
                        refresh = Some(Instant::now() + RETRY);
                    }
                }
            }
            _ = idle.tick() => {
                if hub.retire_if_idle(&feed) {
                    return;
                }
            }
        }
    }
    hub.retire(&feed);
}

async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(due).await,
        None => std::future::pending().await,
    }
}

async fn read_again(
    hub: &Inner,
    context: &CallContext,
    site_id: &str,
    with_calls: bool,
) -> Result<(Vec<QueueView>, Option<Vec<BoardCall>>), ServiceError> {
    let queues = hub.queues(context, site_id).await?;
    let calls = if with_calls {
        Some(hub.recent_calls(context, site_id).await?)
    } else {
        None
    };
    Ok((queues, calls))
}

pub(crate) fn queues_event(queues: &[QueueView]) -> Option<Event> {
    Event::default()
        .event("queues")
        .json_data(serde_json::json!({ "queues": queues }))
        .ok()
}

struct Watching {
    board: watch::Receiver<Board>,
    last_call: u64,
    queues_version: Option<u64>,
    pending: VecDeque<Event>,
    shutdown: CancellationToken,
    /// Held while the stream is open: the caps' places.
    _permits: [OwnedSemaphorePermit; 2],
}

impl Watching {
    /// What changed since the last look, as events to send.
    fn take_changes(&mut self) {
        let board = self.board.borrow_and_update();
        let mut new_calls: Vec<&BoardCall> = board
            .calls
            .iter()
            .filter(|(seq, _)| *seq > self.last_call)
            .map(|(_, call)| call)
            .collect();
        new_calls.reverse(); // oldest first, as they happened
        for call in new_calls {
            if let Ok(event) = Event::default().event("call").json_data(call) {
                self.pending.push_back(event);
            }
        }
        self.last_call = board.last_call;
        if self.queues_version != Some(board.queues_version) {
            self.queues_version = Some(board.queues_version);
            if let Some(event) = queues_event(&board.queues) {
                self.pending.push_back(event);
            }
        }
    }
}

fn board_events(
    board: watch::Receiver<Board>,
    permits: [OwnedSemaphorePermit; 2],
    shutdown: CancellationToken,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let last_call = board.borrow().last_call;
    let mut watching = Watching {
        board,
        last_call,
        queues_version: None,
        pending: VecDeque::new(),
        shutdown,
        _permits: permits,
    };
    // The queues at once, as they are now.
    watching.take_changes();
    futures::stream::unfold(watching, |mut w| async move {
        loop {
            if w.shutdown.is_cancelled() {
                return None;
            }
            if let Some(event) = w.pending.pop_front() {
                return Some((Ok(event), w));
            }
            tokio::select! {
                () = w.shutdown.cancelled() => return None,
                changed = w.board.changed() => {
                    // The site's task ended (shutdown, or the feed closed): the page
                    // reconnects and finds it anew.
                    changed.ok()?;
                }
            }
            w.take_changes();
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(label: &str) -> BoardCall {
        BoardCall {
            ticket_label: label.to_owned(),
            counter_number: 1,
            call_time: None,
            call_count: 1,
        }
    }

    fn board() -> Board {
        Board {
            site: Arc::new(SiteView {
                id: "s".into(),
                code: "c".into(),
                name: "n".into(),
                counters: vec![1],
            }),
            calls: vec![(0, call("A001"))],
            last_call: 0,
            queues: Vec::new(),
            queues_version: 0,
        }
    }

    fn permits() -> [OwnedSemaphorePermit; 2] {
        let s = Arc::new(Semaphore::new(2));
        [
            Arc::clone(&s).try_acquire_owned().unwrap(),
            s.try_acquire_owned().unwrap(),
        ]
    }

    #[tokio::test]
    async fn a_stream_sends_the_queues_then_each_new_call_once_and_ends_at_shutdown() {
        use futures::StreamExt;
        let sender = watch::Sender::new(board());
        let shutdown = CancellationToken::new();
        let mut stream = Box::pin(board_events(
            sender.subscribe(),
            permits(),
            shutdown.clone(),
        ));
        let first = format!("{:?}", stream.next().await.unwrap().unwrap());
        assert!(first.contains("queues"), "{first}");
        // Two calls in one change: both sent, oldest first; the older call is not.
        sender.send_modify(|b| {
            for label in ["A002", "A003"] {
                b.last_call += 1;
                b.calls.insert(0, (b.last_call, call(label)));
            }
        });
        let second = format!("{:?}", stream.next().await.unwrap().unwrap());
        let third = format!("{:?}", stream.next().await.unwrap().unwrap());
        assert!(
            second.contains("A002") && third.contains("A003"),
            "{second} {third}"
        );
        shutdown.cancel();
        assert!(stream.next().await.is_none(), "ends at shutdown");
    }
}
