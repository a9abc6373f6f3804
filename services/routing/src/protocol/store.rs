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

use super::{
    domain::{Entry, Kind, Name, Names},
    sealed::{Keyring, SealError, Sealed},
};
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
    /// The correspondents' names as stored, sealed; opened only for the protocol role
    /// ([`open_names`]).
    pub sealed: SealedNames,
}

/// The sealed names of an entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SealedNames {
    /// The sender's.
    pub sender: Option<Sealed>,
    /// The recipient's.
    pub recipient: Option<Sealed>,
}

impl SealedNames {
    /// Whether the entry names anyone.
    pub fn any(&self) -> bool {
        self.sender.is_some() || self.recipient.is_some()
    }
}

/// What a sealed name is bound to: its registration and its field, so it opens nowhere
/// else.
fn name_context(id: Uuid, field: &str) -> Vec<u8> {
    format!("sportello.protocol/{id}/{field}").into_bytes()
}

/// Seals the names of registration `id`.
fn seal_names(keys: &Keyring, id: Uuid, names: &Names) -> Result<SealedNames, SealError> {
    let seal = |field: &str, name: &Option<Name>| {
        name.as_ref()
            .map(|n| keys.seal(&name_context(id, field), n.as_str()))
            .transpose()
    };
    Ok(SealedNames {
        sender: seal("sender_name", &names.sender)?,
        recipient: seal("recipient_name", &names.recipient)?,
    })
}

/// Opens the names of `registration`: only ever for the protocol role, after its read
/// is audited in the same transaction.
pub fn open_names(keys: &Keyring, registration: &Registration) -> Result<Names, SealError> {
    let open = |field: &str, sealed: &Option<Sealed>| {
        sealed
            .as_ref()
            .map(|s| {
                keys.open(&name_context(registration.id, field), s)
                    .map(Name::opened)
            })
            .transpose()
    };
    Ok(Names {
        sender: open("sender_name", &registration.sealed.sender)?,
        recipient: open("recipient_name", &registration.sealed.recipient)?,
    })
}

fn sealed_column(row: &PgRow, bytes: &str, key: &str) -> Result<Option<Sealed>, sqlx::Error> {
    let bytes: Option<Vec<u8>> = row.try_get(bytes)?;
    let key_id: Option<String> = row.try_get(key)?;
    Ok(bytes
        .zip(key_id)
        .map(|(bytes, key_id)| Sealed { key_id, bytes }))
}

const COLUMNS: &str = "id, municipality, year, number, registered_at, direction, kind, sender_ref,
    recipient_ref, subject, document_sha256, channel, case_id, voided_at, void_reason, voided_by,
    void_authorisation, sender_name_sealed, sender_name_key, recipient_name_sealed,
    recipient_name_key";

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
            names: Names::default(),
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
        sealed: SealedNames {
            sender: sealed_column(row, "sender_name_sealed", "sender_name_key")?,
            recipient: sealed_column(row, "recipient_name_sealed", "recipient_name_key")?,
        },
    })
}

/// The municipality's register lock: a transaction-scoped advisory lock on a key derived
/// from the municipality, so registrations of one municipality happen one at a time on
/// any replica, whatever year they fall in. Tests take the same lock.
pub const REGISTER_LOCK: &str =
    "select pg_advisory_xact_lock(hashtextextended('sportello.protocol:' || $1, 0))";

/// Registers `entry` with the next number of its municipality and of the year of its
/// Europe/Rome date, its names sealed under the current key of `keys`.
pub async fn register(
    uow: &mut UnitOfWork,
    keys: &Keyring,
    mut entry: Entry,
) -> Result<Registration, RoutingError> {
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
    let sealed = seal_names(keys, id, &entry.names).map_err(RoutingError::sealing)?;
    // The plain names go no further than this function.
    entry.names = Names::default();
    let inserted = sqlx::query(
        "insert into registrations (id, municipality, year, number, registered_at, kind, sender_ref,
                                    subject, document_sha256, channel, case_id, direction,
                                    recipient_ref, sender_name_sealed, sender_name_key,
                                    recipient_name_sealed, recipient_name_key)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
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
    .bind(sealed.sender.as_ref().map(|s| &s.bytes))
    .bind(sealed.sender.as_ref().map(|s| &s.key_id))
    .bind(sealed.recipient.as_ref().map(|s| &s.bytes))
    .bind(sealed.recipient.as_ref().map(|s| &s.key_id))
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
            sealed,
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

/// Who read the names, recorded in the transaction that read them.
#[derive(Debug, Clone, Copy)]
pub struct NameRead<'a> {
    /// The calling service.
    pub caller: &'a str,
    /// The person (`operator:…`).
    pub actor: &'a str,
    /// Their municipality.
    pub municipality: sportello_kit::MunicipalityCode,
    /// The purpose the call declared.
    pub purpose: &'a str,
    /// `registration.get` or `register.export`.
    pub action: &'static str,
}

/// Writes one row of `protocol_name_audit` for the names of `ids` read now.
pub async fn audit_name_read(
    uow: &mut UnitOfWork,
    read: NameRead<'_>,
    ids: &[Uuid],
) -> Result<(), RoutingError> {
    let at = uow.now();
    sqlx::query(
        "insert into protocol_name_audit
             (id, at, caller, actor, municipality, purpose, action, registration_ids)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(Uuid::now_v7())
    .bind(SqlTimestamp::from(at))
    .bind(read.caller)
    .bind(read.actor)
    .bind(read.municipality.as_str())
    .bind(read.purpose)
    .bind(read.action)
    .bind(ids)
    .execute(uow.conn())
    .await?;
    Ok(())
}
