//! Purges what has served its purpose, in bounded batches ([`crate::retention::BATCH`]
//! rows per statement) so a large backlog never holds locks long:
//!
//! - the kit's own rows: published outbox rows, inbox rows and fired or cancelled timers
//!   after `RETENTION` (7 days by default — longer than JetStream keeps an event, see
//!   [`crate::retention::Periods::check_events`], so a purged inbox row can never let a
//!   redelivered event apply twice), idempotency keys and their stored replies after
//!   `RETENTION_IDEMPOTENCY`;
//! - the service's own [`RetentionRule`]s: delete, anonymise, or propose for discard.

use std::{collections::BTreeMap, time::Duration};

use jiff::{SignedDuration, Timestamp};
use tokio_util::sync::CancellationToken;

use crate::{
    retention::{Action, BATCH, Category, MAX_BATCHES, Periods, RetentionRule},
    uow::{Db, SqlTimestamp},
};

/// How many rows one pass treated.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Purged {
    /// Published outbox rows.
    pub outbox: u64,
    /// Inbox rows.
    pub inbox: u64,
    /// Fired or cancelled timers.
    pub timers: u64,
    /// Idempotency keys.
    pub idempotency_keys: u64,
    /// Rows deleted, anonymised or proposed for discard, per rule of the service.
    pub rules: BTreeMap<&'static str, u64>,
}

impl Purged {
    /// The count of the service's rule `name` (0 when it treated nothing).
    pub fn rule(&self, name: &str) -> u64 {
        self.rules.get(name).copied().unwrap_or(0)
    }

    fn is_empty(&self) -> bool {
        self.outbox + self.inbox + self.timers + self.idempotency_keys == 0
            && self.rules.values().all(|n| *n == 0)
    }
}

const KIT_ROWS: [(&str, &str, &str); 3] = [
    ("outbox", "published_at", "published_at is not null"),
    ("inbox", "received_at", "true"),
    (
        "timers",
        "coalesce(fired_at, cancelled_at)",
        "fired_at is not null or cancelled_at is not null",
    ),
];

/// The purge worker of one service.
#[derive(Debug)]
pub struct Janitor {
    db: Db,
    retention: Duration,
    periods: Periods,
    rules: Vec<RetentionRule>,
}

impl Janitor {
    pub(crate) fn new(
        db: Db,
        retention: Duration,
        periods: Periods,
        rules: Vec<RetentionRule>,
    ) -> Self {
        Self {
            db,
            retention,
            periods,
            rules,
        }
    }

    /// The service's rules.
    pub fn rules(&self) -> &[RetentionRule] {
        &self.rules
    }

    /// One pass: every kit table and every rule, by the service's clock. A rule that
    /// fails is logged and the others still run; the first error is returned at the end.
    pub async fn run_once(&self) -> Result<Purged, sqlx::Error> {
        let now = self.db.clock().now();
        let mut purged = Purged::default();
        let mut first_error = None;
        for (table, age, pending) in KIT_ROWS {
            let rule = RetentionRule {
                name: table,
                category: Category::Idempotency,
                table,
                age,
                pending,
                action: Action::Delete,
            };
            let count = match self.apply(&rule, self.retention, now).await {
                Ok(count) => count,
                Err(error) => {
                    tracing::warn!(%error, table, "purge failed");
                    first_error.get_or_insert(error);
                    0
                }
            };
            match table {
                "outbox" => purged.outbox = count,
                "inbox" => purged.inbox = count,
                _ => purged.timers = count,
            }
        }
        let idempotency = RetentionRule {
            name: "idempotency_keys",
            category: Category::Idempotency,
            table: "idempotency_keys",
            age: "created_at",
            pending: "true",
            action: Action::Delete,
        };
        match self
            .apply(&idempotency, self.periods.get(Category::Idempotency), now)
            .await
        {
            Ok(count) => purged.idempotency_keys = count,
            Err(error) => {
                tracing::warn!(%error, "purge of idempotency keys failed");
                first_error.get_or_insert(error);
            }
        }
        for rule in &self.rules {
            match self.apply(rule, self.periods.get(rule.category), now).await {
                Ok(count) => {
                    *purged.rules.entry(rule.name).or_default() += count;
                }
                Err(error) => {
                    tracing::warn!(%error, rule = rule.name, "retention rule failed");
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(purged),
        }
    }

    /// Applies `rule` to rows older than `period` at `now`, a batch per statement, until
    /// a batch comes back short or [`MAX_BATCHES`] ran.
    async fn apply(
        &self,
        rule: &RetentionRule,
        period: Duration,
        now: Timestamp,
    ) -> Result<u64, sqlx::Error> {
        let signed = SignedDuration::try_from(period).unwrap_or(SignedDuration::MAX);
        let cutoff = SqlTimestamp::from(now.saturating_sub(signed).unwrap_or(now));
        let sql = rule.batch_sql();
        let seconds = i64::try_from(period.as_secs()).unwrap_or(i64::MAX);
        let mut total = 0;
        for _ in 0..MAX_BATCHES {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(cutoff)
                .bind(BATCH);
            match rule.action {
                Action::ProposeDiscard { .. } => {
                    query = query
                        .bind(rule.name)
                        .bind(seconds)
                        .bind(SqlTimestamp::from(now));
                }
                Action::Anonymise(set) if set.contains("$3") => {
                    query = query.bind(SqlTimestamp::from(now));
                }
                _ => {}
            }
            let done = query.execute(self.db.pool()).await?.rows_affected();
            total += done;
            if done < BATCH as u64 {
                break;
            }
        }
        Ok(total)
    }

    /// Purges once an hour until `shutdown`.
    pub async fn run(self: std::sync::Arc<Self>, shutdown: CancellationToken) {
        loop {
            match self.run_once().await {
                Ok(purged) if !purged.is_empty() => {
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

/// One proposal of discard, as listed for the archivist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscardProposal {
    /// The rule that proposed it.
    pub category: String,
    /// The record's table.
    pub record_table: String,
    /// The record's id.
    pub record_id: String,
    /// When its term ran out.
    pub eligible_since: Timestamp,
    /// Its class of the piano di conservazione.
    pub class: String,
    /// When the janitor listed it.
    pub proposed_at: Timestamp,
}

/// Every proposal of discard, oldest term first.
pub async fn discard_proposals(db: &sqlx::PgPool) -> Result<Vec<DiscardProposal>, sqlx::Error> {
    let rows: Vec<(String, String, String, SqlTimestamp, String, SqlTimestamp)> = sqlx::query_as(
        "select category, record_table, record_id, eligible_since, class, proposed_at
             from discard_proposals order by eligible_since, category, record_id",
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(category, record_table, record_id, eligible_since, class, proposed_at)| {
                DiscardProposal {
                    category,
                    record_table,
                    record_id,
                    eligible_since: eligible_since.to_jiff(),
                    class,
                    proposed_at: proposed_at.to_jiff(),
                }
            },
        )
        .collect())
}

/// The proposals as CSV (RFC 4180), with a header line.
pub fn proposals_csv(proposals: &[DiscardProposal]) -> String {
    let mut out =
        String::from("category,record_table,record_id,eligible_since,class,proposed_at\n");
    for p in proposals {
        let fields = [
            p.category.clone(),
            p.record_table.clone(),
            p.record_id.clone(),
            p.eligible_since.to_string(),
            p.class.clone(),
            p.proposed_at.to_string(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_it() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }
}
