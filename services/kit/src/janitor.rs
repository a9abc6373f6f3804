//! Purges what has served its purpose: published outbox rows, inbox rows, fired or
//! cancelled timers and idempotency keys older than the retention (`RETENTION`, 7 days
//! by default — far longer than JetStream may redeliver an event or a client retry).

use std::time::Duration;

use jiff::SignedDuration;
use tokio_util::sync::CancellationToken;

use crate::uow::{Db, SqlTimestamp};

/// How many rows one purge removed, per table.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    /// Published outbox rows.
    pub outbox: u64,
    /// Inbox rows.
    pub inbox: u64,
    /// Fired or cancelled timers.
    pub timers: u64,
    /// Idempotency keys.
    pub idempotency_keys: u64,
}

/// The purge worker of one service.
#[derive(Debug)]
pub struct Janitor {
    db: Db,
    retention: Duration,
}

impl Janitor {
    pub(crate) fn new(db: Db, retention: Duration) -> Self {
        Self { db, retention }
    }

    /// Deletes rows older than the retention, by the service's clock.
    pub async fn run_once(&self) -> Result<Purged, sqlx::Error> {
        let retention = SignedDuration::try_from(self.retention).unwrap_or(SignedDuration::MAX);
        let now = self.db.clock().now();
        let cutoff = SqlTimestamp::from(now.saturating_sub(retention).unwrap_or(now));
        let pool = self.db.pool();
        let purged = Purged {
            outbox: sqlx::query("delete from outbox where published_at < $1")
                .bind(cutoff)
                .execute(pool)
                .await?
                .rows_affected(),
            inbox: sqlx::query("delete from inbox where received_at < $1")
                .bind(cutoff)
                .execute(pool)
                .await?
                .rows_affected(),
            timers: sqlx::query("delete from timers where coalesce(fired_at, cancelled_at) < $1")
                .bind(cutoff)
                .execute(pool)
                .await?
                .rows_affected(),
            idempotency_keys: sqlx::query("delete from idempotency_keys where created_at < $1")
                .bind(cutoff)
                .execute(pool)
                .await?
                .rows_affected(),
        };
        Ok(purged)
    }

    /// Purges once an hour until `shutdown`.
    pub async fn run(self: std::sync::Arc<Self>, shutdown: CancellationToken) {
        loop {
            match self.run_once().await {
                Ok(purged) if purged != Purged::default() => {
                    tracing::info!(?purged, "purged old rows")
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "purge failed"),
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(3_600)) => {}
                () = shutdown.cancelled() => break,
            }
        }
    }
}
