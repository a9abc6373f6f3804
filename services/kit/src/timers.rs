//! Durable timers: what must happen later is a row in PostgreSQL, fired by a worker.
//!
//! Services schedule timers inside a unit of work ([`UnitOfWork::schedule_timer`]), so a
//! timer exists exactly when the state that needs it was committed. The worker fires due
//! timers by the service's clock, each in its own unit of work with the handler's
//! effects; a failing handler is retried later with backoff. Tests move a manual clock
//! and call [`TimerWorker::run_once`] instead of sleeping.
//!
//! [`UnitOfWork::schedule_timer`]: crate::UnitOfWork::schedule_timer

use std::{collections::HashMap, sync::Arc, time::Duration};

use futures::future::BoxFuture;
use jiff::{SignedDuration, Timestamp};
use sqlx::Row;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    ServiceError,
    uow::{Db, SqlTimestamp, UnitOfWork},
};

/// A due timer, as its handler sees it.
#[derive(Debug, Clone)]
pub struct Timer {
    /// Row id.
    pub id: Uuid,
    /// What kind of timer (one handler per kind).
    pub kind: String,
    /// Its key, unique per kind (usually the aggregate's id).
    pub key: String,
    /// When it was due.
    pub due_at: Timestamp,
    /// What the scheduler stored with it.
    pub payload: serde_json::Value,
    /// Failed attempts so far.
    pub attempts: i32,
}

/// Fires timers of one kind.
pub trait TimerHandler: Send + Sync + 'static {
    /// Applies the timer's effect through `uow`; the timer is marked fired in the same
    /// transaction.
    fn fire<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        timer: &'a Timer,
    ) -> BoxFuture<'a, Result<(), ServiceError>>;
}

/// Fires the due timers of one service.
pub struct TimerWorker {
    db: Db,
    handlers: HashMap<String, Arc<dyn TimerHandler>>,
}

impl std::fmt::Debug for TimerWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimerWorker")
            .field("kinds", &self.handlers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl TimerWorker {
    pub(crate) fn new(db: Db, handlers: HashMap<String, Arc<dyn TimerHandler>>) -> Self {
        Self { db, handlers }
    }

    /// Fires every timer due by the clock now. Returns how many fired.
    pub async fn run_once(&self) -> Result<usize, sqlx::Error> {
        let mut fired = 0;
        while let Some(done) = self.fire_next().await? {
            fired += usize::from(done);
        }
        Ok(fired)
    }

    /// Fires the earliest due timer. `None` when nothing is due; `Some(false)` when its
    /// handler failed (it is retried later).
    async fn fire_next(&self) -> Result<Option<bool>, sqlx::Error> {
        let mut uow = self.db.begin().await?;
        let now = uow.now();
        let row = sqlx::query(
            "select id, kind, key, due_at, payload, attempts from timers
             where fired_at is null and cancelled_at is null and due_at <= $1
             order by due_at limit 1 for update skip locked",
        )
        .bind(SqlTimestamp::from(now))
        .fetch_optional(uow.conn())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let timer = Timer {
            id: row.try_get("id")?,
            kind: row.try_get("kind")?,
            key: row.try_get("key")?,
            due_at: row.try_get::<SqlTimestamp, _>("due_at")?.to_jiff(),
            payload: row
                .try_get::<sqlx::types::Json<serde_json::Value>, _>("payload")?
                .0,
            attempts: row.try_get("attempts")?,
        };

        let result = match self.handlers.get(&timer.kind) {
            Some(handler) => handler.fire(&mut uow, &timer).await,
            None => Err(ServiceError::internal(format!(
                "no handler for timer kind {}",
                timer.kind
            ))),
        };
        match result {
            Ok(()) => {
                // A handler that re-armed its own timer moved `due_at`: keep it pending.
                sqlx::query("update timers set fired_at = $2 where id = $1 and due_at = $3")
                    .bind(timer.id)
                    .bind(SqlTimestamp::from(now))
                    .bind(SqlTimestamp::from(timer.due_at))
                    .execute(uow.conn())
                    .await?;
                uow.commit().await?;
                metrics::counter!("sportello_timers_fired_total").increment(1);
                Ok(Some(true))
            }
            Err(error) => {
                drop(uow);
                let attempts = timer.attempts.saturating_add(1);
                // 1 min, 2, 4, … capped at 1 h: a broken dependency is not hammered.
                let delay = SignedDuration::from_mins(1i64 << attempts.clamp(0, 6));
                let next = now.saturating_add(delay).unwrap_or(now);
                tracing::warn!(timer_kind = %timer.kind, timer_id = %timer.id, attempts,
                    error = %error.detail(), "timer failed; retrying later");
                sqlx::query(
                    "update timers set attempts = $2, last_error = $3, due_at = $4 where id = $1",
                )
                .bind(timer.id)
                .bind(attempts)
                .bind(error.detail())
                .bind(SqlTimestamp::from(next))
                .execute(self.db.pool())
                .await?;
                Ok(Some(false))
            }
        }
    }

    /// Fires due timers every `poll` until `shutdown`.
    pub async fn run(self: Arc<Self>, poll: Duration, shutdown: CancellationToken) {
        loop {
            if let Err(error) = self.run_once().await {
                tracing::warn!(%error, "timer pass failed");
            }
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                () = shutdown.cancelled() => break,
            }
        }
    }
}
