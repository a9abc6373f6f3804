//! Keeping a replica's view current with what other replicas commit.
//!
//! Each replica reads the case events of the routing stream through its own ordered
//! (ephemeral) consumer — never a consumer shared with other replicas, which would give
//! each event to one replica only. On (re)subscribing it starts a little before "now",
//! then reloads the waiting cases from PostgreSQL: whatever committed before the reload
//! is in the reload, whatever committed after is in the subscription, and versions make
//! the overlap harmless. Catalogue and site events drop the replica's cached copies; work
//! events keep the back office's view of what waits ([`crate::work::index`]) current.

use std::time::{Duration, SystemTime};

use async_nats::jetstream::{self, consumer::DeliverPolicy};
use futures::StreamExt;
use prost::Message;
use sportello_kit::{Db, backoff::Backoff, config::SubjectPrefix};
use sportello_proto::routing::v1::{CaseOpened, CatalogueChanged, SiteUpdated, WorkChanged};
use tokio_util::sync::CancellationToken;

use super::Dispatcher;
use crate::{
    cases::domain::Case,
    catalogue::cache::CatalogueCache,
    sites::cache::SiteCache,
    work::{
        flow::WorkFlow,
        index::{News, WorkIndex},
    },
};

/// What a replica follows, on the routing stream (declared in routing's spec, for its
/// NATS user).
pub const SUBJECTS: &[&str] = &["case.>", "routing.catalogue.>", "routing.site.>", "work.>"];

/// How far before "now" a subscription starts, to cover clock skew between this host and
/// the NATS server.
const OVERLAP: Duration = Duration::from_secs(30);

/// Follows the routing stream until `shutdown`.
#[allow(clippy::too_many_arguments)]
pub async fn follow(
    dispatcher: Dispatcher,
    work: WorkFlow,
    cache: CatalogueCache,
    sites: SiteCache,
    db: Db,
    nats: async_nats::Client,
    prefix: SubjectPrefix,
    shutdown: CancellationToken,
) {
    let js = jetstream::new(nats);
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(10));
    while !shutdown.is_cancelled() {
        match subscribe(&js, &prefix).await {
            Ok(mut messages) => {
                // Reload after subscribing: nothing committed in between can be missed.
                match dispatcher.reload(&db).await {
                    Ok(waiting) => {
                        tracing::info!(waiting, "dispatcher reloaded; following the routing stream")
                    }
                    Err(error) => tracing::warn!(%error, "dispatcher reload failed"),
                }
                match work.reload_index().await {
                    Ok(waiting) => tracing::info!(waiting, "back-office view reloaded"),
                    Err(error) => tracing::warn!(%error, "back-office view reload failed"),
                }
                backoff.reset();
                loop {
                    let next = tokio::select! {
                        next = messages.next() => next,
                        () = shutdown.cancelled() => return,
                    };
                    match next {
                        Some(Ok(message)) => {
                            apply(&dispatcher, &work, &cache, &sites, &prefix, &message)
                        }
                        Some(Err(error)) => {
                            tracing::warn!(%error, "routing stream subscription failed; resubscribing");
                            break;
                        }
                        None => break,
                    }
                }
            }
            Err(error) => {
                let delay = backoff.next_delay();
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "cannot follow the routing stream yet");
                // Without the stream, the database is the only news of other replicas.
                if let Err(error) = dispatcher.reload(&db).await {
                    tracing::warn!(%error, "dispatcher reload failed");
                }
                if let Err(error) = work.reload_index().await {
                    tracing::warn!(%error, "back-office view reload failed");
                }
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = shutdown.cancelled() => return,
                }
            }
        }
    }
}

async fn subscribe(
    js: &jetstream::Context,
    prefix: &SubjectPrefix,
) -> Result<jetstream::consumer::pull::Ordered, async_nats::Error> {
    let stream = js.get_stream(prefix.stream("routing")).await?;
    let start = SystemTime::now()
        .checked_sub(OVERLAP)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::OrderedConfig {
            filter_subjects: SUBJECTS.iter().map(|s| prefix.subject(s)).collect(),
            deliver_policy: DeliverPolicy::ByStartTime {
                start_time: start.into(),
            },
            ..Default::default()
        })
        .await?;
    Ok(consumer.messages().await?)
}

fn apply(
    dispatcher: &Dispatcher,
    work: &WorkFlow,
    cache: &CatalogueCache,
    sites: &SiteCache,
    prefix: &SubjectPrefix,
    message: &jetstream::Message,
) {
    let subject = message.subject.as_str();
    if subject.starts_with(&prefix.subject("case.")) {
        if !apply_case_event(dispatcher, &message.payload) {
            tracing::warn!(%subject, "undecodable case event ignored");
        }
    } else if subject.starts_with(&prefix.subject("work.")) {
        if !apply_work_event(&work.index, &message.payload) {
            tracing::warn!(%subject, "undecodable or malformed work event ignored");
        }
    } else if subject.starts_with(&prefix.subject("routing.site.")) {
        if let Ok(updated) = SiteUpdated::decode(message.payload.clone())
            && let Ok(site) = updated.site_id.parse()
        {
            sites.invalidate(site);
        }
    } else if let Ok(changed) = CatalogueChanged::decode(message.payload.clone())
        && let Ok(municipality) = changed.municipality_istat_code.parse()
    {
        cache.invalidate(municipality);
    }
}

/// Applies a case event's payload to the view; `false` if it is not a case event. Public
/// so the deterministic simulation (tests/simulation) feeds replicas exactly this way.
pub fn apply_case_event(dispatcher: &Dispatcher, payload: &[u8]) -> bool {
    // Every case event carries the case, as it is after the change, as field 1.
    match CaseOpened::decode(payload)
        .ok()
        .and_then(|e| e.case)
        .map(|c| Case::try_from(&c))
    {
        Some(Ok(case)) => {
            dispatcher.apply(&case);
            true
        }
        _ => false,
    }
}

/// Applies a work event's payload to the back office's view; `false` if it is not a
/// well-formed work event. Public for the simulation, as [`apply_case_event`].
pub fn apply_work_event(index: &WorkIndex, payload: &[u8]) -> bool {
    match WorkChanged::decode(payload).ok().and_then(|e| e.item) {
        Some(item) => match News::from_message(&item) {
            Some(news) => {
                index.apply(&news);
                true
            }
            None => false,
        },
        None => false,
    }
}
