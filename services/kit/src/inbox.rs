//! Consuming events exactly once in effect: durable JetStream pull consumers whose
//! handlers run inside a unit of work that also records the event id (the inbox).
//!
//! A redelivered event finds its id already recorded and changes nothing. A handler that
//! keeps failing is retried with a delay up to the consumer's delivery limit; then the
//! event goes to the dead-letter subject `<prefix>.deadletter.<service>.<consumer>`
//! (with the reason, never personal data) and is acknowledged, so one bad event cannot
//! block the ones behind it. A failure because a dependency is down (UNAVAILABLE) is
//! retried with a growing delay for as long as it takes, and never dead-letters an event.

use std::{sync::Arc, time::Duration};

use async_nats::jetstream::{
    self, AckKind,
    consumer::{PullConsumer, pull},
};
use futures::{StreamExt, future::BoxFuture};
use sportello_proto::common::v1::DeadLetter;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    ErrorKind, ServiceError,
    backoff::Backoff,
    config::SubjectPrefix,
    events::{self, EventRecord},
    uow::{Db, SqlTimestamp, UnitOfWork},
};

/// What a consumer reads and how hard it tries.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    /// Durable name, unique within the service: `residence-checks`.
    pub name: &'static str,
    /// The stream's name part (the owning service's stream), e.g. `routing`.
    pub stream_part: &'static str,
    /// Relative subjects to read, e.g. `case.completed`.
    pub subjects: &'static [&'static str],
    /// Failed deliveries before the event is dead-lettered. Failures because a dependency
    /// is unavailable do not count: those are retried, with a growing delay, until it is
    /// back.
    pub max_deliver: i64,
    /// How long a delivery may take before JetStream redelivers it.
    pub ack_wait: Duration,
    /// Delay before a failed event is redelivered.
    pub retry_delay: Duration,
    /// How many events are applied side by side when the consumer runs continuously:
    /// events of one aggregate (the `ce-subject` header) always go to the same lane, so
    /// each aggregate's events are applied in stream order; different aggregates' commits
    /// overlap. 1 applies every event in stream order.
    pub lanes: usize,
}

impl ConsumerSpec {
    /// A consumer with the usual limits: 5 deliveries, 30 s ack wait, 1 s retry delay.
    pub const fn new(
        name: &'static str,
        stream_part: &'static str,
        subjects: &'static [&'static str],
    ) -> Self {
        Self {
            name,
            stream_part,
            subjects,
            max_deliver: 5,
            ack_wait: Duration::from_secs(30),
            retry_delay: Duration::from_secs(1),
            lanes: 1,
        }
    }

    /// The same consumer applying up to `lanes` aggregates' events side by side.
    pub const fn with_lanes(mut self, lanes: usize) -> Self {
        self.lanes = lanes;
        self
    }
}

/// Why a handler did not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Might work later (a dependency was down): retry up to the delivery limit.
    #[error("retryable: {0}")]
    Retry(#[from] ServiceError),
    /// Can never work (the event is malformed or of an unknown type): dead-letter now.
    #[error("rejected: {0}")]
    Reject(String),
}

impl From<sqlx::Error> for HandlerError {
    fn from(error: sqlx::Error) -> Self {
        Self::Retry(error.into())
    }
}

impl From<events::DecodeError> for HandlerError {
    fn from(error: events::DecodeError) -> Self {
        Self::Reject(error.to_string())
    }
}

/// Applies events. Runs inside the unit of work that records the event id: write
/// through `uow`, never around it.
pub trait EventHandler: Send + Sync + 'static {
    /// Applies one event.
    fn handle<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        event: &'a EventRecord,
    ) -> BoxFuture<'a, Result<(), HandlerError>>;
}

/// What happened to one delivered message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Applied and acknowledged.
    Applied,
    /// Already applied before (a redelivery): acknowledged, nothing changed.
    Duplicate,
    /// Failed; JetStream will redeliver it after the retry delay.
    WillRetry,
    /// Sent to the dead-letter subject and acknowledged.
    DeadLettered,
}

/// A durable consumer of one service.
pub struct Consumer {
    spec: ConsumerSpec,
    service: &'static str,
    db: Db,
    js: jetstream::Context,
    prefix: SubjectPrefix,
    handler: Arc<dyn EventHandler>,
    consumer: tokio::sync::Mutex<Option<PullConsumer>>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

/// A consumer's set-up or fetch failure; it retries with backoff.
#[derive(Debug, thiserror::Error)]
#[error("consumer {consumer}: {message}")]
pub struct ConsumerError {
    consumer: String,
    message: String,
}

impl Consumer {
    pub(crate) fn new(
        spec: ConsumerSpec,
        service: &'static str,
        db: Db,
        js: jetstream::Context,
        prefix: SubjectPrefix,
        handler: Arc<dyn EventHandler>,
    ) -> Self {
        Self {
            spec,
            service,
            db,
            js,
            prefix,
            handler,
            consumer: tokio::sync::Mutex::new(None),
        }
    }

    /// The durable consumer's name in JetStream: `<service>-<name>`.
    pub fn durable_name(&self) -> String {
        format!("{}-{}", self.service, self.spec.name)
    }

    fn error(&self, message: impl std::fmt::Display) -> ConsumerError {
        ConsumerError {
            consumer: self.durable_name(),
            message: message.to_string(),
        }
    }

    /// The durable consumer, created or updated to the spec (a release that adds a subject
    /// gets it). Forgotten on a stream error, so a deleted consumer is created again.
    async fn consumer(&self) -> Result<PullConsumer, ConsumerError> {
        let mut slot = self.consumer.lock().await;
        if let Some(consumer) = slot.as_ref() {
            return Ok(consumer.clone());
        }
        let stream_name = self.prefix.stream(self.spec.stream_part);
        let stream = self
            .js
            .get_stream(&stream_name)
            .await
            .map_err(|e| self.error(format!("stream {stream_name}: {e}")))?;
        let config = pull::Config {
            durable_name: Some(self.durable_name()),
            filter_subjects: self
                .spec
                .subjects
                .iter()
                .map(|s| self.prefix.subject(s))
                .collect(),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ack_wait: self.ack_wait(),
            // JetStream never gives up on an event by itself: the limit is enforced here,
            // where an event that could not even be dead-lettered is kept, not dropped.
            max_deliver: -1,
            ..Default::default()
        };
        let consumer = stream
            .create_consumer(config)
            .await
            .map_err(|e| self.error(e))?;
        *slot = Some(consumer.clone());
        Ok(consumer)
    }

    /// How long a delivery may take before JetStream redelivers it: the spec's, unless a
    /// test process shortened it (test builds only, see [`fault`]).
    fn ack_wait(&self) -> Duration {
        #[cfg(all(feature = "testing", debug_assertions))]
        if let Some(ack_wait) = fault::ack_wait() {
            return ack_wait;
        }
        self.spec.ack_wait
    }

    async fn forget_consumer(&self) {
        *self.consumer.lock().await = None;
    }

    /// Handles the messages available now, at most `max`, without waiting for more.
    pub async fn run_once(&self, max: usize) -> Result<Vec<Outcome>, ConsumerError> {
        let consumer = self.consumer().await?;
        let mut batch = consumer
            .fetch()
            .max_messages(max)
            .messages()
            .await
            .map_err(|e| self.error(e))?;
        let mut outcomes = Vec::new();
        while let Some(message) = batch.next().await {
            let message = message.map_err(|e| self.error(e))?;
            outcomes.push(self.process(&message).await);
        }
        Ok(outcomes)
    }

    /// Reads continuously until `shutdown`; finishes the messages in hand before stopping.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let lanes = Lanes::start(&self);
        self.clone().read(shutdown, &lanes).await;
        lanes.finish().await;
    }

    async fn read(self: Arc<Self>, shutdown: CancellationToken, lanes: &Lanes) {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
        while !shutdown.is_cancelled() {
            let messages = match self.consumer().await {
                Ok(consumer) => consumer.messages().await.map_err(|e| self.error(e)),
                Err(error) => Err(error),
            };
            let mut messages = match messages {
                Ok(messages) => messages,
                Err(error) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "consumer not ready");
                    tokio::select! {
                        () = tokio::time::sleep(delay) => continue,
                        () = shutdown.cancelled() => break,
                    }
                }
            };
            loop {
                let next = tokio::select! {
                    next = messages.next() => next,
                    () = shutdown.cancelled() => return,
                };
                match next {
                    Some(Ok(message)) => {
                        backoff.reset();
                        lanes.apply(&self, message).await;
                    }
                    Some(Err(error)) => {
                        tracing::warn!(consumer = %self.durable_name(), %error, "consumer stream error");
                        self.forget_consumer().await;
                        let delay = backoff.next_delay();
                        tokio::select! {
                            () = tokio::time::sleep(delay) => {}
                            () = shutdown.cancelled() => return,
                        }
                        break;
                    }
                    None => break,
                }
            }
        }
    }

    async fn process(&self, message: &jetstream::Message) -> Outcome {
        let deliveries = message.info().map(|i| i.delivered).unwrap_or(1);
        let record =
            match EventRecord::from_message(message.headers.as_ref(), message.payload.clone()) {
                Ok(record) => record,
                Err(error) => {
                    return self
                        .dead_letter(message, None, deliveries, &error.to_string())
                        .await;
                }
            };
        let span = tracing::info_span!("consume", consumer = %self.durable_name(), event_type = %record.event_type, event_id = %record.id);
        crate::propagation::set_parent_from_traceparent(&span, record.traceparent.as_deref());

        match self.apply(&record).instrument(span).await {
            Ok(outcome) => {
                // The instant a crash is most likely to cost an event twice: committed,
                // not yet acknowledged. Tests put a process's death exactly here.
                #[cfg(all(feature = "testing", debug_assertions))]
                if outcome == Outcome::Applied {
                    fault::exit_after_apply(self, record.id);
                }
                if let Err(error) = message.ack().await {
                    // The effect is committed; a redelivery will be recognised as a duplicate.
                    tracing::warn!(%error, event_id = %record.id, "ack failed after commit");
                }
                metrics::counter!("sportello_events_consumed_total", "outcome" => match outcome {
                    Outcome::Duplicate => "duplicate",
                    _ => "applied",
                })
                .increment(1);
                outcome
            }
            Err(HandlerError::Reject(reason)) => {
                self.dead_letter(message, Some(&record), deliveries, &reason)
                    .await
            }
            // A dependency that is down (the database failing over) is waited for, with a
            // growing delay, however long it takes: it says nothing about the event.
            Err(HandlerError::Retry(error)) if error.kind() == ErrorKind::Unavailable => {
                let delay = self.spec.retry_delay.max(Duration::from_millis(100))
                    * 2u32.saturating_pow(
                        u32::try_from(deliveries.saturating_sub(1))
                            .unwrap_or(u32::MAX)
                            .min(12),
                    );
                let delay = delay.min(Duration::from_secs(300));
                tracing::warn!(consumer = %self.durable_name(), event_id = %record.id, deliveries,
                    error = %error.detail(), retry_in_ms = delay.as_millis() as u64, "a dependency is unavailable; will retry");
                let _ = message.ack_with(AckKind::Nak(Some(delay))).await;
                Outcome::WillRetry
            }
            Err(HandlerError::Retry(error)) if deliveries >= self.spec.max_deliver => {
                self.dead_letter(message, Some(&record), deliveries, error.message())
                    .await
            }
            Err(HandlerError::Retry(error)) => {
                tracing::warn!(consumer = %self.durable_name(), event_id = %record.id, deliveries,
                    error = %error.detail(), "event handling failed; will retry");
                let _ = message
                    .ack_with(AckKind::Nak(Some(self.spec.retry_delay)))
                    .await;
                Outcome::WillRetry
            }
        }
    }

    /// Records the event id and applies the handler in one transaction.
    async fn apply(&self, record: &EventRecord) -> Result<Outcome, HandlerError> {
        let mut uow = self.db.begin().await?;
        let fresh = sqlx::query(
            "insert into inbox (consumer, event_id, received_at) values ($1, $2, $3)
             on conflict do nothing",
        )
        .bind(self.spec.name)
        .bind(record.id)
        .bind(SqlTimestamp::from(uow.now()))
        .execute(uow.conn())
        .await?
        .rows_affected()
            == 1;
        if !fresh {
            return Ok(Outcome::Duplicate);
        }
        self.handler.handle(&mut uow, record).await?;
        uow.commit().await?;
        Ok(Outcome::Applied)
    }

    async fn dead_letter(
        &self,
        message: &jetstream::Message,
        record: Option<&EventRecord>,
        deliveries: i64,
        reason: &str,
    ) -> Outcome {
        let subject = self
            .prefix
            .subject(&format!("deadletter.{}.{}", self.service, self.spec.name));
        let letter = DeadLetter {
            event: record.map(EventRecord::to_envelope),
            consumer: self.durable_name(),
            deliveries: u32::try_from(deliveries).unwrap_or(u32::MAX),
            reason: reason.to_owned(),
            failed_time: Some(events::to_proto_timestamp(self.db.clock().now())),
        };
        let mut headers = async_nats::HeaderMap::new();
        if let Some(record) = record {
            // One dead letter per event and consumer, even if this step is repeated.
            headers.insert(
                async_nats::header::NATS_MESSAGE_ID,
                format!("{}:{}", record.id, self.spec.name).as_str(),
            );
        }
        let published = match self
            .js
            .publish_with_headers(subject, headers, events::encode(&letter))
            .await
        {
            Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match published {
            Ok(()) => {
                tracing::error!(consumer = %self.durable_name(), event_id = ?record.map(|r| r.id),
                    deliveries, %reason, "event dead-lettered");
                metrics::counter!("sportello_events_dead_lettered_total").increment(1);
                let _ = message.ack_with(AckKind::Term).await;
                Outcome::DeadLettered
            }
            Err(error) => {
                // Keep the event: JetStream redelivers it (there is no delivery limit on the
                // server) and it is dead-lettered when NATS allows.
                tracing::warn!(%error, "cannot publish dead letter; will retry");
                let _ = message
                    .ack_with(AckKind::Nak(Some(self.spec.retry_delay)))
                    .await;
                Outcome::WillRetry
            }
        }
    }
}

/// Faults a test can ask a service *process* for, through its environment, to kill it at
/// an instant no signal sent from outside can hit.
///
/// Compiled only into debug builds with the `testing` feature (the workspace's test
/// build), so a release binary has no such code, whatever its environment says. The
/// feature alone would not do: `cargo build --release --bins` at the workspace root (the
/// Dockerfile's) resolves features for every member, `sportello-tests` too, whose normal
/// dependency on the kit turns `testing` on for every binary of the build.
#[cfg(all(feature = "testing", debug_assertions))]
pub mod fault {
    use std::{sync::OnceLock, time::Duration};

    /// `SPORTELLO_FAULT_EXIT_AFTER_APPLY=<durable name>` (e.g. `routing-work-registry`):
    /// the process exits with [`EXIT_CODE`] as soon as that consumer has committed an
    /// event's unit of work, before it acknowledges the message — as if it was killed
    /// there. JetStream then holds the event unacknowledged and redelivers it.
    pub const EXIT_AFTER_APPLY: &str = "SPORTELLO_FAULT_EXIT_AFTER_APPLY";

    /// The exit status of a process that exited at a fault point: distinctive, so a test
    /// tells it from a crash of another kind.
    pub const EXIT_CODE: i32 = 86;

    /// `SPORTELLO_TEST_ACK_WAIT_MS=<milliseconds>`: every consumer of the process is
    /// created with this ack wait instead of its spec's, so a test sees the redelivery
    /// after a crash in seconds rather than after the production 30 s. Every process on
    /// the durable consumer must say the same, or each start sets its own.
    pub const ACK_WAIT_MS: &str = "SPORTELLO_TEST_ACK_WAIT_MS";

    /// Read once: the environment of a process does not change under it.
    fn exit_after_apply_target() -> Option<&'static str> {
        static TARGET: OnceLock<Option<String>> = OnceLock::new();
        TARGET
            .get_or_init(|| std::env::var(EXIT_AFTER_APPLY).ok())
            .as_deref()
    }

    pub(super) fn ack_wait() -> Option<Duration> {
        static ACK_WAIT: OnceLock<Option<Duration>> = OnceLock::new();
        *ACK_WAIT.get_or_init(|| {
            std::env::var(ACK_WAIT_MS)
                .ok()
                .and_then(|ms| ms.parse().ok())
                .map(Duration::from_millis)
        })
    }

    /// Exits the process if the test asked for it at this consumer.
    pub(super) fn exit_after_apply(consumer: &super::Consumer, event: uuid::Uuid) {
        let Some(target) = exit_after_apply_target() else {
            return;
        };
        if consumer.durable_name() == target {
            tracing::error!(consumer = target, %event, "fault point: exiting after the commit, before the ack");
            // No destructor, no graceful shutdown, no ack: what a kill leaves behind.
            std::process::exit(EXIT_CODE);
        }
    }
}

/// The lanes of a consumer that applies several aggregates' events side by side
/// ([`ConsumerSpec::lanes`]): one task per lane, each applying its events in order.
struct Lanes {
    senders: Vec<tokio::sync::mpsc::Sender<jetstream::Message>>,
    tasks: tokio::task::JoinSet<()>,
}

impl Lanes {
    fn start(consumer: &Arc<Consumer>) -> Self {
        let mut senders = Vec::new();
        let mut tasks = tokio::task::JoinSet::new();
        if consumer.spec.lanes > 1 {
            for _ in 0..consumer.spec.lanes {
                // One message waiting per lane: the stream, not this process, holds the
                // backlog (and redelivers it if the process dies).
                let (sender, mut receiver) = tokio::sync::mpsc::channel::<jetstream::Message>(1);
                let consumer = consumer.clone();
                tasks.spawn(async move {
                    while let Some(message) = receiver.recv().await {
                        consumer.process(&message).await;
                    }
                });
                senders.push(sender);
            }
        }
        Self { senders, tasks }
    }

    /// Applies `message` in its aggregate's lane, or here when there is one lane.
    async fn apply(&self, consumer: &Consumer, message: jetstream::Message) {
        if self.senders.is_empty() {
            consumer.process(&message).await;
            return;
        }
        let aggregate = message
            .headers
            .as_ref()
            .and_then(|h| h.get(events::header::SUBJECT))
            .map(|v| v.as_str().to_owned())
            .unwrap_or_default();
        let lane = lane_of(&aggregate, self.senders.len());
        if let Err(returned) = self.senders[lane].send(message).await {
            // The lane's task ended (it never does before `finish`): apply it here.
            consumer.process(&returned.0).await;
        }
    }

    /// Lets each lane finish what it holds.
    async fn finish(self) {
        let Self { senders, mut tasks } = self;
        drop(senders);
        while tasks.join_next().await.is_some() {}
    }
}

/// The lane of an aggregate: the same for every event of it.
fn lane_of(aggregate: &str, lanes: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    aggregate.hash(&mut hasher);
    usize::try_from(hasher.finish() % u64::try_from(lanes.max(1)).unwrap_or(1)).unwrap_or(0)
}
