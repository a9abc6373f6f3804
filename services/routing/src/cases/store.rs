//! Cases in PostgreSQL.
//!
//! Transitions follow one pattern: lock the case (`FOR UPDATE`), change it in Rust, save
//! it with its version incremented and a history line whose sequence is that version.
//! Calling a waiting case is the exception, for speed: one conditional UPDATE that only
//! succeeds while the case is still waiting — the database is the arbiter between
//! operators and replicas racing for the same case.

use jiff::Timestamp;
use sportello_kit::{UnitOfWork, uow::SqlTimestamp};
use sportello_proto::{
    common::v1::Channel,
    routing::v1::{CaseHistoryEntry, CaseStatus, PriorityCategory},
};
use sqlx::{PgExecutor, Row, postgres::PgRow};
use uuid::Uuid;

use super::domain::Case;
use crate::{
    domain::{Stored, decode, tier_from_number, tier_number},
    error::RoutingError,
};

const COLUMNS: &str = "c.id, c.municipality, c.requester_ref, c.service_code, c.department, c.tier,
    c.channel, c.site_id, c.service_group, c.priority, c.status, c.ticket_id, t.label as ticket_label,
    c.ticket_position, c.arrival_at, c.opened_at, c.operator_id, c.counter_number, c.call_count,
    c.called_at, c.outcome_code, c.closed_at, c.version";

const FROM: &str = "cases c left join tickets t on t.id = c.ticket_id";

fn ts(row: &PgRow, column: &str) -> Result<Timestamp, sqlx::Error> {
    Ok(row.try_get::<SqlTimestamp, _>(column)?.to_jiff())
}

fn optional_ts(row: &PgRow, column: &str) -> Result<Option<Timestamp>, sqlx::Error> {
    Ok(row
        .try_get::<Option<SqlTimestamp>, _>(column)?
        .map(SqlTimestamp::to_jiff))
}

/// Reads a case from a row selected with [`COLUMNS`].
pub fn from_row(row: &PgRow) -> Result<Case, sqlx::Error> {
    let municipality: String = row.try_get("municipality")?;
    let requester_ref: Option<String> = row.try_get("requester_ref")?;
    let tier: i16 = row.try_get("tier")?;
    Ok(Case {
        id: row.try_get("id")?,
        municipality: municipality
            .parse()
            .map_err(|e: &str| sqlx::Error::Decode(e.into()))?,
        requester_ref: requester_ref
            .map(|r| r.parse().map_err(|e: &str| sqlx::Error::Decode(e.into())))
            .transpose()?,
        service_code: row.try_get("service_code")?,
        department: row.try_get("department")?,
        tier: tier_from_number(tier).ok_or_else(|| sqlx::Error::Decode("tier".into()))?,
        channel: decode::<Channel>(row.try_get("channel")?)?,
        site_id: row.try_get("site_id")?,
        group: row.try_get("service_group")?,
        priority: decode::<PriorityCategory>(row.try_get("priority")?)?,
        status: decode::<CaseStatus>(row.try_get("status")?)?,
        ticket_id: row.try_get("ticket_id")?,
        ticket_label: row.try_get("ticket_label")?,
        ticket_position: row.try_get("ticket_position")?,
        arrival_at: ts(row, "arrival_at")?,
        opened_at: ts(row, "opened_at")?,
        operator_id: row.try_get("operator_id")?,
        counter_number: row.try_get("counter_number")?,
        call_count: row.try_get("call_count")?,
        called_at: optional_ts(row, "called_at")?,
        outcome_code: row.try_get("outcome_code")?,
        closed_at: optional_ts(row, "closed_at")?,
        version: row.try_get("version")?,
    })
}

async fn history(
    uow: &mut UnitOfWork,
    case: &Case,
    actor: &str,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("insert into case_history (case_id, seq, status, at, actor, reason) values ($1, $2, $3, $4, $5, $6)")
        .bind(case.id)
        .bind(i32::try_from(case.version).unwrap_or(i32::MAX))
        .bind(case.status.to_db())
        .bind(SqlTimestamp::from(uow.now()))
        .bind(actor)
        .bind(reason)
        .execute(uow.conn())
        .await?;
    Ok(())
}

/// Inserts a new case (version 1) with its first history line, in one statement (one
/// round trip: a batch of openings runs this once per case).
pub async fn insert(uow: &mut UnitOfWork, case: &Case, actor: &str) -> Result<(), RoutingError> {
    sqlx::query(
        "with inserted as (
             insert into cases (id, municipality, requester_ref, service_code, department, tier, channel,
                 site_id, service_group, priority, status, ticket_id, ticket_position, arrival_at, opened_at, version)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 1)
             returning id)
         insert into case_history (case_id, seq, status, at, actor, reason)
         select id, 1, $11, $16, $17, 'opened' from inserted",
    )
    .bind(case.id)
    .bind(case.municipality.as_str())
    .bind(case.requester_ref.as_ref().map(|r| r.as_str()))
    .bind(&case.service_code)
    .bind(&case.department)
    .bind(tier_number(case.tier))
    .bind(case.channel.to_db())
    .bind(case.site_id)
    .bind(&case.group)
    .bind(case.priority.to_db())
    .bind(case.status.to_db())
    .bind(case.ticket_id)
    .bind(case.ticket_position)
    .bind(SqlTimestamp::from(case.arrival_at))
    .bind(SqlTimestamp::from(case.opened_at))
    .bind(SqlTimestamp::from(uow.now()))
    .bind(actor)
    .execute(uow.conn())
    .await?;
    Ok(())
}

/// One case.
pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> Result<Case, RoutingError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from {FROM} where c.id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or(RoutingError::CaseNotFound)?;
    Ok(from_row(&row)?)
}

/// One case, locked until the unit of work ends.
pub async fn lock(uow: &mut UnitOfWork, id: Uuid) -> Result<Case, RoutingError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from {FROM} where c.id = $1 for update of c"
    )))
    .bind(id)
    .fetch_optional(uow.conn())
    .await?
    .ok_or(RoutingError::CaseNotFound)?;
    Ok(from_row(&row)?)
}

/// Saves a locked case after a transition: every mutable field, the next version, and a
/// history line. Returns the saved case.
pub async fn save(
    uow: &mut UnitOfWork,
    mut case: Case,
    actor: &str,
    reason: &str,
) -> Result<Case, RoutingError> {
    let updated = sqlx::query(
        "update cases set service_code = $3, department = $4, tier = $5, service_group = $6,
             status = $7, arrival_at = $8, operator_id = $9, counter_number = $10, call_count = $11,
             called_at = $12, outcome_code = $13, closed_at = $14, version = version + 1
         where id = $1 and version = $2",
    )
    .bind(case.id)
    .bind(case.version)
    .bind(&case.service_code)
    .bind(&case.department)
    .bind(tier_number(case.tier))
    .bind(&case.group)
    .bind(case.status.to_db())
    .bind(SqlTimestamp::from(case.arrival_at))
    .bind(&case.operator_id)
    .bind(case.counter_number)
    .bind(case.call_count)
    .bind(case.called_at.map(SqlTimestamp::from))
    .bind(&case.outcome_code)
    .bind(case.closed_at.map(SqlTimestamp::from))
    .execute(uow.conn())
    .await?;
    if updated.rows_affected() == 0 {
        return Err(RoutingError::StaleVersion { what: "case" });
    }
    case.version += 1;
    history(uow, &case, actor, reason).await?;
    Ok(case)
}

/// Calls a case if it is still waiting, with its history line: the one statement that
/// decides races.
/// `None` when someone else got it first (or it left the queue).
pub async fn claim(
    uow: &mut UnitOfWork,
    id: Uuid,
    operator_id: &str,
    counter: i16,
    actor: &str,
    reason: &str,
) -> Result<Option<Case>, RoutingError> {
    let now = SqlTimestamp::from(uow.now());
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "with claimed as (
             update cases set status = 'called', operator_id = $2, counter_number = $3,
                 call_count = call_count + 1, called_at = $4, version = version + 1
             where id = $1 and status = 'waiting'
             returning *),
         logged as (
             insert into case_history (case_id, seq, status, at, actor, reason)
             select id, version, 'called', $4, $5, $6 from claimed)
         select {COLUMNS} from claimed c left join tickets t on t.id = c.ticket_id"
    )))
    .bind(id)
    .bind(operator_id)
    .bind(counter)
    .bind(now)
    .bind(actor)
    .bind(reason)
    .fetch_optional(uow.conn())
    .await;
    let row = match row {
        Ok(row) => row,
        Err(error)
            if sportello_kit::db::violated_constraint(
                &error,
                sportello_kit::db::sqlstate::UNIQUE_VIOLATION,
            ) == Some("cases_one_called_per_operator") =>
        {
            return Err(RoutingError::AlreadyHolding);
        }
        Err(error) => return Err(error.into()),
    };
    let Some(row) = row else { return Ok(None) };
    let case = from_row(&row)?;
    Ok(Some(case))
}

/// Completes the case `operator_id` holds at a counter, with its history line, in one
/// statement; `wrap_up_seconds`, when given, is recorded with it (0 for an operator who
/// calls the next case at once). `None` when the operator does not hold it as called:
/// the caller then reads why.
#[allow(clippy::too_many_arguments)]
pub async fn complete_held(
    uow: &mut UnitOfWork,
    id: Uuid,
    operator_id: &str,
    outcome: &str,
    wrap_up_seconds: Option<i32>,
    actor: &str,
    reason: &str,
) -> Result<Option<Case>, RoutingError> {
    let now = SqlTimestamp::from(uow.now());
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "with done as (
             update cases set status = 'completed', outcome_code = $3, closed_at = $4,
                 wrap_up_seconds = coalesce($5, wrap_up_seconds), version = version + 1
             where id = $1 and status = 'called' and operator_id = $2
             returning *),
         logged as (
             insert into case_history (case_id, seq, status, at, actor, reason)
             select id, version, 'completed', $4, $6, $7 from done)
         select {COLUMNS} from done c left join tickets t on t.id = c.ticket_id"
    )))
    .bind(id)
    .bind(operator_id)
    .bind(outcome)
    .bind(now)
    .bind(wrap_up_seconds)
    .bind(actor)
    .bind(reason)
    .fetch_optional(uow.conn())
    .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// The counter's "complete and call next" in one statement: completes the case
/// `operator_id` holds (as [`complete_held`], wrap-up 0) and claims `next` if it is still
/// waiting (as [`claim`]), each with its history line — one round trip and one executor
/// start where the two statements took two. The claim reads the completion's row, so it
/// runs after it (the operator's unique "one called case" index never sees two), and only
/// when that case has no ticket: a ticket's next service comes first, which the caller
/// decides. Returns the completed case (`None`: the operator does not hold it, nothing
/// was claimed) and the claimed one (`None`: gone, or not tried).
#[allow(clippy::too_many_arguments)]
pub async fn complete_held_and_claim(
    uow: &mut UnitOfWork,
    id: Uuid,
    operator_id: &str,
    outcome: &str,
    actor: &str,
    reason: &str,
    next: Uuid,
    counter: i16,
    claim_reason: &str,
) -> Result<(Option<Case>, Option<Case>), RoutingError> {
    let now = SqlTimestamp::from(uow.now());
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "with done as (
             update cases set status = 'completed', outcome_code = $3, closed_at = $4,
                 wrap_up_seconds = 0, version = version + 1
             where id = $1 and status = 'called' and operator_id = $2
             returning *),
         done_logged as (
             insert into case_history (case_id, seq, status, at, actor, reason)
             select id, version, 'completed', $4, $5, $6 from done),
         claimed as (
             update cases n set status = 'called', operator_id = $2, counter_number = $8,
                 call_count = n.call_count + 1, called_at = $4, version = n.version + 1
             from done d
             where n.id = $7 and n.status = 'waiting' and d.ticket_id is null
             returning n.*),
         claim_logged as (
             insert into case_history (case_id, seq, status, at, actor, reason)
             select id, version, 'called', $4, $5, $9 from claimed)
         select true as completed, {COLUMNS} from done c left join tickets t on t.id = c.ticket_id
         union all
         select false, {COLUMNS} from claimed c left join tickets t on t.id = c.ticket_id"
    )))
    .bind(id)
    .bind(operator_id)
    .bind(outcome)
    .bind(now)
    .bind(actor)
    .bind(reason)
    .bind(next)
    .bind(counter)
    .bind(claim_reason)
    .fetch_all(uow.conn())
    .await;
    let rows = match rows {
        Ok(rows) => rows,
        Err(error)
            if sportello_kit::db::violated_constraint(
                &error,
                sportello_kit::db::sqlstate::UNIQUE_VIOLATION,
            ) == Some("cases_one_called_per_operator") =>
        {
            return Err(RoutingError::AlreadyHolding);
        }
        Err(error) => return Err(error.into()),
    };
    let (mut done, mut claimed) = (None, None);
    for row in &rows {
        let case = from_row(row)?;
        if row.try_get::<bool, _>("completed")? {
            done = Some(case);
        } else {
            claimed = Some(case);
        }
    }
    Ok((done, claimed))
}

/// The case an operator holds at a counter, if any.
pub async fn held_by(
    db: impl PgExecutor<'_>,
    operator_id: &str,
) -> Result<Option<Case>, RoutingError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from {FROM} where c.operator_id = $1 and c.status = 'called'"
    )))
    .bind(operator_id)
    .fetch_optional(db)
    .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// The other open cases of a ticket, behind `case`, in order, locked.
pub async fn pending_of_ticket(
    uow: &mut UnitOfWork,
    ticket_id: Uuid,
) -> Result<Vec<Case>, RoutingError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from {FROM} where c.ticket_id = $1 and c.status = 'pending'
         order by c.ticket_position for update of c"
    )))
    .bind(ticket_id)
    .fetch_all(uow.conn())
    .await?;
    rows.iter()
        .map(|r| from_row(r).map_err(RoutingError::from))
        .collect()
}

/// The cases of a ticket, in order.
pub async fn of_ticket(
    db: impl PgExecutor<'_>,
    ticket_id: Uuid,
) -> Result<Vec<Case>, RoutingError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from {FROM} where c.ticket_id = $1 order by c.ticket_position"
    )))
    .bind(ticket_id)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| from_row(r).map_err(RoutingError::from))
        .collect()
}

/// A case's history, oldest first.
pub async fn history_of(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Vec<CaseHistoryEntry>, RoutingError> {
    let rows = sqlx::query(
        "select status, at, actor, reason from case_history where case_id = $1 order by seq",
    )
    .bind(id)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(CaseHistoryEntry {
                status: decode::<CaseStatus>(row.try_get("status")?)? as i32,
                time: Some(sportello_kit::events::to_proto_timestamp(ts(row, "at")?)),
                actor: row.try_get("actor")?,
                reason: row.try_get("reason")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(RoutingError::from)
}

/// Cases of a site with one of `statuses` (all when empty), by arrival, after the cursor.
pub async fn list(
    db: impl PgExecutor<'_>,
    site_id: Uuid,
    statuses: &[CaseStatus],
    after: Option<(Timestamp, Uuid)>,
    limit: i64,
) -> Result<Vec<Case>, RoutingError> {
    let statuses: Vec<&str> = statuses.iter().map(|s| s.to_db()).collect();
    let (after_at, after_id) = after.map_or((None, None), |(at, id)| {
        (Some(SqlTimestamp::from(at)), Some(id))
    });
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from {FROM}
         where c.site_id = $1 and (cardinality($2::text[]) = 0 or c.status = any($2))
           and ($3::timestamptz is null or (c.arrival_at, c.id) > ($3, $4))
         order by c.arrival_at, c.id limit $5"
    )))
    .bind(site_id)
    .bind(&statuses)
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| from_row(r).map_err(RoutingError::from))
        .collect()
}

/// Every case waiting at a counter queue, for a replica's dispatcher to start from.
pub async fn waiting_at_counters(db: impl PgExecutor<'_>) -> Result<Vec<Case>, RoutingError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from {FROM}
         where c.status = 'waiting' and c.site_id is not null
           and c.channel in ('counter', 'appointment') and c.tier <= 3"
    )))
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| from_row(r).map_err(RoutingError::from))
        .collect()
}

/// Records the wrap-up time on the case it was for.
pub async fn record_wrap_up(
    uow: &mut UnitOfWork,
    case: Uuid,
    seconds: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query("update cases set wrap_up_seconds = $2 where id = $1")
        .bind(case)
        .bind(seconds)
        .execute(uow.conn())
        .await?;
    Ok(())
}

/// One queue's counts.
#[derive(Debug, Clone)]
pub struct QueueCounts {
    /// Group.
    pub group: String,
    /// Waiting.
    pub waiting: i64,
    /// Of which priority.
    pub priority: i64,
    /// The oldest arrival.
    pub oldest: Option<Timestamp>,
}

/// Waiting counts per queue of a site.
pub async fn queue_counts(
    db: impl PgExecutor<'_>,
    site_id: Uuid,
) -> Result<Vec<QueueCounts>, RoutingError> {
    let rows = sqlx::query(
        "select service_group, count(*) as waiting, count(*) filter (where priority <> 'none') as priority,
                min(arrival_at) as oldest
         from cases where site_id = $1 and status = 'waiting' group by service_group",
    )
    .bind(site_id)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(QueueCounts {
                group: row.try_get("service_group")?,
                waiting: row.try_get("waiting")?,
                priority: row.try_get("priority")?,
                oldest: optional_ts(row, "oldest")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(RoutingError::from)
}

/// Recent handling times at a site, seconds from call to close, by queue: each queue's
/// latest `per_queue` completions since `since`.
pub async fn recent_handling(
    db: impl PgExecutor<'_>,
    site_id: Uuid,
    since: jiff::Timestamp,
    per_queue: i64,
) -> Result<Vec<(String, f64)>, RoutingError> {
    let rows: Vec<(String, f64)> = sqlx::query_as(
        "select service_group, secs from (
             select service_group,
                    extract(epoch from closed_at - called_at)::float8 as secs,
                    row_number() over (partition by service_group order by closed_at desc) as n
             from cases
             where site_id = $1 and status = 'completed' and called_at is not null
               and closed_at >= $2
         ) recent where n <= $3",
    )
    .bind(site_id)
    .bind(SqlTimestamp::from(since))
    .bind(per_queue)
    .fetch_all(db)
    .await?;
    Ok(rows)
}

/// The latest calls at a site.
pub async fn recent_calls(
    db: impl PgExecutor<'_>,
    site_id: Uuid,
    limit: i64,
) -> Result<Vec<Case>, RoutingError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from {FROM} where c.site_id = $1 and c.called_at is not null
         order by c.called_at desc limit $2"
    )))
    .bind(site_id)
    .bind(limit)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| from_row(r).map_err(RoutingError::from))
        .collect()
}
