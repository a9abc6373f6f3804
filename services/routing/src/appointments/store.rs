//! The SQL of appointments: calendars, rules, bookings.

use jiff::{Timestamp, civil::Time};
use sportello_kit::{MunicipalityCode, UnitOfWork, uow::SqlTimestamp};
use sportello_proto::routing::v1::BookingStatus;
use sqlx::{PgExecutor, Row, postgres::PgRow};
use uuid::Uuid;

use super::{
    calendar::Span,
    domain::{Block, Booking, BookingRules},
};
use crate::{
    domain::{Stored, decode},
    error::RoutingError,
};

fn time(row: &PgRow, name: &str) -> Result<Time, sqlx::Error> {
    Ok(row.try_get::<jiff_sqlx::Time, _>(name)?.to_jiff())
}

/// The municipality's rules, or the defaults.
pub async fn rules(
    db: impl PgExecutor<'_>,
    municipality: MunicipalityCode,
) -> Result<BookingRules, sqlx::Error> {
    let row = sqlx::query("select * from booking_rules where municipality = $1")
        .bind(municipality.as_str())
        .fetch_optional(db)
        .await?;
    let Some(row) = row else {
        return Ok(BookingRules::default());
    };
    Ok(BookingRules {
        buffer_minutes: row.try_get("buffer_minutes")?,
        max_open_per_service: row.try_get("max_open_per_service")?,
        max_per_person_per_day: row.try_get("max_per_person_per_day")?,
        max_per_source_per_day: row.try_get("max_per_source_per_day")?,
        max_per_email_per_day: row.try_get("max_per_email_per_day")?,
        release_days_ahead: row.try_get("release_days_ahead")?,
        release_time: time(&row, "release_time")?,
        release_tranches: row.try_get("release_tranches")?,
        tranche_interval_minutes: row.try_get("tranche_interval_minutes")?,
        confirm_minutes: row.try_get("confirm_minutes")?,
        check_in_early_minutes: row.try_get("check_in_early_minutes")?,
        check_in_late_minutes: row.try_get("check_in_late_minutes")?,
        waitlist_offer_minutes: row.try_get("waitlist_offer_minutes")?,
        version: row.try_get("version")?,
    })
}

/// Saves the rules if `rules.version` is the current one (0: never set); returns the
/// new version.
pub async fn save_rules(
    uow: &mut UnitOfWork,
    municipality: MunicipalityCode,
    rules: &BookingRules,
) -> Result<i64, RoutingError> {
    let current = self::rules(uow.conn(), municipality).await?.version;
    if current != rules.version {
        return Err(RoutingError::StaleVersion {
            what: "booking rules",
        });
    }
    let r = rules;
    sqlx::query(
        "insert into booking_rules (municipality, buffer_minutes, max_open_per_service,
           max_per_person_per_day, max_per_source_per_day, max_per_email_per_day,
           release_days_ahead, release_time, release_tranches, tranche_interval_minutes,
           confirm_minutes, check_in_early_minutes, check_in_late_minutes, version,
           waitlist_offer_minutes)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         on conflict (municipality) do update set
           buffer_minutes = excluded.buffer_minutes,
           max_open_per_service = excluded.max_open_per_service,
           max_per_person_per_day = excluded.max_per_person_per_day,
           max_per_source_per_day = excluded.max_per_source_per_day,
           max_per_email_per_day = excluded.max_per_email_per_day,
           release_days_ahead = excluded.release_days_ahead,
           release_time = excluded.release_time,
           release_tranches = excluded.release_tranches,
           tranche_interval_minutes = excluded.tranche_interval_minutes,
           confirm_minutes = excluded.confirm_minutes,
           check_in_early_minutes = excluded.check_in_early_minutes,
           check_in_late_minutes = excluded.check_in_late_minutes,
           waitlist_offer_minutes = excluded.waitlist_offer_minutes,
           version = excluded.version
         where booking_rules.version = $14 - 1",
    )
    .bind(municipality.as_str())
    .bind(r.buffer_minutes)
    .bind(r.max_open_per_service)
    .bind(r.max_per_person_per_day)
    .bind(r.max_per_source_per_day)
    .bind(r.max_per_email_per_day)
    .bind(r.release_days_ahead)
    .bind(jiff_sqlx::Time::from(r.release_time))
    .bind(r.release_tranches)
    .bind(r.tranche_interval_minutes)
    .bind(r.confirm_minutes)
    .bind(r.check_in_early_minutes)
    .bind(r.check_in_late_minutes)
    .bind(current + 1)
    .bind(r.waitlist_offer_minutes)
    .execute(uow.conn())
    .await?;
    Ok(current + 1)
}

/// Replaces a site's hours for a group ('' = every group).
pub async fn replace_hours(
    uow: &mut UnitOfWork,
    site: Uuid,
    group: &str,
    hours: &[(i16, Span)],
) -> Result<(), sqlx::Error> {
    sqlx::query("delete from appointment_hours where site_id = $1 and service_group = $2")
        .bind(site)
        .bind(group)
        .execute(uow.conn())
        .await?;
    for (weekday, span) in hours {
        sqlx::query(
            "insert into appointment_hours (site_id, service_group, weekday, opens, closes)
             values ($1, $2, $3, $4, $5)",
        )
        .bind(site)
        .bind(group)
        .bind(weekday)
        .bind(jiff_sqlx::Time::from(span.starts))
        .bind(jiff_sqlx::Time::from(span.ends))
        .execute(uow.conn())
        .await?;
    }
    Ok(())
}

/// A site's hours: (site, group, weekday, span), by weekday and time.
pub async fn hours(
    db: impl PgExecutor<'_>,
    sites: &[Uuid],
) -> Result<Vec<(Uuid, String, i16, Span)>, sqlx::Error> {
    let rows = sqlx::query(
        "select site_id, service_group, weekday, opens, closes from appointment_hours
         where site_id = any($1) order by site_id, service_group, weekday, opens",
    )
    .bind(sites)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get("site_id")?,
                row.try_get("service_group")?,
                row.try_get("weekday")?,
                Span {
                    starts: time(row, "opens")?,
                    ends: time(row, "closes")?,
                },
            ))
        })
        .collect()
}

/// Closes a site on a day; returns how many bookings hold a slot that day.
pub async fn add_closure(
    uow: &mut UnitOfWork,
    site: Uuid,
    day: jiff::civil::Date,
    reason: &str,
    from: Timestamp,
    to: Timestamp,
) -> Result<i64, sqlx::Error> {
    let now = SqlTimestamp::from(uow.now());
    sqlx::query(
        "insert into appointment_closures (site_id, day, reason, created_at) values ($1, $2, $3, $4)
         on conflict (site_id, day) do update set reason = excluded.reason",
    )
    .bind(site)
    .bind(jiff_sqlx::Date::from(day))
    .bind(reason)
    .bind(now)
    .execute(uow.conn())
    .await?;
    sqlx::query_scalar(
        "select count(*) from bookings where site_id = $1 and slot && tstzrange($2, $3)
           and status in ('unconfirmed', 'offered', 'confirmed', 'checked_in')",
    )
    .bind(site)
    .bind(SqlTimestamp::from(from))
    .bind(SqlTimestamp::from(to))
    .fetch_one(uow.conn())
    .await
}

/// The closures of the sites between two days: (site, day).
pub async fn closures(
    db: impl PgExecutor<'_>,
    sites: &[Uuid],
    from: jiff::civil::Date,
    to: jiff::civil::Date,
) -> Result<Vec<(Uuid, jiff::civil::Date)>, sqlx::Error> {
    let rows = sqlx::query(
        "select site_id, day from appointment_closures
         where site_id = any($1) and day between $2 and $3",
    )
    .bind(sites)
    .bind(jiff_sqlx::Date::from(from))
    .bind(jiff_sqlx::Date::from(to))
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get("site_id")?,
                row.try_get::<jiff_sqlx::Date, _>("day")?.to_jiff(),
            ))
        })
        .collect()
}

/// Replaces an operator's schedule.
pub async fn replace_schedule(
    uow: &mut UnitOfWork,
    operator: &str,
    blocks: &[Block],
) -> Result<(), sqlx::Error> {
    sqlx::query("delete from operator_schedules where operator_id = $1")
        .bind(operator)
        .execute(uow.conn())
        .await?;
    for b in blocks {
        sqlx::query(
            "insert into operator_schedules (operator_id, weekday, starts, ends, site_id, counter_number)
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(operator)
        .bind(b.weekday)
        .bind(jiff_sqlx::Time::from(b.span.starts))
        .bind(jiff_sqlx::Time::from(b.span.ends))
        .bind(b.site_id)
        .bind(b.counter_number)
        .execute(uow.conn())
        .await?;
    }
    Ok(())
}

/// The schedule blocks at the sites of the operators of `municipality`:
/// (operator id, block), by operator, weekday and time.
pub async fn schedules(
    db: impl PgExecutor<'_>,
    municipality: MunicipalityCode,
    sites: &[Uuid],
) -> Result<Vec<(String, Block)>, sqlx::Error> {
    let rows = sqlx::query(
        "select s.operator_id, s.weekday, s.starts, s.ends, s.site_id, s.counter_number
         from operator_schedules s join operators o on o.id = s.operator_id
         where o.municipality = $1 and s.site_id = any($2)
         order by s.operator_id, s.weekday, s.starts",
    )
    .bind(municipality.as_str())
    .bind(sites)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("operator_id")?, block_row(row)?)))
        .collect()
}

/// A schedule block from its row.
fn block_row(row: &PgRow) -> Result<Block, sqlx::Error> {
    Ok(Block {
        weekday: row.try_get("weekday")?,
        span: Span {
            starts: time(row, "starts")?,
            ends: time(row, "ends")?,
        },
        site_id: row.try_get("site_id")?,
        counter_number: row.try_get("counter_number")?,
    })
}

/// An operator's schedule.
pub async fn schedule_of(
    db: impl PgExecutor<'_>,
    operator: &str,
) -> Result<Vec<Block>, sqlx::Error> {
    let rows = sqlx::query(
        "select weekday, starts, ends, site_id, counter_number from operator_schedules
         where operator_id = $1 order by weekday, starts",
    )
    .bind(operator)
    .fetch_all(db)
    .await?;
    rows.iter().map(block_row).collect()
}

/// The time the sites' operators and counters are taken between two instants:
/// (operator, site, counter, start, end) of every booking holding its slot.
pub async fn taken(
    db: impl PgExecutor<'_>,
    sites: &[Uuid],
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<(String, Uuid, i16, Timestamp, Timestamp)>, sqlx::Error> {
    let rows = sqlx::query(
        "select operator_id, site_id, counter_number, lower(slot) as starts, upper(slot) as ends
         from bookings
         where site_id = any($1) and slot && tstzrange($2, $3)
           and status in ('unconfirmed', 'offered', 'confirmed', 'checked_in')",
    )
    .bind(sites)
    .bind(SqlTimestamp::from(from))
    .bind(SqlTimestamp::from(to))
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get("operator_id")?,
                row.try_get("site_id")?,
                row.try_get("counter_number")?,
                row.try_get::<SqlTimestamp, _>("starts")?.to_jiff(),
                row.try_get::<SqlTimestamp, _>("ends")?.to_jiff(),
            ))
        })
        .collect()
}

const COLUMNS: &str = "id, code, municipality, service_code, service_group, site_id, operator_id,
    counter_number, lower(slot) as slot_start, upper(slot) as slot_end, status, requester_ref,
    confirm_deadline, case_id, ticket_label, origin_case_id, booked_by, created_at, version";

fn from_row(row: &PgRow) -> Result<Booking, sqlx::Error> {
    let municipality: String = row.try_get("municipality")?;
    let status: String = row.try_get("status")?;
    Ok(Booking {
        id: row.try_get("id")?,
        code: row.try_get("code")?,
        municipality: municipality
            .parse()
            .map_err(|_| sqlx::Error::Decode("bookings.municipality is invalid".into()))?,
        service_code: row.try_get("service_code")?,
        service_group: row.try_get("service_group")?,
        site_id: row.try_get("site_id")?,
        operator_id: row.try_get("operator_id")?,
        counter_number: row.try_get("counter_number")?,
        start: row.try_get::<SqlTimestamp, _>("slot_start")?.to_jiff(),
        end: row.try_get::<SqlTimestamp, _>("slot_end")?.to_jiff(),
        status: decode::<BookingStatus>(&status)?,
        requester_ref: row.try_get("requester_ref")?,
        confirm_deadline: row
            .try_get::<Option<SqlTimestamp>, _>("confirm_deadline")?
            .map(SqlTimestamp::to_jiff),
        case_id: row.try_get("case_id")?,
        ticket_label: row.try_get("ticket_label")?,
        origin_case_id: row.try_get("origin_case_id")?,
        booked_by: row.try_get("booked_by")?,
        created_at: row.try_get::<SqlTimestamp, _>("created_at")?.to_jiff(),
        version: row.try_get("version")?,
    })
}

/// What only a booking's own checks need: the keyed hash of the e-mailed code and how
/// often a wrong one was tried.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    /// The network source's keyed hash.
    pub source_ref: Option<String>,
    /// The e-mail address's keyed hash.
    pub email_ref: Option<String>,
    /// The confirmation code's keyed hash.
    pub confirmation_hash: Option<String>,
}

/// Inserts a booking. Another booking holding the operator or the counter then is
/// refused by the exclusion constraints: [`RoutingError::SlotTaken`].
pub async fn insert(
    uow: &mut UnitOfWork,
    b: &Booking,
    secrets: &Secrets,
) -> Result<(), RoutingError> {
    let result = sqlx::query(
        "insert into bookings (id, code, municipality, service_code, service_group, site_id,
           operator_id, counter_number, slot, status, requester_ref, source_ref, email_ref,
           confirmation_hash, confirm_deadline, origin_case_id, booked_by, created_at,
           updated_at, version)
         values ($1, $2, $3, $4, $5, $6, $7, $8, tstzrange($9, $10), $11, $12, $13, $14, $15,
           $16, $17, $18, $19, $19, $20)",
    )
    .bind(b.id)
    .bind(&b.code)
    .bind(b.municipality.as_str())
    .bind(&b.service_code)
    .bind(&b.service_group)
    .bind(b.site_id)
    .bind(&b.operator_id)
    .bind(b.counter_number)
    .bind(SqlTimestamp::from(b.start))
    .bind(SqlTimestamp::from(b.end))
    .bind(b.status.to_db())
    .bind(&b.requester_ref)
    .bind(&secrets.source_ref)
    .bind(&secrets.email_ref)
    .bind(&secrets.confirmation_hash)
    .bind(b.confirm_deadline.map(SqlTimestamp::from))
    .bind(b.origin_case_id)
    .bind(&b.booked_by)
    .bind(SqlTimestamp::from(b.created_at))
    .bind(b.version)
    .execute(uow.conn())
    .await;
    result.map(|_| ()).map_err(slot_conflict)
}

/// An exclusion violation is a slot someone else holds.
fn slot_conflict(error: sqlx::Error) -> RoutingError {
    match &error {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("23P01") => {
            RoutingError::SlotTaken
        }
        _ => error.into(),
    }
}

/// Locks a booking by its code.
pub async fn lock(
    uow: &mut UnitOfWork,
    code: &str,
) -> Result<(Booking, Secrets, i16), RoutingError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS}, confirmation_hash, confirm_attempts from bookings where code = $1 for update"
    )))
    .bind(code)
    .fetch_optional(uow.conn())
    .await?
    .ok_or(RoutingError::BookingNotFound)?;
    let secrets = Secrets {
        confirmation_hash: row.try_get("confirmation_hash")?,
        ..Secrets::default()
    };
    Ok((from_row(&row)?, secrets, row.try_get("confirm_attempts")?))
}

/// Locks a booking by its id.
pub async fn lock_by_id(uow: &mut UnitOfWork, id: Uuid) -> Result<Option<Booking>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from bookings where id = $1 for update"
    )))
    .bind(id)
    .fetch_optional(uow.conn())
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// A booking by its code.
pub async fn by_code(db: impl PgExecutor<'_>, code: &str) -> Result<Booking, RoutingError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from bookings where code = $1"
    )))
    .bind(code)
    .fetch_optional(db)
    .await?
    .ok_or(RoutingError::BookingNotFound)?;
    Ok(from_row(&row)?)
}

/// Saves a booking's status, slot, case and version (bumped by the caller).
pub async fn update(
    uow: &mut UnitOfWork,
    b: &Booking,
    cancel_reason: Option<&str>,
) -> Result<(), RoutingError> {
    let now = SqlTimestamp::from(uow.now());
    sqlx::query(
        "update bookings set status = $2, site_id = $3, operator_id = $4, counter_number = $5,
           slot = tstzrange($6, $7), confirm_deadline = $8, case_id = $9, ticket_label = $10,
           cancel_reason = coalesce($11, cancel_reason), updated_at = $12, version = $13
         where id = $1",
    )
    .bind(b.id)
    .bind(b.status.to_db())
    .bind(b.site_id)
    .bind(&b.operator_id)
    .bind(b.counter_number)
    .bind(SqlTimestamp::from(b.start))
    .bind(SqlTimestamp::from(b.end))
    .bind(b.confirm_deadline.map(SqlTimestamp::from))
    .bind(b.case_id)
    .bind(&b.ticket_label)
    .bind(cancel_reason)
    .bind(now)
    .bind(b.version)
    .execute(uow.conn())
    .await
    .map_err(slot_conflict)?;
    Ok(())
}

/// Counts a wrong confirmation code.
pub async fn count_wrong_code(uow: &mut UnitOfWork, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("update bookings set confirm_attempts = confirm_attempts + 1 where id = $1")
        .bind(id)
        .execute(uow.conn())
        .await
        .map(|_| ())
}

/// Serialises the bookings of the same person, source or address, so two concurrent
/// bookings cannot both slip under a cap: transaction-scoped advisory locks, taken in a
/// fixed order so two bookings never wait for each other in a cycle.
pub async fn lock_people(uow: &mut UnitOfWork, keys: &[&str]) -> Result<(), sqlx::Error> {
    let mut keys: Vec<&str> = keys.to_vec();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        sqlx::query("select pg_advisory_xact_lock(hashtextextended($1, 7))")
            .bind(key)
            .execute(uow.conn())
            .await?;
    }
    Ok(())
}

/// The counts the caps look at.
#[derive(Debug, Clone, Copy, Default)]
pub struct Held {
    /// Open bookings of the person for the service.
    pub for_service: i64,
    /// Bookings of the person holding a slot on the day.
    pub on_day: i64,
    /// Bookings made from the source in the last 24 hours.
    pub from_source: i64,
    /// Bookings made with the address in the last 24 hours.
    pub by_email: i64,
}

/// What a person, a source and an address hold now.
#[allow(clippy::too_many_arguments)]
pub async fn held(
    uow: &mut UnitOfWork,
    requester_ref: &str,
    service: &str,
    day: (Timestamp, Timestamp),
    source_ref: Option<&str>,
    email_ref: Option<&str>,
    since: Timestamp,
    except: Option<Uuid>,
) -> Result<Held, sqlx::Error> {
    let row = sqlx::query(
        "select
           count(*) filter (where requester_ref = $1 and service_code = $2
                              and status in ('unconfirmed', 'offered', 'confirmed')) as for_service,
           count(*) filter (where requester_ref = $1 and slot && tstzrange($3, $4)
                              and status in ('unconfirmed', 'offered', 'confirmed', 'checked_in')) as on_day,
           (select count(*) from bookings where source_ref = $5 and created_at >= $7) as from_source,
           (select count(*) from bookings where email_ref = $6 and created_at >= $7) as by_email
         from bookings where requester_ref = $1 and id is distinct from $8",
    )
    .bind(requester_ref)
    .bind(service)
    .bind(SqlTimestamp::from(day.0))
    .bind(SqlTimestamp::from(day.1))
    .bind(source_ref)
    .bind(email_ref)
    .bind(SqlTimestamp::from(since))
    .bind(except)
    .fetch_one(uow.conn())
    .await?;
    Ok(Held {
        for_service: row.try_get("for_service")?,
        on_day: row.try_get("on_day")?,
        from_source: row.try_get("from_source")?,
        by_email: row.try_get("by_email")?,
    })
}

/// The bookings of a site (one operator's, or everyone's) starting between two instants.
pub async fn list(
    db: impl PgExecutor<'_>,
    site: Uuid,
    operator: Option<&str>,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<Booking>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from bookings
         where site_id = $1 and ($2::text is null or operator_id = $2)
           and lower(slot) >= $3 and lower(slot) < $4
         order by lower(slot), operator_id"
    )))
    .bind(site)
    .bind(operator)
    .bind(SqlTimestamp::from(from))
    .bind(SqlTimestamp::from(to))
    .fetch_all(db)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// A place in a waitlist, as stored.
#[derive(Debug, Clone)]
pub struct WaitlistRow {
    /// Id.
    pub id: Uuid,
    /// The municipality.
    pub municipality: String,
    /// The service.
    pub service_code: String,
    /// The person.
    pub requester_ref: String,
    /// The sites; empty: any.
    pub site_ids: Vec<Uuid>,
    /// First day.
    pub from_date: jiff::civil::Date,
    /// Last day.
    pub to_date: jiff::civil::Date,
    /// Where it stands.
    pub status: String,
    /// The booking held for it or made from it.
    pub booking_id: Option<Uuid>,
    /// When the person joined.
    pub joined_at: Timestamp,
    /// Version.
    pub version: i64,
}

const WAITLIST_COLUMNS: &str = "id, municipality, service_code, requester_ref, site_ids, from_date,
    to_date, status, booking_id, joined_at, version";

fn waitlist_row(row: &PgRow) -> Result<WaitlistRow, sqlx::Error> {
    Ok(WaitlistRow {
        id: row.try_get("id")?,
        municipality: row.try_get("municipality")?,
        service_code: row.try_get("service_code")?,
        requester_ref: row.try_get("requester_ref")?,
        site_ids: row.try_get("site_ids")?,
        from_date: row.try_get::<jiff_sqlx::Date, _>("from_date")?.to_jiff(),
        to_date: row.try_get::<jiff_sqlx::Date, _>("to_date")?.to_jiff(),
        status: row.try_get("status")?,
        booking_id: row.try_get("booking_id")?,
        joined_at: row.try_get::<SqlTimestamp, _>("joined_at")?.to_jiff(),
        version: row.try_get("version")?,
    })
}

/// Puts a person in line; a person already in line for the service is
/// [`RoutingError::AlreadyWaiting`].
pub async fn join_waitlist(uow: &mut UnitOfWork, w: &WaitlistRow) -> Result<(), RoutingError> {
    let result = sqlx::query(
        "insert into waitlist (id, municipality, service_code, requester_ref, site_ids, from_date,
           to_date, status, booking_id, joined_at, version)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(w.id)
    .bind(&w.municipality)
    .bind(&w.service_code)
    .bind(&w.requester_ref)
    .bind(&w.site_ids)
    .bind(jiff_sqlx::Date::from(w.from_date))
    .bind(jiff_sqlx::Date::from(w.to_date))
    .bind(&w.status)
    .bind(w.booking_id)
    .bind(SqlTimestamp::from(w.joined_at))
    .bind(w.version)
    .execute(uow.conn())
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("23505") => {
            Err(RoutingError::AlreadyWaiting)
        }
        Err(e) => Err(e.into()),
    }
}

/// The first in line for a freed slot of `service` on `day` at `site`, locked (others
/// offering at the same time skip it).
pub async fn first_in_line(
    uow: &mut UnitOfWork,
    municipality: &str,
    service: &str,
    day: jiff::civil::Date,
    site: Uuid,
) -> Result<Option<WaitlistRow>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {WAITLIST_COLUMNS} from waitlist
         where municipality = $1 and service_code = $2 and status = 'waiting'
           and $3 between from_date and to_date
           and (cardinality(site_ids) = 0 or $4 = any(site_ids))
         order by joined_at, id limit 1 for update skip locked"
    )))
    .bind(municipality)
    .bind(service)
    .bind(jiff_sqlx::Date::from(day))
    .bind(site)
    .fetch_optional(uow.conn())
    .await?
    .as_ref()
    .map(waitlist_row)
    .transpose()
}

/// A place in line, locked.
pub async fn lock_waitlist(uow: &mut UnitOfWork, id: Uuid) -> Result<WaitlistRow, RoutingError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {WAITLIST_COLUMNS} from waitlist where id = $1 for update"
    )))
    .bind(id)
    .fetch_optional(uow.conn())
    .await?
    .ok_or(RoutingError::WaitlistNotFound)?;
    Ok(waitlist_row(&row)?)
}

/// The place in line a booking was offered to, locked.
pub async fn waitlist_of_booking(
    uow: &mut UnitOfWork,
    booking: Uuid,
) -> Result<Option<WaitlistRow>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {WAITLIST_COLUMNS} from waitlist where booking_id = $1 for update"
    )))
    .bind(booking)
    .fetch_optional(uow.conn())
    .await?
    .as_ref()
    .map(waitlist_row)
    .transpose()
}

/// A place in line.
pub async fn waitlist_entry(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<WaitlistRow, RoutingError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {WAITLIST_COLUMNS} from waitlist where id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or(RoutingError::WaitlistNotFound)?;
    Ok(waitlist_row(&row)?)
}

/// Saves a place's status and booking.
pub async fn update_waitlist(uow: &mut UnitOfWork, w: &WaitlistRow) -> Result<(), sqlx::Error> {
    sqlx::query("update waitlist set status = $2, booking_id = $3, version = $4 where id = $1")
        .bind(w.id)
        .bind(&w.status)
        .bind(w.booking_id)
        .bind(w.version)
        .execute(uow.conn())
        .await
        .map(|_| ())
}

/// A booking by id.
pub async fn by_id(db: impl PgExecutor<'_>, id: Uuid) -> Result<Booking, RoutingError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from bookings where id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or(RoutingError::BookingNotFound)?;
    Ok(from_row(&row)?)
}
