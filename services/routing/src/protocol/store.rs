//! The register in PostgreSQL. Numbers come from one counter row per municipality and
//! year, incremented in the registering transaction: the row lock orders concurrent
//! registrations (on any replica) and a rollback gives the number back, so numbers have
//! no gaps and no repeats. Incoming and outgoing entries share one sequence (DPR
//! 445/2000 art. 57: one register).

use jiff::Timestamp;
use sportello_kit::{UnitOfWork, db, uow::SqlTimestamp};
use sportello_pa::calendar::rome;
use sportello_proto::common::v1::Channel;
use sqlx::{PgExecutor, Row, postgres::PgRow};
use uuid::Uuid;

use super::domain::{Entry, Kind};
use crate::{
    domain::{Stored, decode},
    error::RoutingError,
};

/// An annulment (DPR 445/2000 art. 54).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annulment {
    /// When.
    pub at: Timestamp,
    /// Why.
    pub reason: String,
    /// Who (the caller's actor); `None` for entries annulled before it was recorded.
    pub by: Option<String>,
    /// The reference of the authorisation; `None` as for `by`.
    pub authorisation: Option<String>,
}

/// A register entry.
#[derive(Debug, Clone)]
pub struct Registration {
    /// Record id.
    pub id: Uuid,
    /// What was registered.
    pub entry: Entry,
    /// Year (Europe/Rome).
    pub year: i32,
    /// Number within municipality and year.
    pub number: i64,
    /// When.
    pub registered_at: Timestamp,
    /// Its annulment, if it was annulled.
    pub voided: Option<Annulment>,
}

const COLUMNS: &str = "id, municipality, year, number, registered_at, direction, kind, sender_ref,
    recipient_ref, subject, document_sha256, channel, case_id, voided_at, void_reason, voided_by,
    void_authorisation";

fn from_row(row: &PgRow) -> Result<Registration, sqlx::Error> {
    let municipality: String = row.try_get("municipality")?;
    let voided_at: Option<SqlTimestamp> = row.try_get("voided_at")?;
    let void_reason: Option<String> = row.try_get("void_reason")?;
    let voided_by: Option<String> = row.try_get("voided_by")?;
    let void_authorisation: Option<String> = row.try_get("void_authorisation")?;
    let direction: String = row.try_get("direction")?;
    let kind: String = row.try_get("kind")?;
    Ok(Registration {
        id: row.try_get("id")?,
        entry: Entry {
            municipality: municipality
                .parse()
                .map_err(|e: &str| sqlx::Error::Decode(e.into()))?,
            kind: Kind::from_db(&direction, &kind).ok_or_else(|| {
                sqlx::Error::Decode(format!("unknown entry kind {direction}/{kind}").into())
            })?,
            sender_ref: row.try_get("sender_ref")?,
            recipient_ref: row.try_get("recipient_ref")?,
            subject: row.try_get("subject")?,
            document_sha256: row.try_get("document_sha256")?,
            channel: decode::<Channel>(row.try_get("channel")?)?,
            case_id: row.try_get("case_id")?,
        },
        year: row.try_get("year")?,
        number: row.try_get("number")?,
        registered_at: row.try_get::<SqlTimestamp, _>("registered_at")?.to_jiff(),
        voided: voided_at.zip(void_reason).map(|(at, reason)| Annulment {
            at: at.to_jiff(),
            reason,
            by: voided_by,
            authorisation: void_authorisation,
        }),
    })
}

/// The municipality's register lock: a transaction-scoped advisory lock on a key derived
/// from the municipality, so registrations of one municipality happen one at a time on
/// any replica, whatever year they fall in. Tests take the same lock.
pub const REGISTER_LOCK: &str =
    "select pg_advisory_xact_lock(hashtextextended('sportello.protocol:' || $1, 0))";

/// Registers `entry` with the next number of its municipality and of the year of its
/// Europe/Rome date.
pub async fn register(uow: &mut UnitOfWork, entry: Entry) -> Result<Registration, RoutingError> {
    if let Some(case) = entry.case_id {
        let owner: Option<String> =
            sqlx::query_scalar("select municipality from cases where id = $1")
                .bind(case)
                .fetch_optional(uow.conn())
                .await?;
        if owner.as_deref() != Some(entry.municipality.as_str()) {
            return Err(RoutingError::CaseNotFound);
        }
    }
    sqlx::query(REGISTER_LOCK)
        .bind(entry.municipality.as_str())
        .execute(uow.conn())
        .await?;
    // One reading of the clock, after the lock (DPR 445/2000 art. 53 c. 1: number and
    // date together): a later number never carries an earlier time, and year and date
    // cannot straddle midnight of 31 December. The unit of work's own "now", read when
    // it began, could be older than an entry that waited on the lock before it.
    let registered_at = uow.clock().now();
    let year = i32::from(rome::date_of(registered_at).year());
    let number: i64 = sqlx::query_scalar(
        "insert into protocol_counters (municipality, year, last_number) values ($1, $2, 1)
         on conflict (municipality, year)
         do update set last_number = protocol_counters.last_number + 1
         returning last_number",
    )
    .bind(entry.municipality.as_str())
    .bind(year)
    .fetch_one(uow.conn())
    .await?;
    let id = Uuid::now_v7();
    let inserted = sqlx::query(
        "insert into registrations (id, municipality, year, number, registered_at, kind, sender_ref,
                                    subject, document_sha256, channel, case_id, direction,
                                    recipient_ref)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(id)
    .bind(entry.municipality.as_str())
    .bind(year)
    .bind(number)
    .bind(SqlTimestamp::from(registered_at))
    .bind(entry.kind.to_db())
    .bind(&entry.sender_ref)
    .bind(&entry.subject)
    .bind(&entry.document_sha256)
    .bind(entry.channel.to_db())
    .bind(entry.case_id)
    .bind(entry.kind.direction_db())
    .bind(&entry.recipient_ref)
    .execute(uow.conn())
    .await;
    match inserted {
        Ok(_) => Ok(Registration {
            id,
            entry,
            year,
            number,
            registered_at,
            voided: None,
        }),
        Err(error)
            if db::violated_constraint(&error, db::sqlstate::FOREIGN_KEY_VIOLATION).is_some() =>
        {
            Err(RoutingError::CaseNotFound)
        }
        Err(error) => Err(error.into()),
    }
}

/// One registration.
pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> Result<Registration, RoutingError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from registrations where id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or(RoutingError::RegistrationNotFound)?;
    Ok(from_row(&row)?)
}

/// Annuls a registration, once, recording who, when, why and the authorisation (DPR
/// 445/2000 art. 54).
pub async fn void(
    uow: &mut UnitOfWork,
    id: Uuid,
    by: &str,
    reason: &str,
    authorisation: &str,
) -> Result<Registration, RoutingError> {
    let now = uow.now();
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "update registrations
         set voided_at = $2, void_reason = $3, voided_by = $4, void_authorisation = $5
         where id = $1 and voided_at is null returning {COLUMNS}"
    )))
    .bind(id)
    .bind(SqlTimestamp::from(now))
    .bind(reason)
    .bind(by)
    .bind(authorisation)
    .fetch_optional(uow.conn())
    .await?;
    match row {
        Some(row) => Ok(from_row(&row)?),
        None => {
            get(uow.conn(), id).await?;
            Err(RoutingError::AlreadyVoided)
        }
    }
}

/// The registrations of a Europe/Rome day, in number order.
pub async fn day(
    db: impl PgExecutor<'_>,
    municipality: &str,
    date: jiff::civil::Date,
) -> Result<Vec<Registration>, RoutingError> {
    let from = rome::start_of_day(date).map_err(|e| RoutingError::Invalid {
        field: "day",
        reason: e.to_string(),
    })?;
    let to = rome::end_of_day(date).map_err(|e| RoutingError::Invalid {
        field: "day",
        reason: e.to_string(),
    })?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from registrations
         where municipality = $1 and registered_at >= $2 and registered_at < $3
         order by year, number"
    )))
    .bind(municipality)
    .bind(SqlTimestamp::from(from))
    .bind(SqlTimestamp::from(to))
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| from_row(r).map_err(RoutingError::from))
        .collect()
}
