//! Permits in PostgreSQL: the permit, its plates, the zone's quota and the household's
//! plates (both counted by the database's checks, under the zone's row lock).

use jiff::{Timestamp, civil::Date};
use sportello_kit::{MunicipalityCode, UnitOfWork, db, uow::SqlTimestamp};
use sqlx::{PgConnection, Row, postgres::PgRow};
use uuid::Uuid;

use super::domain::{Kind, State, VehiclePlate};
use crate::{
    error::MobilityError,
    zones::store::{Zone, decode},
};

/// A stored permit.
#[derive(Debug, Clone)]
pub struct Permit {
    /// Record id.
    pub id: Uuid,
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// The zone's record id.
    pub zone_id: Uuid,
    /// The zone's code.
    pub zone_code: String,
    /// The printed number.
    pub number: String,
    /// The kind.
    pub kind: Kind,
    /// The state.
    pub state: State,
    /// The holder's pseudonymous reference.
    pub holder_ref: String,
    /// The household (resident permits).
    pub household_ref: Option<String>,
    /// The holder's registry record id (resident and guest permits).
    pub resident_ref: Option<String>,
    /// First day.
    pub valid_from: Date,
    /// Last day, inclusive.
    pub valid_until: Date,
    /// The fee.
    pub amount_cents: i64,
    /// pagoPA's notice number.
    pub notice_number: Option<String>,
    /// Why under review or ended.
    pub reason: Option<String>,
    /// Under review: the last valid day unless kept.
    pub grace_until: Option<Date>,
    /// Under review: the review's id.
    pub review_id: Option<Uuid>,
    /// Under review: what opened it.
    pub review_cause: Option<String>,
    /// Under review: the registry's record that opened it.
    pub review_source: Option<String>,
    /// When it became valid.
    pub activated_at: Option<Timestamp>,
    /// When it ended.
    pub ended_at: Option<Timestamp>,
    /// Record version.
    pub version: i64,
    /// When it was issued.
    pub created_at: Timestamp,
    /// Its plates.
    pub plates: Vec<VehiclePlate>,
}

/// A permit to insert.
#[derive(Debug, Clone)]
pub struct NewPermit<'a> {
    /// The zone.
    pub zone: &'a Zone,
    /// The kind.
    pub kind: Kind,
    /// Active at once (free) or awaiting payment.
    pub state: State,
    /// The holder's reference.
    pub holder_ref: String,
    /// The household (resident permits).
    pub household_ref: Option<String>,
    /// The holder's registry record id.
    pub resident_ref: Option<String>,
    /// First day.
    pub valid_from: Date,
    /// Last day.
    pub valid_until: Date,
    /// The fee.
    pub amount_cents: i64,
    /// Its plates.
    pub plates: &'a [VehiclePlate],
    /// Where it was asked.
    pub channel: &'a str,
}

const COLUMNS: &str = "p.id, p.municipality, p.zone_id, z.zone_code, p.number, p.kind, p.state,
    p.holder_ref, p.household_ref, p.resident_ref, p.valid_from, p.valid_until, p.amount_cents,
    p.notice_number, p.reason, p.grace_until, p.review_id, p.review_cause, p.review_source,
    p.activated_at, p.ended_at, p.version, p.created_at";

fn permit_from(row: &PgRow) -> Result<Permit, sqlx::Error> {
    let municipality: String = row.try_get("municipality")?;
    let kind: String = row.try_get("kind")?;
    let state: String = row.try_get("state")?;
    let timestamp = |column: &str| -> Result<Option<Timestamp>, sqlx::Error> {
        Ok(row
            .try_get::<Option<SqlTimestamp>, _>(column)?
            .map(|t| t.to_jiff()))
    };
    let date = |column: &str| -> Result<Option<Date>, sqlx::Error> {
        Ok(row
            .try_get::<Option<jiff_sqlx::Date>, _>(column)?
            .map(|d| d.to_jiff()))
    };
    Ok(Permit {
        id: row.try_get("id")?,
        municipality: municipality.parse().map_err(|_| decode("municipality"))?,
        zone_id: row.try_get("zone_id")?,
        zone_code: row.try_get("zone_code")?,
        number: row.try_get("number")?,
        kind: Kind::from_name(&kind).ok_or_else(|| decode("permit kind"))?,
        state: State::from_name(&state).ok_or_else(|| decode("permit state"))?,
        holder_ref: row.try_get("holder_ref")?,
        household_ref: row.try_get("household_ref")?,
        resident_ref: row.try_get("resident_ref")?,
        valid_from: date("valid_from")?.ok_or_else(|| decode("valid_from"))?,
        valid_until: date("valid_until")?.ok_or_else(|| decode("valid_until"))?,
        amount_cents: row.try_get("amount_cents")?,
        notice_number: row.try_get("notice_number")?,
        reason: row.try_get("reason")?,
        grace_until: date("grace_until")?,
        review_id: row.try_get("review_id")?,
        review_cause: row.try_get("review_cause")?,
        review_source: row.try_get("review_source")?,
        activated_at: timestamp("activated_at")?,
        ended_at: timestamp("ended_at")?,
        version: row.try_get("version")?,
        created_at: timestamp("created_at")?.ok_or_else(|| decode("created_at"))?,
        plates: Vec::new(),
    })
}

async fn with_plates(conn: &mut PgConnection, mut permit: Permit) -> Result<Permit, sqlx::Error> {
    permit.plates = sqlx::query(
        "select plate, plate_kind from permit_plates where permit_id = $1 order by plate",
    )
    .bind(permit.id)
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
    Ok(permit)
}

/// The permit `id` with its plates.
pub async fn find(conn: &mut PgConnection, id: Uuid) -> Result<Option<Permit>, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from permits p join zones z on z.id = p.zone_id where p.id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(row) => Ok(Some(with_plates(conn, permit_from(&row)?).await?)),
        None => Ok(None),
    }
}

/// The permit `id`, locked for the unit of work.
pub async fn lock(uow: &mut UnitOfWork, id: Uuid) -> Result<Option<Permit>, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from permits p join zones z on z.id = p.zone_id
         where p.id = $1 for update of p"
    )))
    .bind(id)
    .fetch_optional(uow.conn())
    .await?;
    match row {
        Some(row) => Ok(Some(with_plates(uow.conn(), permit_from(&row)?).await?)),
        None => Ok(None),
    }
}

/// The permits under review opened by the registry's record `source` for `resident_ref`.
pub async fn reviewed_for(
    conn: &mut PgConnection,
    resident_ref: &str,
    source: &str,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "select id from permits
         where resident_ref = $1 and state = 'under_review' and review_source = $2 order by id",
    )
    .bind(resident_ref)
    .bind(source)
    .fetch_all(conn)
    .await
}

/// The permits not ended whose holder is the registry's record `resident_ref`.
pub async fn live_of_resident(
    conn: &mut PgConnection,
    resident_ref: &str,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "select id from permits where resident_ref = $1 and state <> 'ended' order by id",
    )
    .bind(resident_ref)
    .fetch_all(conn)
    .await
}

/// The next printed number of `zone` for `year`: `<zone>-<year>-<serial>`.
pub async fn next_number(
    uow: &mut UnitOfWork,
    zone: &Zone,
    year: i16,
) -> Result<String, sqlx::Error> {
    let serial: i32 = sqlx::query_scalar(
        "insert into permit_counters (zone_id, year, last) values ($1, $2, 1)
         on conflict (zone_id, year) do update set last = permit_counters.last + 1
         returning last",
    )
    .bind(zone.id)
    .bind(i32::from(year))
    .fetch_one(uow.conn())
    .await?;
    Ok(format!("{}-{year}-{serial:05}", zone.zone.zone_code))
}

/// Takes one place of the zone's quota; the last one goes to whoever commits first.
pub async fn hold_quota(uow: &mut UnitOfWork, zone: &Zone) -> Result<(), MobilityError> {
    let held = sqlx::query("update zones set permits_held = permits_held + 1 where id = $1")
        .bind(zone.id)
        .execute(uow.conn())
        .await;
    match held {
        Ok(_) => Ok(()),
        Err(error)
            if db::violated_constraint(&error, db::sqlstate::CHECK_VIOLATION)
                == Some("zones_quota") =>
        {
            Err(MobilityError::QuotaExhausted {
                zone_code: zone.zone.zone_code.clone(),
                quota: zone.zone.permit_quota,
            })
        }
        Err(error) => Err(error.into()),
    }
}

/// Adds `plates` to the household's count in the zone, within the zone's limit.
pub async fn hold_plates(
    uow: &mut UnitOfWork,
    zone: &Zone,
    household_ref: &str,
    plates: i32,
) -> Result<(), MobilityError> {
    // The zone's row is locked by hold_quota: the count read here is the count updated.
    let held: i32 = sqlx::query_scalar(
        "select plates from household_plates where zone_id = $1 and household_ref = $2",
    )
    .bind(zone.id)
    .bind(household_ref)
    .fetch_optional(uow.conn())
    .await?
    .unwrap_or(0);
    let max = zone.zone.plates_per_household;
    if held + plates > max {
        return Err(MobilityError::HouseholdPlates {
            zone_code: zone.zone.zone_code.clone(),
            held,
            max,
        });
    }
    sqlx::query(
        "insert into household_plates (zone_id, household_ref, plates, max_plates)
         values ($1, $2, $3, $4)
         on conflict (zone_id, household_ref)
         do update set plates = household_plates.plates + excluded.plates",
    )
    .bind(zone.id)
    .bind(household_ref)
    .bind(plates)
    .bind(max)
    .execute(uow.conn())
    .await?;
    Ok(())
}

/// Gives back what an ended permit held: its place in the quota and, for a resident's,
/// its plates in the household's count.
async fn release(uow: &mut UnitOfWork, permit: &Permit) -> Result<(), sqlx::Error> {
    if permit.kind != Kind::Resident {
        return Ok(());
    }
    sqlx::query("update zones set permits_held = permits_held - 1 where id = $1")
        .bind(permit.zone_id)
        .execute(uow.conn())
        .await?;
    if let Some(household) = &permit.household_ref {
        sqlx::query(
            "update household_plates set plates = plates - $3
             where zone_id = $1 and household_ref = $2",
        )
        .bind(permit.zone_id)
        .bind(household)
        .bind(i32::try_from(permit.plates.len()).unwrap_or(i32::MAX))
        .execute(uow.conn())
        .await?;
    }
    Ok(())
}

/// Inserts a permit and its plates; its id and number.
pub async fn insert(
    uow: &mut UnitOfWork,
    permit: &NewPermit<'_>,
    number: &str,
) -> Result<Permit, sqlx::Error> {
    let id = Uuid::now_v7();
    let now = uow.now();
    let activated_at = (permit.state == State::Active).then_some(now);
    sqlx::query(
        "insert into permits (id, municipality, zone_id, number, kind, state, holder_ref,
                              household_ref, resident_ref, valid_from, valid_until, amount_cents,
                              activated_at, channel, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(id)
    .bind(permit.zone.zone.municipality.as_str())
    .bind(permit.zone.id)
    .bind(number)
    .bind(permit.kind.name())
    .bind(permit.state.name())
    .bind(&permit.holder_ref)
    .bind(&permit.household_ref)
    .bind(&permit.resident_ref)
    .bind(jiff_sqlx::Date::from(permit.valid_from))
    .bind(jiff_sqlx::Date::from(permit.valid_until))
    .bind(permit.amount_cents)
    .bind(activated_at.map(SqlTimestamp::from))
    .bind(permit.channel)
    .bind(SqlTimestamp::from(now))
    .execute(uow.conn())
    .await?;
    for plate in permit.plates {
        sqlx::query("insert into permit_plates (permit_id, plate, plate_kind) values ($1, $2, $3)")
            .bind(id)
            .bind(&plate.plate)
            .bind(&plate.kind)
            .execute(uow.conn())
            .await?;
    }
    Ok(Permit {
        id,
        municipality: permit.zone.zone.municipality,
        zone_id: permit.zone.id,
        zone_code: permit.zone.zone.zone_code.clone(),
        number: number.to_owned(),
        kind: permit.kind,
        state: permit.state,
        holder_ref: permit.holder_ref.clone(),
        household_ref: permit.household_ref.clone(),
        resident_ref: permit.resident_ref.clone(),
        valid_from: permit.valid_from,
        valid_until: permit.valid_until,
        amount_cents: permit.amount_cents,
        notice_number: None,
        reason: None,
        grace_until: None,
        review_id: None,
        review_cause: None,
        review_source: None,
        activated_at,
        ended_at: None,
        version: 1,
        created_at: now,
        plates: permit.plates.to_vec(),
    })
}

/// Records the notice pagoPA issued for the permit.
pub async fn set_notice(
    conn: &mut PgConnection,
    id: Uuid,
    notice_number: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("update permits set notice_number = $2 where id = $1")
        .bind(id)
        .bind(notice_number)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records the payment: awaiting payment → active; under review, it stays under review
/// but paid (its review decides the rest). `false` when it was ended or paid already.
pub async fn activate(uow: &mut UnitOfWork, id: Uuid) -> Result<bool, sqlx::Error> {
    let now = uow.now();
    let done = sqlx::query(
        "update permits
         set state = case when state = 'awaiting_payment' then 'active' else state end,
             activated_at = $2, version = version + 1
         where id = $1 and activated_at is null and state in ('awaiting_payment', 'under_review')",
    )
    .bind(id)
    .bind(SqlTimestamp::from(now))
    .execute(uow.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A review to open.
#[derive(Debug, Clone)]
pub struct Review<'a> {
    /// Its id (the work item's).
    pub id: Uuid,
    /// What opened it.
    pub cause: &'a str,
    /// The registry's record that did.
    pub source: &'a str,
    /// Why, Italian then English.
    pub reason: &'a str,
    /// The last valid day unless kept.
    pub grace_until: Date,
}

/// Puts a permit under review.
pub async fn open_review(
    uow: &mut UnitOfWork,
    id: Uuid,
    review: &Review<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update permits set state = 'under_review', reason = $2, grace_until = $3,
                            review_id = $4, review_cause = $5, review_source = $6,
                            version = version + 1
         where id = $1",
    )
    .bind(id)
    .bind(review.reason)
    .bind(jiff_sqlx::Date::from(review.grace_until))
    .bind(review.id)
    .bind(review.cause)
    .bind(review.source)
    .execute(uow.conn())
    .await?;
    Ok(())
}

/// Ends a review with the permit valid again (active, or awaiting payment if it never was
/// paid).
pub async fn close_review(uow: &mut UnitOfWork, permit: &Permit) -> Result<(), sqlx::Error> {
    let state = if permit.activated_at.is_some() {
        State::Active
    } else {
        State::AwaitingPayment
    };
    sqlx::query(
        "update permits set state = $2, reason = null, grace_until = null, review_id = null,
                            review_cause = null, review_source = null, version = version + 1
         where id = $1",
    )
    .bind(permit.id)
    .bind(state.name())
    .execute(uow.conn())
    .await?;
    Ok(())
}

/// Ends a permit now, saying why, and gives back what it held.
pub async fn end(uow: &mut UnitOfWork, permit: &Permit, reason: &str) -> Result<(), sqlx::Error> {
    let now = uow.now();
    let done = sqlx::query(
        "update permits set state = 'ended', ended_at = $2, reason = $3, grace_until = null,
                            review_id = null, review_cause = null, review_source = null,
                            version = version + 1
         where id = $1 and state <> 'ended'",
    )
    .bind(permit.id)
    .bind(SqlTimestamp::from(now))
    .bind(reason)
    .execute(uow.conn())
    .await?;
    // Ended already: what it held was given back then.
    if done.rows_affected() == 0 {
        return Ok(());
    }
    release(uow, permit).await
}
