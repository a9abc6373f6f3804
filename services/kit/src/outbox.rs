//! The outbox relay: publishes committed events to JetStream, then marks them.
//!
//! Rows are taken in insertion order with `FOR UPDATE SKIP LOCKED`, so relays of several
//! replicas share the work without publishing a row twice at the same time. Replicas may
//! publish their batches side by side, so one aggregate's events can reach the stream
//! out of order: each event carries its aggregate's version for consumers to tell. Each event
//! is published with `Nats-Msg-Id` = its id and marked only after JetStream acknowledged
//! it: if the relay dies between the ack and the mark, the next pass publishes it again
//! and the stream drops the duplicate; if it dies before publishing, the next pass
//! publishes it. Nothing is lost, nothing reaches the stream twice.
//!
//! A batch goes to JetStream as one *atomic batch* (NATS 2.12, ADR-50): stored whole or
//! not at all, with one write and one fsync, so a stream with `sync_interval: always`
//! takes thousands of events per second instead of hundreds. If the atomic batch is
//! refused — one of its events is a duplicate (a re-send after a crash), or the server
//! or stream does not allow atomic publishing — the batch is published event by event,
//! where JetStream drops the duplicates one by one.

use std::{sync::Arc, time::Duration};

use async_nats::jetstream::{self, context::PublishAckFuture};
use bytes::Bytes;
use sqlx::Row;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    backoff::Backoff,
    config::SubjectPrefix,
    events::EventRecord,
    uow::{Db, SqlTimestamp},
};

/// How many events one pass publishes at most (one atomic batch; the server takes up to
/// 1,000).
pub const BATCH: i64 = 256;

/// How many passes of one relay may be publishing at once (see [`Relay::run`]).
pub const LANES: usize = 3;

/// How long the relay waits for an atomic batch's acknowledgement.
const ATOMIC_ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest one pass may spend publishing before it gives up and rolls back.
const PUBLISH_DEADLINE: Duration = Duration::from_secs(15);

/// A relay failure; the relay retries with backoff.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Reading or marking the outbox failed.
    #[error("outbox database error: {0}")]
    Db(#[from] sqlx::Error),
    /// Publishing failed before any ack.
    #[error("publishing to JetStream failed: {0}")]
    Publish(String),
}

/// The relay of one service.
#[derive(Debug)]
pub struct Relay {
    db: Db,
    js: jetstream::Context,
    prefix: SubjectPrefix,
    source: String,
    bell: Arc<Notify>,
    warned_atomic: std::sync::atomic::AtomicBool,
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RelayPass {
    /// Events acknowledged by JetStream and marked published.
    pub published: usize,
    /// Of those, how many JetStream recognised as re-sends and dropped.
    pub duplicates: usize,
    /// Whether they went as one atomic batch (rather than one by one).
    pub atomic: bool,
}

impl Relay {
    pub(crate) fn new(
        db: Db,
        js: jetstream::Context,
        prefix: SubjectPrefix,
        service: &str,
    ) -> Self {
        Self {
            bell: db.outbox_bell(),
            db,
            js,
            prefix,
            source: format!("//sportello/{service}"),
            warned_atomic: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Publishes up to [`BATCH`] pending events and marks those JetStream acknowledged.
    /// While NATS is disconnected it does nothing (and says so): row locks and a
    /// transaction are never held waiting for a server that is away.
    pub async fn run_once(&self) -> Result<RelayPass, RelayError> {
        if self.js.client().connection_state() != async_nats::connection::State::Connected {
            return Err(RelayError::Publish("NATS is not connected".to_owned()));
        }
        let mut tx = self.db.pool().begin().await?;
        let rows = sqlx::query(
            "select id, event_type, aggregate_kind, aggregate_id, aggregate_version, municipality,
                    data_type, payload, traceparent, occurred_at
             from outbox where published_at is null
             order by seq limit $1 for update skip locked",
        )
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(RelayPass::default());
        }

        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            records.push(EventRecord {
                id: row.try_get("id")?,
                source: self.source.clone(),
                event_type: row.try_get("event_type")?,
                time: row.try_get::<SqlTimestamp, _>("occurred_at")?.to_jiff(),
                aggregate_kind: row.try_get("aggregate_kind")?,
                aggregate_id: row.try_get("aggregate_id")?,
                aggregate_version: row.try_get("aggregate_version")?,
                municipality: row.try_get("municipality")?,
                data_type: row.try_get("data_type")?,
                data: Bytes::from(row.try_get::<Vec<u8>, _>("payload")?),
                traceparent: row.try_get("traceparent")?,
            });
        }

        let publishing = async {
            match self.publish_atomically(&records).await {
                Ok(()) => (
                    records.iter().map(|r| r.id).collect(),
                    RelayPass {
                        atomic: true,
                        ..RelayPass::default()
                    },
                    None,
                ),
                Err(reason) => {
                    // A duplicate (a re-send after a crash) is expected now and then; any
                    // other refusal means every pass does the work twice: say so once.
                    if !reason.contains("duplicate")
                        && !self
                            .warned_atomic
                            .swap(true, std::sync::atomic::Ordering::Relaxed)
                    {
                        tracing::warn!(%reason, "JetStream refused an atomic batch; publishing one by one (needs NATS 2.12+ and allow_atomic streams)");
                    } else {
                        tracing::debug!(%reason, "atomic batch refused; publishing one by one");
                    }
                    self.publish_one_by_one(&records).await
                }
            }
        };
        // A pass never holds its row locks for long: past the deadline it rolls back and
        // the next pass tries again.
        let Ok((acked, mut pass, failure)) =
            tokio::time::timeout(PUBLISH_DEADLINE, publishing).await
        else {
            return Err(RelayError::Publish(
                "publishing took too long; rolled back".to_owned(),
            ));
        };
        if !acked.is_empty() {
            sqlx::query("update outbox set published_at = $2 where id = any($1)")
                .bind(&acked)
                .bind(SqlTimestamp::from(self.db.clock().now()))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        pass.published = acked.len();
        metrics::counter!("sportello_outbox_published_total").increment(acked.len() as u64);

        match failure {
            Some(error) if pass.published == 0 => Err(RelayError::Publish(error)),
            Some(error) => {
                tracing::warn!(%error, published = pass.published, "some events were not acknowledged; they will be retried");
                Ok(pass)
            }
            None => Ok(pass),
        }
    }

    /// Publishes `records` as one atomic batch; `Err` says why it was refused.
    async fn publish_atomically(&self, records: &[EventRecord]) -> Result<(), String> {
        let client = self.js.client();
        let batch_id = Uuid::new_v4().to_string();
        let last = records.len();
        for (n, record) in records.iter().enumerate() {
            let mut headers = record.headers();
            headers.insert(async_nats::header::NATS_BATCH_ID, batch_id.as_str());
            headers.insert(
                async_nats::header::NATS_BATCH_SEQUENCE,
                (n + 1).to_string().as_str(),
            );
            let subject = self.prefix.subject(&record.event_type);
            if n + 1 < last {
                client
                    .publish_with_headers(subject, headers, record.data.clone())
                    .await
                    .map_err(|e| e.to_string())?;
            } else {
                headers.insert(async_nats::header::NATS_BATCH_COMMIT, "1");
                let reply = tokio::time::timeout(
                    ATOMIC_ACK_TIMEOUT,
                    client.request_with_headers(subject, headers, record.data.clone()),
                )
                .await
                .map_err(|_| "no acknowledgement of the atomic batch".to_owned())?
                .map_err(|e| e.to_string())?;
                let ack: serde_json::Value =
                    serde_json::from_slice(&reply.payload).map_err(|e| e.to_string())?;
                if let Some(error) = ack.get("error") {
                    return Err(error.to_string());
                }
                let count = ack.get("count").and_then(serde_json::Value::as_u64);
                if count != Some(last as u64) {
                    return Err(format!(
                        "atomic batch acknowledged {count:?} of {last} events"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Publishes each record with its own acknowledgement. Returns the acknowledged ids,
    /// the duplicates count, and the first failure.
    async fn publish_one_by_one(
        &self,
        records: &[EventRecord],
    ) -> (Vec<Uuid>, RelayPass, Option<String>) {
        // Send them all, then collect the acks: one round trip's latency per batch.
        let mut pending: Vec<(Uuid, PublishAckFuture)> = Vec::with_capacity(records.len());
        let mut send_error = None;
        for record in records {
            let subject = self.prefix.subject(&record.event_type);
            let message = jetstream::message::PublishMessage::build()
                .payload(record.data.clone())
                .headers(record.headers());
            match self.js.send_publish(subject, message).await {
                Ok(ack) => pending.push((record.id, ack)),
                Err(error) => {
                    send_error = Some(error.to_string());
                    break;
                }
            }
        }
        let mut acked = Vec::with_capacity(pending.len());
        let mut pass = RelayPass::default();
        let mut ack_error = None;
        for (id, ack) in pending {
            match ack.await {
                Ok(ack) => {
                    acked.push(id);
                    pass.duplicates += usize::from(ack.duplicate);
                }
                Err(error) => {
                    ack_error.get_or_insert_with(|| error.to_string());
                }
            }
        }

        (acked, pass, send_error.or(ack_error))
    }

    /// One lane of [`Relay::run`].
    async fn lane(self: Arc<Self>, poll: Duration, shutdown: CancellationToken) {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        loop {
            let pass = tokio::select! {
                pass = self.run_once() => pass,
                () = shutdown.cancelled() => break,
            };
            let wait = match pass {
                Ok(pass) if pass.published > 0 => {
                    backoff.reset();
                    // More may have been committed while this batch was published.
                    self.bell.notify_one();
                    continue;
                }
                Ok(_) => {
                    backoff.reset();
                    None
                }
                Err(error) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "outbox relay pass failed");
                    Some(delay)
                }
            };
            if let Ok(lag) = self.lag().await {
                metrics::gauge!("sportello_outbox_lag_seconds").set(lag.as_secs_f64());
            }
            let sleep = tokio::time::sleep(wait.unwrap_or(poll));
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.bell.notified(), if wait.is_none() => {}
                () = sleep => {}
            }
        }
    }

    /// Age of the oldest unpublished event, for the outbox-lag gauge.
    pub async fn lag(&self) -> Result<Duration, sqlx::Error> {
        let oldest: Option<SqlTimestamp> =
            sqlx::query_scalar("select min(occurred_at) from outbox where published_at is null")
                .fetch_one(self.db.pool())
                .await?;
        Ok(oldest
            .map(|t| {
                let age = self.db.clock().now().duration_since(t.to_jiff());
                Duration::try_from(age).unwrap_or_default()
            })
            .unwrap_or_default())
    }

    /// Publishes until the outbox is empty, then waits for a commit's bell or the poll
    /// interval (rows written by other replicas); on failure, retries with backoff.
    ///
    /// [`LANES`] passes run side by side (pipelined): while one batch waits for its
    /// JetStream acknowledgement and its mark's commit — two fsyncs — the next lane
    /// takes the rows committed meanwhile (`SKIP LOCKED` keeps their rows apart), so the
    /// publish delay does not grow with a queue of passes. Each lane wakes the next when
    /// it finds work.
    pub async fn run(self: Arc<Self>, poll: Duration, shutdown: CancellationToken) {
        let lanes = (0..LANES).map(|_| self.clone().lane(poll, shutdown.clone()));
        futures::future::join_all(lanes).await;
        // Last pass: publish what was committed before shutdown, if NATS allows.
        match tokio::time::timeout(Duration::from_secs(5), self.run_once()).await {
            Ok(Ok(pass)) if pass.published > 0 => {
                tracing::info!(published = pass.published, "outbox flushed at shutdown");
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "outbox not flushed at shutdown; it will be on restart")
            }
            _ => {}
        }
    }
}
