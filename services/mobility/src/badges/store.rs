//! Badges in PostgreSQL: the badge with its sealed certification, its plates, and the
//! audit of every read of the certification.

use jiff::{Timestamp, civil::Date};
use sportello_kit::{MunicipalityCode, UnitOfWork, sealed::Sealed, uow::SqlTimestamp};
use sqlx::{PgConnection, Row, postgres::PgRow};
use uuid::Uuid;

use crate::{permits::domain::VehiclePlate, zones::store::decode};

/// A stored badge (its certification stays sealed).
#[derive(Debug, Clone)]
pub struct Badge {
    /// Record id.
    pub id: Uuid,
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// The printed number.
    pub number: String,
    /// The holder's pseudonymous reference.
    pub holder_ref: String,
    /// The registry's record of the holder.
    pub resident_ref: String,
    /// `active`, `blocked`, `revoked`, `expired`.
    pub state: String,
    /// On a temporary certification.
    pub temporary: bool,
    /// First day.
    pub valid_from: Date,
    /// Last day, inclusive.
    pub valid_until: Date,
    /// The sealed certification.
    pub certification: Sealed,
    /// `pending` or `registered` on the national platform.
    pub platform_state: String,
    /// The badge it replaces.
    pub replaces: Option<Uuid>,
    /// The badge that replaced it.
    pub replaced_by: Option<Uuid>,
    /// Why it ended.
    pub reason: Option<String>,
    /// When it ended before its last day.
    pub ended_at: Option<Timestamp>,
    /// Record version.
    pub version: i64,
    /// When it was issued.
    pub created_at: Timestamp,
    /// Its plates.
    pub plates: Vec<VehiclePlate>,
}

fn badge_from(row: &PgRow) -> Result<Badge, sqlx::Error> {
    let municipality: String = row.try_get("municipality")?;
    Ok(Badge {
        id: row.try_get("id")?,
        municipality: municipality.parse().map_err(|_| decode("municipality"))?,
        number: row.try_get("number")?,
        holder_ref: row.try_get("holder_ref")?,
        resident_ref: row.try_get("resident_ref")?,
        state: row.try_get("state")?,
        temporary: row.try_get("temporary")?,
        valid_from: row.try_get::<jiff_sqlx::Date, _>("valid_from")?.to_jiff(),
        valid_until: row.try_get::<jiff_sqlx::Date, _>("valid_until")?.to_jiff(),
        certification: Sealed {
            key_id: row.try_get("key_id")?,
            bytes: row.try_get("certification")?,
        },
        platform_state: row.try_get("platform_state")?,
        replaces: row.try_get("replaces")?,
        replaced_by: row.try_get("replaced_by")?,
        reason: row.try_get("reason")?,
        ended_at: row
            .try_get::<Option<SqlTimestamp>, _>("ended_at")?
            .map(|t| t.to_jiff()),
        version: row.try_get("version")?,
        created_at: row.try_get::<SqlTimestamp, _>("created_at")?.to_jiff(),
        plates: Vec::new(),
    })
}

async fn with_plates(conn: &mut PgConnection, mut badge: Badge) -> Result<Badge, sqlx::Error> {
    badge.plates = sqlx::query(
        "select plate, plate_kind from badge_plates where badge_id = $1 order by plate",
    )
    .bind(badge.id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        Ok(VehiclePlate {
            plate: r.try_get("plate")?,
            kind: r.try_get("plate_kind")?,
        })
    })
    .collect::<Result<_, sqlx::Error>>()?;
    Ok(badge)
}

/// The badge `id` with its plates.
pub async fn find(conn: &mut PgConnection, id: Uuid) -> Result<Option<Badge>, sqlx::Error> {
    let row = sqlx::query("select * from badges where id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(row) => Ok(Some(with_plates(conn, badge_from(&row)?).await?)),
        None => Ok(None),
    }
}

/// The badge `id`, locked for the unit of work.
pub async fn lock(uow: &mut UnitOfWork, id: Uuid) -> Result<Option<Badge>, sqlx::Error> {
    let row = sqlx::query("select * from badges where id = $1 for update")
        .bind(id)
        .fetch_optional(uow.conn())
        .await?;
    match row {
        Some(row) => Ok(Some(with_plates(uow.conn(), badge_from(&row)?).await?)),
        None => Ok(None),
    }
}

/// The active badges of the registry's record `resident_ref`.
pub async fn active_of_resident(
    conn: &mut PgConnection,
    resident_ref: &str,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("select id from badges where resident_ref = $1 and state = 'active'")
        .bind(resident_ref)
        .fetch_all(conn)
        .await
}

/// The next printed number of `municipality` for `year`: `CUDE-<ISTAT>-<year>-<serial>`.
pub async fn next_number(
    uow: &mut UnitOfWork,
    municipality: MunicipalityCode,
    year: i16,
) -> Result<String, sqlx::Error> {
    let serial: i32 = sqlx::query_scalar(
        "insert into badge_counters (municipality, year, last) values ($1, $2, 1)
         on conflict (municipality, year) do update set last = badge_counters.last + 1
         returning last",
    )
    .bind(municipality.as_str())
    .bind(i32::from(year))
    .fetch_one(uow.conn())
    .await?;
    Ok(format!("CUDE-{}-{year}-{serial:05}", municipality.as_str()))
}

/// A badge to insert.
#[derive(Debug, Clone)]
pub struct NewBadgeRow<'a> {
    /// Its id (the sealed certification is bound to it).
    pub id: Uuid,
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// The printed number.
    pub number: &'a str,
    /// The holder's reference.
    pub holder_ref: &'a str,
    /// The registry's record of the holder.
    pub resident_ref: &'a str,
    /// On a temporary certification.
    pub temporary: bool,
    /// First day.
    pub valid_from: Date,
    /// Last day.
    pub valid_until: Date,
    /// The sealed certification.
    pub certification: &'a Sealed,
    /// The badge it replaces.
    pub replaces: Option<Uuid>,
    /// The plates.
    pub plates: &'a [VehiclePlate],
    /// Where it was asked.
    pub channel: &'a str,
}

/// Inserts a badge and its plates.
pub async fn insert(uow: &mut UnitOfWork, badge: &NewBadgeRow<'_>) -> Result<(), sqlx::Error> {
    let now = uow.now();
    sqlx::query(
        "insert into badges (id, municipality, number, holder_ref, resident_ref, state, temporary,
                             valid_from, valid_until, certification, key_id, replaces, channel,
                             created_at)
         values ($1, $2, $3, $4, $5, 'active', $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(badge.id)
    .bind(badge.municipality.as_str())
    .bind(badge.number)
    .bind(badge.holder_ref)
    .bind(badge.resident_ref)
    .bind(badge.temporary)
    .bind(jiff_sqlx::Date::from(badge.valid_from))
    .bind(jiff_sqlx::Date::from(badge.valid_until))
    .bind(&badge.certification.bytes)
    .bind(&badge.certification.key_id)
    .bind(badge.replaces)
    .bind(badge.channel)
    .bind(SqlTimestamp::from(now))
    .execute(uow.conn())
    .await?;
    for plate in badge.plates {
        sqlx::query("insert into badge_plates (badge_id, plate, plate_kind) values ($1, $2, $3)")
            .bind(badge.id)
            .bind(&plate.plate)
            .bind(&plate.kind)
            .execute(uow.conn())
            .await?;
    }
    Ok(())
}

/// Ends an active badge: `blocked` (replaced by `replaced_by`), `revoked` or `expired`.
pub async fn end(
    uow: &mut UnitOfWork,
    id: Uuid,
    state: &str,
    reason: &str,
    replaced_by: Option<Uuid>,
) -> Result<bool, sqlx::Error> {
    let now = uow.now();
    let ended_at = (state != "expired").then_some(SqlTimestamp::from(now));
    let done = sqlx::query(
        "update badges set state = $2, reason = $3, replaced_by = $4, ended_at = $5,
                           version = version + 1
         where id = $1 and state = 'active'",
    )
    .bind(id)
    .bind(state)
    .bind(reason)
    .bind(replaced_by)
    .bind(ended_at)
    .execute(uow.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a read of a badge's certification.
pub async fn audit_read(
    conn: &mut PgConnection,
    badge: Uuid,
    actor: &str,
    caller: &str,
    purpose: &str,
    at: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into health_data_read_audit (id, badge_id, actor, caller, purpose, read_at)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(Uuid::now_v7())
    .bind(badge)
    .bind(actor)
    .bind(caller)
    .bind(purpose)
    .bind(SqlTimestamp::from(at))
    .execute(conn)
    .await?;
    Ok(())
}
