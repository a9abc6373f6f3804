//! Fees in PostgreSQL: schedules, subscriptions and their charges.

use jiff::{Timestamp, civil::Date};
use sportello_kit::{MunicipalityCode, UnitOfWork, uow::SqlTimestamp};
use sqlx::{PgExecutor, Row, postgres::PgRow};
use uuid::Uuid;

use super::{
    domain::{FeeKind, Plan},
    tariff::{Band, PlannedCharge},
};
use crate::{enrolment::domain::Filing, error::EducationError};

/// A published schedule version.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// The service.
    pub kind: FeeKind,
    /// The school year.
    pub year: i16,
    /// Its version.
    pub version: i32,
    /// The bands.
    pub bands: Vec<Band>,
    /// The sibling reduction in percent.
    pub sibling_reduction_percent: u8,
    /// When it was published.
    pub created_at: Timestamp,
}

/// A stored subscription.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// Record id.
    pub id: Uuid,
    /// Public code.
    pub code: String,
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// The service.
    pub kind: FeeKind,
    /// The school year.
    pub year: i16,
    /// The schedule version it was priced with.
    pub schedule_version: i32,
    /// The child's reference.
    pub child_ref: String,
    /// The payer's reference.
    pub payer_ref: String,
    /// Resident on the day it was taken.
    pub resident: bool,
    /// The ISEE declared.
    pub isee_cents: Option<i64>,
    /// Its DSU number.
    pub dsu_protocol: Option<String>,
    /// The band, from 1.
    pub band: i16,
    /// The monthly fee after reductions.
    pub monthly_cents: i64,
    /// The reduction applied.
    pub reduction_percent: i16,
    /// Monthly or yearly.
    pub plan: Plan,
    /// Where it was taken.
    pub filing: Filing,
    /// Who took it.
    pub taken_by: String,
    /// The protocol register's entry id.
    pub protocol_registration_id: String,
    /// The protocol number.
    pub protocol_number: String,
    /// When it was taken.
    pub created_at: Timestamp,
    /// Its charges, by due date.
    pub charges: Vec<Charge>,
}

/// A stored charge.
#[derive(Debug, Clone)]
pub struct Charge {
    /// Record id.
    pub id: Uuid,
    /// `YYYY-MM` or `YYYY/YY`.
    pub period: String,
    /// In euro cents.
    pub amount_cents: i64,
    /// The last day to pay.
    pub due_date: Date,
    /// Paid when.
    pub paid_at: Option<Timestamp>,
    /// The notice number, once issued.
    pub notice_number: Option<String>,
    /// The IUV, once issued.
    pub iuv: Option<String>,
}

fn decode(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("fees: bad {what} in the database").into())
}

fn schedule_from(row: &PgRow) -> Result<Schedule, sqlx::Error> {
    let municipality: String = row.try_get("municipality")?;
    let kind: String = row.try_get("kind")?;
    let bands: serde_json::Value = row.try_get("bands")?;
    let reduction: i16 = row.try_get("sibling_reduction_percent")?;
    Ok(Schedule {
        municipality: municipality.parse().map_err(|_| decode("municipality"))?,
        kind: FeeKind::from_name(&kind).ok_or_else(|| decode("kind"))?,
        year: row.try_get("school_year")?,
        version: row.try_get("version")?,
        bands: serde_json::from_value(bands).map_err(|_| decode("bands"))?,
        sibling_reduction_percent: u8::try_from(reduction).map_err(|_| decode("reduction"))?,
        created_at: row.try_get::<SqlTimestamp, _>("created_at")?.to_jiff(),
    })
}

/// Publishes the next version of a schedule: numbered under a transaction-scoped lock
/// on the schedule's key, so two publications never take the same number.
pub async fn insert_schedule(
    uow: &mut UnitOfWork,
    new: &super::domain::NewSchedule,
) -> Result<Schedule, EducationError> {
    let key = format!(
        "fee_schedule:{}:{}:{}",
        new.municipality,
        new.kind.name(),
        new.year
    );
    sqlx::query("select pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(&key)
        .execute(uow.conn())
        .await?;
    let now = uow.now();
    let bands = serde_json::to_value(&new.bands).map_err(|e| sqlx::Error::Encode(e.into()))?;
    let row = sqlx::query(
        "insert into fee_schedules
           (municipality, kind, school_year, version, bands, sibling_reduction_percent, created_at)
         select $1, $2, $3, coalesce(max(version), 0) + 1, $4, $5, $6
           from fee_schedules where municipality = $1 and kind = $2 and school_year = $3
         returning *",
    )
    .bind(new.municipality.as_str())
    .bind(new.kind.name())
    .bind(new.year)
    .bind(bands)
    .bind(i16::from(new.sibling_reduction_percent))
    .bind(SqlTimestamp::from(now))
    .fetch_one(uow.conn())
    .await?;
    Ok(schedule_from(&row)?)
}

/// The latest version of a schedule.
pub async fn latest_schedule(
    conn: impl PgExecutor<'_>,
    municipality: MunicipalityCode,
    kind: FeeKind,
    year: i16,
) -> Result<Option<Schedule>, sqlx::Error> {
    sqlx::query(
        "select * from fee_schedules where municipality = $1 and kind = $2 and school_year = $3
         order by version desc limit 1",
    )
    .bind(municipality.as_str())
    .bind(kind.name())
    .bind(year)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(schedule_from)
    .transpose()
}

/// The next number of a subscription code for the service and year (the counter's row
/// lock holds until commit, so codes follow the order of the commits).
pub async fn next_number(
    uow: &mut UnitOfWork,
    municipality: MunicipalityCode,
    kind: FeeKind,
    year: i16,
) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar(
        "insert into subscription_counters (municipality, kind, school_year, last)
         values ($1, $2, $3, 1)
         on conflict (municipality, kind, school_year)
           do update set last = subscription_counters.last + 1
         returning last",
    )
    .bind(municipality.as_str())
    .bind(kind.name())
    .bind(year)
    .fetch_one(uow.conn())
    .await
}

/// The child's subscription to the service for the year, if any: its id and code.
pub async fn subscription_of_child(
    conn: impl PgExecutor<'_>,
    child_ref: &str,
    kind: FeeKind,
    year: i16,
) -> Result<Option<(Uuid, String)>, sqlx::Error> {
    sqlx::query_as(
        "select id, code from subscriptions where child_ref = $1 and kind = $2 and school_year = $3",
    )
    .bind(child_ref)
    .bind(kind.name())
    .bind(year)
    .fetch_optional(conn)
    .await
}

/// How many other children the payer has subscribed to the service for the year (read
/// after the counter's lock, so two siblings taken at once count each other).
pub async fn payer_children(
    uow: &mut UnitOfWork,
    payer_ref: &str,
    municipality: MunicipalityCode,
    kind: FeeKind,
    year: i16,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select count(*) from subscriptions
         where payer_ref = $1 and municipality = $2 and kind = $3 and school_year = $4",
    )
    .bind(payer_ref)
    .bind(municipality.as_str())
    .bind(kind.name())
    .bind(year)
    .fetch_one(uow.conn())
    .await
}

/// Whether the child has accepted a place in the municipality's nursery for the year.
pub async fn nursery_place_accepted(
    conn: impl PgExecutor<'_>,
    child_ref: &str,
    municipality: MunicipalityCode,
    year: i16,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "select exists (
           select 1 from enrolment_applications a
             join enrolment_windows w on w.id = a.window_id
            where a.child_ref = $1 and w.municipality = $2 and w.level = 'nido'
              and w.school_year = $3 and a.offer_status = 'accepted')",
    )
    .bind(child_ref)
    .bind(municipality.as_str())
    .bind(year)
    .fetch_one(conn)
    .await
}

/// Saves a subscription and its charges; a second for the child, service and year is
/// [`EducationError::SubscriptionExists`] (the database's unique constraint decides).
pub async fn insert_subscription(
    uow: &mut UnitOfWork,
    s: &Subscription,
    charges: &[PlannedCharge],
) -> Result<(), EducationError> {
    let inserted = sqlx::query(
        "insert into subscriptions
           (id, code, municipality, kind, school_year, schedule_version, child_ref, payer_ref,
            resident, isee_cents, dsu_protocol, band, monthly_cents, reduction_percent, plan,
            channel, taken_by, protocol_registration_id, protocol_number, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                 $18, $19, $20)
         on conflict (child_ref, kind, school_year) do nothing",
    )
    .bind(s.id)
    .bind(&s.code)
    .bind(s.municipality.as_str())
    .bind(s.kind.name())
    .bind(s.year)
    .bind(s.schedule_version)
    .bind(&s.child_ref)
    .bind(&s.payer_ref)
    .bind(s.resident)
    .bind(s.isee_cents)
    .bind(s.dsu_protocol.as_deref())
    .bind(s.band)
    .bind(s.monthly_cents)
    .bind(s.reduction_percent)
    .bind(s.plan.name())
    .bind(s.filing.name())
    .bind(&s.taken_by)
    .bind(&s.protocol_registration_id)
    .bind(&s.protocol_number)
    .bind(SqlTimestamp::from(s.created_at))
    .execute(uow.conn())
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(EducationError::SubscriptionExists {
            code: subscription_of_child(uow.conn(), &s.child_ref, s.kind, s.year)
                .await?
                .map(|(_, code)| code),
        });
    }
    for charge in charges {
        sqlx::query(
            "insert into subscription_charges (id, subscription_id, period, amount_cents, due_date)
             values ($1, $2, $3, $4, $5)",
        )
        .bind(Uuid::now_v7())
        .bind(s.id)
        .bind(&charge.period)
        .bind(charge.amount_cents)
        .bind(jiff_sqlx::Date::from(charge.due_date))
        .execute(uow.conn())
        .await?;
    }
    Ok(())
}

fn subscription_from(row: &PgRow) -> Result<Subscription, sqlx::Error> {
    let municipality: String = row.try_get("municipality")?;
    let kind: String = row.try_get("kind")?;
    let plan: String = row.try_get("plan")?;
    let channel: String = row.try_get("channel")?;
    Ok(Subscription {
        id: row.try_get("id")?,
        code: row.try_get("code")?,
        municipality: municipality.parse().map_err(|_| decode("municipality"))?,
        kind: FeeKind::from_name(&kind).ok_or_else(|| decode("kind"))?,
        year: row.try_get("school_year")?,
        schedule_version: row.try_get("schedule_version")?,
        child_ref: row.try_get("child_ref")?,
        payer_ref: row.try_get("payer_ref")?,
        resident: row.try_get("resident")?,
        isee_cents: row.try_get("isee_cents")?,
        dsu_protocol: row.try_get("dsu_protocol")?,
        band: row.try_get("band")?,
        monthly_cents: row.try_get("monthly_cents")?,
        reduction_percent: row.try_get("reduction_percent")?,
        plan: Plan::from_name(&plan),
        filing: if channel == "counter" {
            Filing::Counter
        } else {
            Filing::System
        },
        taken_by: row.try_get("taken_by")?,
        protocol_registration_id: row.try_get("protocol_registration_id")?,
        protocol_number: row.try_get("protocol_number")?,
        created_at: row.try_get::<SqlTimestamp, _>("created_at")?.to_jiff(),
        charges: Vec::new(),
    })
}

fn charge_from(row: &PgRow) -> Result<Charge, sqlx::Error> {
    Ok(Charge {
        id: row.try_get("id")?,
        period: row.try_get("period")?,
        amount_cents: row.try_get("amount_cents")?,
        due_date: row.try_get::<jiff_sqlx::Date, _>("due_date")?.to_jiff(),
        paid_at: row
            .try_get::<Option<SqlTimestamp>, _>("paid_at")?
            .map(|t| t.to_jiff()),
        notice_number: row.try_get("notice_number")?,
        iuv: row.try_get("iuv")?,
    })
}

/// Reads the charges of `subscriptions` into them.
async fn with_charges(
    pool: &sqlx::PgPool,
    mut subscriptions: Vec<Subscription>,
) -> Result<Vec<Subscription>, sqlx::Error> {
    let ids: Vec<Uuid> = subscriptions.iter().map(|s| s.id).collect();
    let rows = sqlx::query(
        "select * from subscription_charges where subscription_id = any($1)
         order by due_date, period",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    for row in &rows {
        let owner: Uuid = row.try_get("subscription_id")?;
        if let Some(s) = subscriptions.iter_mut().find(|s| s.id == owner) {
            s.charges.push(charge_from(row)?);
        }
    }
    Ok(subscriptions)
}

/// One subscription with its charges.
pub async fn find_subscription(
    pool: &sqlx::PgPool,
    id: Uuid,
) -> Result<Option<Subscription>, sqlx::Error> {
    let Some(row) = sqlx::query("select * from subscriptions where id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let found = with_charges(pool, vec![subscription_from(&row)?]).await?;
    Ok(found.into_iter().next())
}

/// A payer's subscriptions in a municipality, newest first, with their charges.
pub async fn subscriptions_of_payer(
    pool: &sqlx::PgPool,
    payer_ref: &str,
    municipality: MunicipalityCode,
) -> Result<Vec<Subscription>, sqlx::Error> {
    let rows = sqlx::query(
        "select * from subscriptions where payer_ref = $1 and municipality = $2
         order by created_at desc, code desc",
    )
    .bind(payer_ref)
    .bind(municipality.as_str())
    .fetch_all(pool)
    .await?;
    let subscriptions = rows
        .iter()
        .map(subscription_from)
        .collect::<Result<Vec<_>, _>>()?;
    with_charges(pool, subscriptions).await
}

/// Moves the due date of a charge that has no notice yet.
pub async fn redate(pool: &sqlx::PgPool, charge: Uuid, due_date: Date) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update subscription_charges set due_date = $2 where id = $1 and notice_number is null",
    )
    .bind(charge)
    .bind(jiff_sqlx::Date::from(due_date))
    .execute(pool)
    .await?;
    Ok(())
}

/// Records the notice pagoPA issued for a charge.
pub async fn set_notice(
    pool: &sqlx::PgPool,
    charge: Uuid,
    notice_number: &str,
    iuv: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update subscription_charges set notice_number = $2, iuv = $3
         where id = $1 and notice_number is null",
    )
    .bind(charge)
    .bind(notice_number)
    .bind(iuv)
    .execute(pool)
    .await?;
    Ok(())
}

/// Marks a charge paid by pagoPA's receipt; `false` when there is no such open charge.
pub async fn mark_paid(
    uow: &mut UnitOfWork,
    charge: Uuid,
    paid_at: Timestamp,
    receipt_id: &str,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "update subscription_charges set status = 'paid', paid_at = $2, receipt_id = $3
         where id = $1 and status = 'open'",
    )
    .bind(charge)
    .bind(SqlTimestamp::from(paid_at))
    .bind(receipt_id)
    .execute(uow.conn())
    .await?;
    Ok(updated.rows_affected() == 1)
}
