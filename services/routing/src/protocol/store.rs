//! The register in PostgreSQL. Numbers come from one counter row per municipality and
//! year, incremented in the registering transaction: the row lock orders concurrent
//! registrations (on any replica) and a rollback gives the number back, so numbers have
//! no gaps and no repeats.

use jiff::Timestamp;
use sportello_kit::{UnitOfWork, db, uow::SqlTimestamp};
use sportello_pa::calendar::rome;
use sportello_proto::{common::v1::Channel, routing::v1::IncomingKind};
use sqlx::{PgExecutor, Row, postgres::PgRow};
use uuid::Uuid;

use super::domain::Incoming;
use crate::{domain::decode, error::RoutingError};

/// A register entry.
#[derive(Debug, Clone)]
pub struct Registration {
    /// Record id.
    pub id: Uuid,
    /// What was registered.
    pub incoming: Incoming,
    /// Year (Europe/Rome).
    pub year: i32,
    /// Number within municipality and year.
    pub number: i64,
    /// When.
    pub registered_at: Timestamp,
    /// When and why it was voided.
    pub voided: Option<(Timestamp, String)>,
}

const COLUMNS: &str = "id, municipality, year, number, registered_at, kind, sender_ref, subject,
    document_sha256, channel, case_id, voided_at, void_reason";

fn from_row(row: &PgRow) -> Result<Registration, sqlx::Error> {
    let municipality: String = row.try_get("municipality")?;
    let voided_at: Option<SqlTimestamp> = row.try_get("voided_at")?;
    let void_reason: Option<String> = row.try_get("void_reason")?;
    Ok(Registration {
        id: row.try_get("id")?,
        incoming: Incoming {
            municipality: municipality
                .parse()
                .map_err(|e: &str| sqlx::Error::Decode(e.into()))?,
            kind: decode::<IncomingKind>(row.try_get("kind")?)?,
            sender_ref: row.try_get("sender_ref")?,
            subject: row.try_get("subject")?,
            document_sha256: row.try_get("document_sha256")?,
            channel: decode::<Channel>(row.try_get("channel")?)?,
            case_id: row.try_get("case_id")?,
        },
        year: row.try_get("year")?,
        number: row.try_get("number")?,
        registered_at: row.try_get::<SqlTimestamp, _>("registered_at")?.to_jiff(),
        voided: voided_at
            .zip(void_reason)
            .map(|(at, why)| (at.to_jiff(), why)),
    })
}

/// Registers `incoming` with the next number of its municipality and year.
pub async fn register(
    uow: &mut UnitOfWork,
    incoming: Incoming,
) -> Result<Registration, RoutingError> {
    use crate::domain::Stored;
    if let Some(case) = incoming.case_id {
        let owner: Option<String> =
            sqlx::query_scalar("select municipality from cases where id = $1")
                .bind(case)
                .fetch_optional(uow.conn())
                .await?;
        if owner.as_deref() != Some(incoming.municipality.as_str()) {
            return Err(RoutingError::CaseNotFound);
        }
    }
    let year = i32::from(rome::date_of(uow.now()).year());
    let number: i64 = sqlx::query_scalar(
        "insert into protocol_counters (municipality, year, last_number) values ($1, $2, 1)
         on conflict (municipality, year)
         do update set last_number = protocol_counters.last_number + 1
         returning last_number",
    )
    .bind(incoming.municipality.as_str())
    .bind(year)
    .fetch_one(uow.conn())
    .await?;
    // Read after the counter's lock: a later number never carries an earlier time.
    let registered_at = uow.clock().now().max(uow.now());
    let id = Uuid::now_v7();
    let inserted = sqlx::query(
        "insert into registrations (id, municipality, year, number, registered_at, kind, sender_ref,
                                    subject, document_sha256, channel, case_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(id)
    .bind(incoming.municipality.as_str())
    .bind(year)
    .bind(number)
    .bind(SqlTimestamp::from(registered_at))
    .bind(incoming.kind.to_db())
    .bind(&incoming.sender_ref)
    .bind(&incoming.subject)
    .bind(&incoming.document_sha256)
    .bind(incoming.channel.to_db())
    .bind(incoming.case_id)
    .execute(uow.conn())
    .await;
    match inserted {
        Ok(_) => Ok(Registration {
            id,
            incoming,
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

/// Voids a registration, once.
pub async fn void(
    uow: &mut UnitOfWork,
    id: Uuid,
    reason: &str,
) -> Result<Registration, RoutingError> {
    let now = uow.now();
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "update registrations set voided_at = $2, void_reason = $3
         where id = $1 and voided_at is null returning {COLUMNS}"
    )))
    .bind(id)
    .bind(SqlTimestamp::from(now))
    .bind(reason)
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
