//! Keeping a replica's whitelist current with what any replica commits: each replica
//! reads the permit and badge events of mobility's stream through its own ordered (ephemeral)
//! consumer, and reloads the permit each event names. On (re)subscribing it starts a
//! little before "now", then reloads everything from PostgreSQL: whatever committed before
//! the reload is in it, whatever committed after is in the subscription.

use std::time::{Duration, SystemTime};

use async_nats::jetstream::{self, consumer::DeliverPolicy};
use futures::StreamExt;
use prost::Message;
use sportello_kit::{Db, backoff::Backoff, config::SubjectPrefix};
use sportello_proto::mobility::v1::PermitActivated;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::memory::Whitelist;

/// What a replica follows, on the mobility stream (declared in mobility's spec, for its
/// NATS user).
pub const SUBJECTS: &[&str] = &["mobility.permit.>", "mobility.badge.>"];

/// How often the whole whitelist is reloaded, dropping what ended before the horizon (the
/// events only ever refresh one record at a time).
const RELOAD_EVERY: Duration = Duration::from_secs(60 * 60);

/// How far before "now" a subscription starts, to cover clock skew between this host and
/// the NATS server.
const OVERLAP: Duration = Duration::from_secs(30);

/// Follows the mobility stream until `shutdown`.
pub async fn follow(
    whitelist: Whitelist,
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
                match whitelist.reload(&db).await {
                    Ok(rows) => tracing::info!(rows, "whitelist reloaded; following the permits"),
                    Err(error) => tracing::warn!(%error, "whitelist reload failed"),
                }
                backoff.reset();
                let mut prune = tokio::time::interval(RELOAD_EVERY);
                prune.tick().await;
                loop {
                    let next = tokio::select! {
                        next = messages.next() => next,
                        _ = prune.tick() => {
                            // Expired and long-ended entries go; the horizon moves on.
                            if let Err(error) = whitelist.reload(&db).await {
                                tracing::warn!(%error, "whitelist reload failed");
                            }
                            continue;
                        }
                        () = shutdown.cancelled() => return,
                    };
                    match next {
                        Some(Ok(message)) => {
                            // Every permit and badge event carries its id as field 1.
                            let id = PermitActivated::decode(message.payload.clone())
                                .ok()
                                .and_then(|e| Uuid::parse_str(&e.permit_id).ok());
                            match id {
                                Some(id) => {
                                    if let Err(error) = whitelist.refresh(&db, id).await {
                                        tracing::warn!(%error, permit_id = %id, "whitelist refresh failed; reloading");
                                        break;
                                    }
                                }
                                None => {
                                    tracing::warn!(subject = %message.subject, "undecodable permit event ignored")
                                }
                            }
                        }
                        Some(Err(error)) => {
                            tracing::warn!(%error, "mobility stream subscription failed; resubscribing");
                            break;
                        }
                        None => break,
                    }
                }
            }
            Err(error) => {
                let delay = backoff.next_delay();
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "cannot follow the mobility stream yet");
                if let Err(error) = whitelist.reload(&db).await {
                    tracing::warn!(%error, "whitelist reload failed");
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
    let stream = js.get_stream(prefix.stream("mobility")).await?;
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
