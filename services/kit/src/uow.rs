//! A unit of work: one PostgreSQL transaction in which a service changes its state,
//! writes the events that describe the change (the outbox), schedules or cancels timers
//! and records idempotency keys — all committed together or not at all.

use std::sync::Arc;

use futures::future::BoxFuture;
use jiff::Timestamp;
use prost::Message;
use sha2::{Digest, Sha256};
use sportello_proto::Event;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::{
    ServiceError,
    clock::Clock,
    domain::{IdempotencyKey, MunicipalityCode},
};

/// Timestamps in and out of PostgreSQL.
pub type SqlTimestamp = jiff_sqlx::Timestamp;

/// A service's database handle: the pool, the clock, and the relay's wake-up bell.
#[derive(Clone, Debug)]
pub struct Db {
    pool: PgPool,
    clock: Clock,
    outbox_bell: Arc<Notify>,
    /// The group committer's queue, started at its first use.
    group: Arc<std::sync::OnceLock<GroupQueue>>,
}

/// The queue of [`Db::group_commit`]'s committer.
struct GroupQueue(tokio::sync::mpsc::UnboundedSender<crate::group_commit::Job>);

impl std::fmt::Debug for GroupQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GroupQueue")
    }
}

impl Db {
    /// A handle for a command-line tool beside a service (seeding, loading): the
    /// service's pool and the system clock; no relay listens for its outbox bell.
    pub fn for_tool(pool: PgPool) -> Self {
        Self::new(pool, Clock::system())
    }

    pub(crate) fn new(pool: PgPool, clock: Clock) -> Self {
        Self {
            pool,
            clock,
            outbox_bell: Arc::new(Notify::new()),
            group: Arc::default(),
        }
    }

    /// Runs `work` in a transaction shared with other callers' concurrent works (see
    /// [`crate::group_commit`]) and returns its result once that transaction committed.
    /// `work` may run twice — the first time in a batch rolled back because another work
    /// failed — so it must act only through its unit of work. For a request without an
    /// idempotency key: a keyed one needs its own claim, which a batch would share.
    pub async fn group_commit<T, Work>(&self, work: Work) -> Result<T, ServiceError>
    where
        T: Send + 'static,
        Work: for<'u> Fn(&'u mut UnitOfWork) -> BoxFuture<'u, Result<T, ServiceError>>
            + Send
            + Sync
            + 'static,
    {
        let queue = self.group.get_or_init(|| {
            // The committer's own handle has no queue of its own: when every handle of
            // the service is dropped, the queue closes and the committer ends.
            GroupQueue(crate::group_commit::start(Self {
                group: Arc::default(),
                ..self.clone()
            }))
        });
        let step: crate::group_commit::Step = Arc::new(move |uow: &mut UnitOfWork| {
            let done = work(uow);
            Box::pin(async move {
                done.await
                    .map(|t| Box::new(t) as Box<dyn std::any::Any + Send>)
            })
        });
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = crate::group_commit::Job {
            step,
            reply,
            span: tracing::Span::current(),
        };
        if queue.0.send(job).is_err() {
            return Err(ServiceError::unavailable(
                "il servizio si sta fermando (the service is stopping)",
                "the group committer has stopped",
            ));
        }
        let output = answer.await.map_err(|_| {
            ServiceError::unavailable(
                "il servizio si sta fermando (the service is stopping)",
                "the group committer dropped the request",
            )
        })??;
        output
            .downcast::<T>()
            .map(|t| *t)
            .map_err(|_| ServiceError::internal("group commit returned another type"))
    }

    /// The pool, for reads outside a unit of work.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The service's clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Rung after every commit that wrote events, so the relay publishes at once.
    pub(crate) fn outbox_bell(&self) -> Arc<Notify> {
        self.outbox_bell.clone()
    }

    /// Runs `work` in a unit of work made safe to retry by an optional idempotency key:
    /// the first call with a key does the work and stores its response in the same
    /// transaction; a later call with the same key and the same request returns that
    /// response and changes nothing. `fingerprint` is the request without its key.
    pub async fn idempotent<Resp, Work>(
        &self,
        operation: &str,
        key: Option<IdempotencyKey>,
        fingerprint: &impl Message,
        work: Work,
    ) -> Result<Resp, ServiceError>
    where
        Resp: Message + Default,
        Work: for<'u> FnOnce(&'u mut UnitOfWork) -> BoxFuture<'u, Result<Resp, ServiceError>>,
    {
        self.idempotent_or_replay(operation, key, fingerprint, work)
            .await
            .map(|(response, _)| response)
    }

    /// The response an earlier call with `key` recorded, if any — for a flow that must
    /// not ask other services again before it knows the call is new (a registry read is
    /// audited; a protocol number is a register entry). The probe claims nothing: its
    /// transaction is rolled back, and [`Db::idempotent`] claims the key with the work.
    pub async fn replay<Resp: Message + Default>(
        &self,
        operation: &str,
        key: Option<IdempotencyKey>,
        fingerprint: &impl Message,
    ) -> Result<Option<Resp>, ServiceError> {
        let Some(key) = key else {
            return Ok(None);
        };
        let mut probe = self.begin().await?;
        match probe
            .claim_idempotency_key(operation, key, fingerprint)
            .await?
        {
            Claim::Replay(bytes) => Resp::decode(bytes.as_slice())
                .map(Some)
                .map_err(ServiceError::internal),
            Claim::Fresh => Ok(None),
        }
    }

    /// [`Db::idempotent`], also saying whether the response was a replay (the work was
    /// done by an earlier call; what it returns may be out of date).
    pub async fn idempotent_or_replay<Resp, Work>(
        &self,
        operation: &str,
        key: Option<IdempotencyKey>,
        fingerprint: &impl Message,
        work: Work,
    ) -> Result<(Resp, bool), ServiceError>
    where
        Resp: Message + Default,
        Work: for<'u> FnOnce(&'u mut UnitOfWork) -> BoxFuture<'u, Result<Resp, ServiceError>>,
    {
        let mut uow = self.begin().await?;
        if let Some(key) = key
            && let Claim::Replay(bytes) = uow
                .claim_idempotency_key(operation, key, fingerprint)
                .await?
        {
            let response = Resp::decode(bytes.as_slice()).map_err(ServiceError::internal)?;
            return Ok((response, true));
        }
        let response = work(&mut uow).await?;
        if let Some(key) = key {
            uow.record_response(operation, key, &response).await?;
        }
        uow.commit().await?;
        Ok((response, false))
    }

    /// Starts a unit of work.
    pub async fn begin(&self) -> Result<UnitOfWork, sqlx::Error> {
        Ok(UnitOfWork {
            tx: self.pool.begin().await?,
            now: self.clock.now(),
            clock: self.clock.clone(),
            events: Vec::new(),
            emitted: 0,
            bell: self.outbox_bell.clone(),
        })
    }
}

/// The aggregate an event is about.
#[derive(Debug, Clone, Copy)]
pub struct Aggregate<'a> {
    /// `<service>.<entity>`, e.g. `registry.street`.
    pub kind: &'a str,
    /// The record's id.
    pub id: &'a str,
    /// The record's version after the change (1 for a new record).
    pub version: i64,
    /// The municipality it belongs to.
    pub municipality: MunicipalityCode,
}

/// A replayed response, or the go-ahead to do the work.
#[derive(Debug)]
pub enum Claim {
    /// First time this key is seen: do the work, then [`UnitOfWork::record_response`].
    Fresh,
    /// The key was used before for the same request: this was its response.
    Replay(Vec<u8>),
}

/// One transaction. Dropping it without [`UnitOfWork::commit`] rolls everything back.
/// A durable timer to schedule: `kind` and `key` name it (unique together), `due_at` is
/// when it fires, `payload` what its handler reads.
#[derive(Debug, Clone)]
pub struct TimerAt {
    /// The timer's kind, e.g. `routing.work.escalation`.
    pub kind: &'static str,
    /// Its key, unique within the kind.
    pub key: String,
    /// When it fires.
    pub due_at: Timestamp,
    /// What its handler reads.
    pub payload: serde_json::Value,
}

#[derive(Debug)]
pub struct UnitOfWork {
    tx: Transaction<'static, Postgres>,
    now: Timestamp,
    clock: Clock,
    events: Vec<PendingEvent>,
    emitted: usize,
    bell: Arc<Notify>,
}

/// An event waiting for its unit of work to commit.
#[derive(Debug)]
struct PendingEvent {
    id: Uuid,
    event_type: std::borrow::Cow<'static, str>,
    aggregate_kind: String,
    aggregate_id: String,
    aggregate_version: i64,
    municipality: String,
    data_type: String,
    payload: Vec<u8>,
    traceparent: Option<String>,
}

impl UnitOfWork {
    /// The connection, for the service's own queries.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// "Now", read once from the clock when the unit of work began, so every row it
    /// writes carries the same instant.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The clock, for the rare step that must read the time after waiting on a lock (a
    /// register's number and its time must rise together).
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Writes `event` to the outbox; it is published after the commit. Returns its id.
    ///
    /// Events are buffered and written together, in emission order, just before the
    /// commit: one statement for all of a unit of work's events.
    pub async fn emit<E: Event>(
        &mut self,
        event: &E,
        aggregate: Aggregate<'_>,
    ) -> Result<Uuid, sqlx::Error> {
        self.push_event(E::TYPE.into(), event, aggregate)
    }

    /// Buffers `event` under a type chosen at run time — for a family of events whose
    /// subject names its audience, like `work.<department>.completed`, which each
    /// department consumes with its own filter. The type must be lowercase dotted words.
    pub async fn emit_as<E: prost::Message + prost::Name>(
        &mut self,
        event_type: String,
        event: &E,
        aggregate: Aggregate<'_>,
    ) -> Result<Uuid, sqlx::Error> {
        let valid = !event_type.is_empty()
            && event_type.split('.').all(|token| {
                !token.is_empty()
                    && token
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            });
        if !valid {
            return Err(sqlx::Error::Protocol(format!(
                "{event_type:?} is not an event type (lowercase dotted words)"
            )));
        }
        self.push_event(event_type.into(), event, aggregate)
    }

    fn push_event<E: prost::Message + prost::Name>(
        &mut self,
        event_type: std::borrow::Cow<'static, str>,
        event: &E,
        aggregate: Aggregate<'_>,
    ) -> Result<Uuid, sqlx::Error> {
        let id = Uuid::now_v7();
        self.events.push(PendingEvent {
            id,
            event_type,
            aggregate_kind: aggregate.kind.to_owned(),
            aggregate_id: aggregate.id.to_owned(),
            aggregate_version: aggregate.version,
            municipality: aggregate.municipality.as_str().to_owned(),
            data_type: E::full_name(),
            payload: event.encode_to_vec(),
            traceparent: crate::propagation::current_traceparent(),
        });
        Ok(id)
    }

    /// Writes the buffered events to the outbox.
    async fn flush_events(&mut self) -> Result<(), sqlx::Error> {
        if self.events.is_empty() {
            return Ok(());
        }
        let events = std::mem::take(&mut self.events);
        let mut ids = Vec::with_capacity(events.len());
        let mut types = Vec::with_capacity(events.len());
        let mut kinds = Vec::with_capacity(events.len());
        let mut aggregate_ids = Vec::with_capacity(events.len());
        let mut versions = Vec::with_capacity(events.len());
        let mut municipalities = Vec::with_capacity(events.len());
        let mut data_types = Vec::with_capacity(events.len());
        let mut payloads = Vec::with_capacity(events.len());
        let mut traceparents = Vec::with_capacity(events.len());
        for e in events {
            ids.push(e.id);
            types.push(e.event_type);
            kinds.push(e.aggregate_kind);
            aggregate_ids.push(e.aggregate_id);
            versions.push(e.aggregate_version);
            municipalities.push(e.municipality);
            data_types.push(e.data_type);
            payloads.push(e.payload);
            traceparents.push(e.traceparent);
        }
        sqlx::query(
            "insert into outbox (id, event_type, aggregate_kind, aggregate_id, aggregate_version,
                                 municipality, data_type, payload, traceparent, occurred_at)
             select id, event_type, aggregate_kind, aggregate_id, aggregate_version,
                    municipality, data_type, payload, traceparent, $10
             from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bigint[],
                         $6::text[], $7::text[], $8::bytea[], $9::text[])
                  with ordinality as e(id, event_type, aggregate_kind, aggregate_id,
                                       aggregate_version, municipality, data_type, payload,
                                       traceparent, position)
             order by position",
        )
        .bind(&ids)
        .bind(&types)
        .bind(&kinds)
        .bind(&aggregate_ids)
        .bind(&versions)
        .bind(&municipalities)
        .bind(&data_types)
        .bind(&payloads)
        .bind(&traceparents)
        .bind(SqlTimestamp::from(self.now))
        .execute(&mut *self.tx)
        .await?;
        self.emitted += ids.len();
        Ok(())
    }

    /// Schedules a durable timer of `kind` for `key` (unique per kind) at `due_at`.
    /// Scheduling the same timer again re-arms it — moves it if pending, arms it anew if
    /// it had fired or was cancelled — so a recurring rule (a heartbeat's deadline) is one
    /// row per key.
    pub async fn schedule_timer(
        &mut self,
        kind: &str,
        key: &str,
        due_at: Timestamp,
        payload: serde_json::Value,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "insert into timers (id, kind, key, due_at, payload, created_at)
             values ($1, $2, $3, $4, $5, $6)
             on conflict (kind, key) do update
               set due_at = excluded.due_at, payload = excluded.payload,
                   created_at = excluded.created_at, fired_at = null, cancelled_at = null,
                   attempts = 0, last_error = null",
        )
        .bind(Uuid::now_v7())
        .bind(kind)
        .bind(key)
        .bind(SqlTimestamp::from(due_at))
        .bind(sqlx::types::Json(payload))
        .bind(SqlTimestamp::from(self.now))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Schedules several timers in one statement, each as [`Self::schedule_timer`] would:
    /// a unit of work that arms a clock's steps together (a warning, the day before, the
    /// due date) pays one round trip, not one per step.
    pub async fn schedule_timers(&mut self, timers: &[TimerAt]) -> Result<(), sqlx::Error> {
        if timers.is_empty() {
            return Ok(());
        }
        let ids: Vec<Uuid> = timers.iter().map(|_| Uuid::now_v7()).collect();
        let kinds: Vec<&str> = timers.iter().map(|t| t.kind).collect();
        let keys: Vec<&str> = timers.iter().map(|t| t.key.as_str()).collect();
        let due: Vec<SqlTimestamp> = timers
            .iter()
            .map(|t| SqlTimestamp::from(t.due_at))
            .collect();
        let payloads: Vec<sqlx::types::Json<&serde_json::Value>> = timers
            .iter()
            .map(|t| sqlx::types::Json(&t.payload))
            .collect();
        sqlx::query(
            "insert into timers (id, kind, key, due_at, payload, created_at)
             select id, kind, key, due_at, payload, $6
               from unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::jsonb[])
                    as t(id, kind, key, due_at, payload)
             on conflict (kind, key) do update
               set due_at = excluded.due_at, payload = excluded.payload,
                   created_at = excluded.created_at, fired_at = null, cancelled_at = null,
                   attempts = 0, last_error = null",
        )
        .bind(&ids)
        .bind(&kinds)
        .bind(&keys)
        .bind(&due)
        .bind(&payloads)
        .bind(SqlTimestamp::from(self.now))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Cancels the pending timers of `kind` among `keys` in one statement. Returns how
    /// many were pending.
    pub async fn cancel_timers(&mut self, kind: &str, keys: &[String]) -> Result<u64, sqlx::Error> {
        if keys.is_empty() {
            return Ok(0);
        }
        let done = sqlx::query(
            "update timers set cancelled_at = $3
             where kind = $1 and key = any($2) and fired_at is null and cancelled_at is null",
        )
        .bind(kind)
        .bind(keys)
        .bind(SqlTimestamp::from(self.now))
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected())
    }

    /// Cancels a pending timer. Returns whether one was pending.
    pub async fn cancel_timer(&mut self, kind: &str, key: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "update timers set cancelled_at = $3
             where kind = $1 and key = $2 and fired_at is null and cancelled_at is null",
        )
        .bind(kind)
        .bind(key)
        .bind(SqlTimestamp::from(self.now))
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Claims an idempotency key for `operation`. `request` is the request without its
    /// key; reusing a key for a different request is refused naming `idempotency_key`.
    ///
    /// A concurrent call with the same key waits here until the first commits, then
    /// replays its response; if the first rolled back, the second does the work.
    pub async fn claim_idempotency_key(
        &mut self,
        operation: &str,
        key: IdempotencyKey,
        request: &impl Message,
    ) -> Result<Claim, ServiceError> {
        let hash = Sha256::digest(request.encode_to_vec()).to_vec();
        let inserted = sqlx::query(
            "insert into idempotency_keys (operation, key, request_hash, created_at)
             values ($1, $2, $3, $4) on conflict do nothing",
        )
        .bind(operation)
        .bind(key.uuid())
        .bind(&hash)
        .bind(SqlTimestamp::from(self.now))
        .execute(&mut *self.tx)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(Claim::Fresh);
        }
        let (stored_hash, response): (Vec<u8>, Option<Vec<u8>>) = sqlx::query_as(
            "select request_hash, response from idempotency_keys where operation = $1 and key = $2",
        )
        .bind(operation)
        .bind(key.uuid())
        .fetch_one(&mut *self.tx)
        .await?;
        if stored_hash != hash {
            return Err(ServiceError::invalid_field(
                "idempotency_key",
                "was already used for a different request",
            ));
        }
        response
            .map(Claim::Replay)
            .ok_or_else(|| ServiceError::internal("idempotency key committed without a response"))
    }

    /// Stores the response of a call made under a fresh idempotency key.
    pub async fn record_response(
        &mut self,
        operation: &str,
        key: IdempotencyKey,
        response: &impl Message,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("update idempotency_keys set response = $3 where operation = $1 and key = $2")
            .bind(operation)
            .bind(key.uuid())
            .bind(response.encode_to_vec())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Commits, then wakes the relay if events were written.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        self.flush_events().await?;
        self.tx.commit().await?;
        if self.emitted > 0 {
            self.bell.notify_one();
        }
        Ok(())
    }
}
