//! Surges in PostgreSQL.

use std::collections::{BTreeMap, HashMap};

use jiff::civil::Date;
use sportello_kit::{MunicipalityCode, UnitOfWork, uow::SqlTimestamp};
use sportello_proto::routing::v1::SurgeStatus;
use sqlx::{PgExecutor, Row, postgres::PgRow};
use uuid::Uuid;

use super::domain::{Filed, Reskilled, Roster, SiteOpening, Surge, Window};
use crate::{
    domain::{Stored, decode},
    error::RoutingError,
};

fn roster_from_row(row: &PgRow) -> Result<Roster, sqlx::Error> {
    let municipality: String = row.try_get("municipality")?;
    Ok(Roster {
        municipality: municipality
            .parse()
            .map_err(|e: &str| sqlx::Error::Decode(e.into()))?,
        skill: row.try_get("skill")?,
        proficiency: row.try_get("proficiency")?,
        operator_ids: row.try_get("operator_ids")?,
        version: row.try_get("version")?,
    })
}

/// A roster, if one was set.
pub async fn roster(
    db: impl PgExecutor<'_>,
    municipality: MunicipalityCode,
    skill: &str,
) -> Result<Option<Roster>, RoutingError> {
    let row = sqlx::query(
        "select municipality, skill, proficiency, operator_ids, version
         from surge_rosters where municipality = $1 and skill = $2",
    )
    .bind(municipality.as_str())
    .bind(skill)
    .fetch_optional(db)
    .await?;
    Ok(row.as_ref().map(roster_from_row).transpose()?)
}

/// Creates (version 0) or replaces a roster at the version read. Returns it stored.
pub async fn save_roster(uow: &mut UnitOfWork, roster: &Roster) -> Result<Roster, RoutingError> {
    let now = SqlTimestamp::from(uow.now());
    let row = sqlx::query(
        "insert into surge_rosters as r (municipality, skill, proficiency, operator_ids, version, updated_at)
         select $1, $2, $3, $4, 1, $6 where $5 = 0
         on conflict (municipality, skill) do nothing
         returning municipality, skill, proficiency, operator_ids, version",
    )
    .bind(roster.municipality.as_str())
    .bind(&roster.skill)
    .bind(roster.proficiency)
    .bind(&roster.operator_ids)
    .bind(roster.version)
    .bind(now)
    .fetch_optional(uow.conn())
    .await?;
    let row = match row {
        Some(row) => Some(row),
        None => {
            sqlx::query(
                "update surge_rosters set proficiency = $3, operator_ids = $4,
                     version = version + 1, updated_at = $6
                 where municipality = $1 and skill = $2 and version = $5
                 returning municipality, skill, proficiency, operator_ids, version",
            )
            .bind(roster.municipality.as_str())
            .bind(&roster.skill)
            .bind(roster.proficiency)
            .bind(&roster.operator_ids)
            .bind(roster.version)
            .bind(now)
            .fetch_optional(uow.conn())
            .await?
        }
    };
    match row {
        Some(row) => Ok(roster_from_row(&row)?),
        None => Err(RoutingError::StaleVersion {
            what: "surge roster",
        }),
    }
}

/// Which of `ids` are operators of `municipality`.
pub async fn operators_among(
    db: impl PgExecutor<'_>,
    municipality: MunicipalityCode,
    ids: &[String],
) -> Result<Vec<String>, RoutingError> {
    Ok(sqlx::query_scalar(
        "select id from operators where municipality = $1 and id = any($2) order by id",
    )
    .bind(municipality.as_str())
    .bind(ids)
    .fetch_all(db)
    .await?)
}

const SURGE_COLUMNS: &str = "id, municipality, window_id, level, school_year, skill, opens_on,
    closes_on, starts_at, ends_at, status, version";

fn surge_from_row(row: &PgRow) -> Result<Surge, sqlx::Error> {
    let municipality: String = row.try_get("municipality")?;
    let opens_on: jiff_sqlx::Date = row.try_get("opens_on")?;
    let closes_on: jiff_sqlx::Date = row.try_get("closes_on")?;
    Ok(Surge {
        id: row.try_get("id")?,
        window: Window {
            id: row.try_get("window_id")?,
            municipality: municipality
                .parse()
                .map_err(|e: &str| sqlx::Error::Decode(e.into()))?,
            level: row.try_get("level")?,
            school_year: row.try_get("school_year")?,
            opens_on: opens_on.to_jiff(),
            closes_on: closes_on.to_jiff(),
        },
        skill: row.try_get("skill")?,
        starts_at: row.try_get::<SqlTimestamp, _>("starts_at")?.to_jiff(),
        ends_at: row.try_get::<SqlTimestamp, _>("ends_at")?.to_jiff(),
        status: decode::<SurgeStatus>(row.try_get("status")?)?,
        operators: Vec::new(),
        version: row.try_get("version")?,
    })
}

/// Records a new surge. `false`: the window has one already (nothing written).
pub async fn insert(uow: &mut UnitOfWork, surge: &Surge) -> Result<bool, RoutingError> {
    let w = &surge.window;
    let done = sqlx::query(
        "insert into surges (id, municipality, window_id, level, school_year, skill, opens_on,
             closes_on, starts_at, ends_at, status, created_at, version)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         on conflict (municipality, window_id) do nothing",
    )
    .bind(surge.id)
    .bind(w.municipality.as_str())
    .bind(w.id)
    .bind(&w.level)
    .bind(w.school_year)
    .bind(&surge.skill)
    .bind(jiff_sqlx::Date::from(w.opens_on))
    .bind(jiff_sqlx::Date::from(w.closes_on))
    .bind(SqlTimestamp::from(surge.starts_at))
    .bind(SqlTimestamp::from(surge.ends_at))
    .bind(surge.status.to_db())
    .bind(SqlTimestamp::from(uow.now()))
    .bind(surge.version)
    .execute(uow.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

async fn operators_of(
    db: impl PgExecutor<'_>,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Reskilled>>, RoutingError> {
    let rows = sqlx::query(
        "select surge_id, operator_id, prior_proficiency, granted_proficiency, changed, restored
         from surge_operators where surge_id = any($1) order by surge_id, operator_id",
    )
    .bind(ids)
    .fetch_all(db)
    .await?;
    let mut by_surge: HashMap<Uuid, Vec<Reskilled>> = HashMap::new();
    for row in &rows {
        by_surge
            .entry(row.try_get("surge_id")?)
            .or_default()
            .push(Reskilled {
                operator_id: row.try_get("operator_id")?,
                prior: row.try_get("prior_proficiency")?,
                granted: row.try_get("granted_proficiency")?,
                changed: row.try_get("changed")?,
                restored: row.try_get("restored")?,
            });
    }
    Ok(by_surge)
}

/// One surge with its operators, locked: its start and end happen one at a time.
pub async fn lock(uow: &mut UnitOfWork, id: Uuid) -> Result<Option<Surge>, RoutingError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {SURGE_COLUMNS} from surges where id = $1 for update"
    )))
    .bind(id)
    .fetch_optional(uow.conn())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let mut surge = surge_from_row(&row)?;
    surge.operators = operators_of(uow.conn(), &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    Ok(Some(surge))
}

/// Saves a locked surge's status and what it did to its operators, with the next
/// version.
pub async fn save(uow: &mut UnitOfWork, mut surge: Surge) -> Result<Surge, RoutingError> {
    let done = sqlx::query(
        "update surges set status = $3, version = version + 1 where id = $1 and version = $2",
    )
    .bind(surge.id)
    .bind(surge.version)
    .bind(surge.status.to_db())
    .execute(uow.conn())
    .await?;
    if done.rows_affected() != 1 {
        return Err(RoutingError::StaleVersion { what: "surge" });
    }
    let ids: Vec<&str> = surge
        .operators
        .iter()
        .map(|o| o.operator_id.as_str())
        .collect();
    let prior: Vec<Option<i16>> = surge.operators.iter().map(|o| o.prior).collect();
    let granted: Vec<i16> = surge.operators.iter().map(|o| o.granted).collect();
    let changed: Vec<bool> = surge.operators.iter().map(|o| o.changed).collect();
    let restored: Vec<bool> = surge.operators.iter().map(|o| o.restored).collect();
    sqlx::query(
        "insert into surge_operators (surge_id, operator_id, prior_proficiency,
             granted_proficiency, changed, restored)
         select $1, * from unnest($2::text[], $3::smallint[], $4::smallint[], $5::bool[], $6::bool[])
         on conflict (surge_id, operator_id) do update
           set prior_proficiency = excluded.prior_proficiency,
               granted_proficiency = excluded.granted_proficiency,
               changed = excluded.changed, restored = excluded.restored",
    )
    .bind(surge.id)
    .bind(&ids)
    .bind(&prior)
    .bind(&granted)
    .bind(&changed)
    .bind(&restored)
    .execute(uow.conn())
    .await?;
    surge.version += 1;
    Ok(surge)
}

/// Another running surge of the same skill that builds on what `row` gave the operator —
/// it found them holding the skill, or raised it from what this surge granted — and so
/// must restore what they had before this one: the surge to hand the restore over to.
/// Locked.
pub async fn active_sharing(
    uow: &mut UnitOfWork,
    surge: &Surge,
    row: &Reskilled,
) -> Result<Option<Uuid>, RoutingError> {
    Ok(sqlx::query_scalar(
        "select s.id from surges s join surge_operators o on o.surge_id = s.id
         where s.municipality = $1 and s.skill = $2 and s.status = 'active' and s.id <> $3
           and o.operator_id = $4 and not o.restored
           and (not o.changed or o.prior_proficiency = $5)
         order by s.ends_at desc, s.id limit 1
         for update of s",
    )
    .bind(surge.window.municipality.as_str())
    .bind(&surge.skill)
    .bind(surge.id)
    .bind(&row.operator_id)
    .bind(row.granted)
    .fetch_optional(uow.conn())
    .await?)
}

/// Records an application. `false`: it was counted already.
pub async fn record_application(uow: &mut UnitOfWork, filed: &Filed) -> Result<bool, RoutingError> {
    let done = sqlx::query(
        "insert into surge_applications (application_id, municipality, window_id, filed_on)
         values ($1, $2, $3, $4) on conflict (application_id) do nothing",
    )
    .bind(filed.application_id)
    .bind(filed.municipality.as_str())
    .bind(filed.window_id)
    .bind(jiff_sqlx::Date::from(filed.filed_on))
    .execute(uow.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The municipality's surges, newest window first, with their operators.
pub async fn list(
    db: &sqlx::PgPool,
    municipality: MunicipalityCode,
) -> Result<Vec<Surge>, RoutingError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {SURGE_COLUMNS} from surges where municipality = $1
         order by opens_on desc, id limit 100"
    )))
    .bind(municipality.as_str())
    .fetch_all(db)
    .await?;
    let mut surges = rows
        .iter()
        .map(surge_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let ids: Vec<Uuid> = surges.iter().map(|s| s.id).collect();
    let mut operators = operators_of(db, &ids).await?;
    for surge in &mut surges {
        surge.operators = operators.remove(&surge.id).unwrap_or_default();
    }
    Ok(surges)
}

/// Applications per window and Rome day.
pub async fn applications_per_day(
    db: &sqlx::PgPool,
    municipality: MunicipalityCode,
    windows: &[Uuid],
) -> Result<HashMap<Uuid, BTreeMap<Date, i64>>, RoutingError> {
    let rows = sqlx::query(
        "select window_id, filed_on, count(*) as filed from surge_applications
         where municipality = $1 and window_id = any($2)
         group by window_id, filed_on",
    )
    .bind(municipality.as_str())
    .bind(windows)
    .fetch_all(db)
    .await?;
    let mut out: HashMap<Uuid, BTreeMap<Date, i64>> = HashMap::new();
    for row in &rows {
        let day: jiff_sqlx::Date = row.try_get("filed_on")?;
        out.entry(row.try_get("window_id")?)
            .or_default()
            .insert(day.to_jiff(), row.try_get("filed")?);
    }
    Ok(out)
}

/// The municipality's sites as the capacity count needs them: counters, opening minutes
/// per weekday for `group` (else for every group), closures between `from` and `to`.
pub async fn site_openings(
    db: &sqlx::PgPool,
    municipality: MunicipalityCode,
    group: &str,
    from: Date,
    to: Date,
) -> Result<Vec<SiteOpening>, RoutingError> {
    let rows = sqlx::query(
        "select s.id,
                (select count(*) from counters c where c.site_id = s.id) as counters,
                (select coalesce(jsonb_object_agg(h.weekday::text, h.minutes), '{}'::jsonb)
                   from (select weekday, sum(extract(epoch from closes - opens) / 60)::bigint as minutes
                           from appointment_hours
                          where site_id = s.id
                            and service_group = (select case when exists (
                                    select 1 from appointment_hours x
                                     where x.site_id = s.id and x.service_group = $2)
                                  then $2 else '' end)
                          group by weekday) h) as hours,
                (select coalesce(array_agg(day), '{}') from appointment_closures a
                  where a.site_id = s.id and a.day between $3 and $4) as closures
         from sites s where s.municipality = $1",
    )
    .bind(municipality.as_str())
    .bind(group)
    .bind(jiff_sqlx::Date::from(from))
    .bind(jiff_sqlx::Date::from(to))
    .fetch_all(db)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let sqlx::types::Json(hours): sqlx::types::Json<BTreeMap<String, i64>> =
            row.try_get("hours")?;
        let closures: Vec<jiff_sqlx::Date> = row.try_get("closures")?;
        let minutes_by_weekday = (!hours.is_empty()).then(|| {
            hours
                .iter()
                .filter_map(|(day, minutes)| day.parse::<i8>().ok().map(|d| (d, *minutes)))
                .collect()
        });
        out.push(SiteOpening {
            counters: row.try_get("counters")?,
            minutes_by_weekday,
            closures: closures.into_iter().map(|d| d.to_jiff()).collect(),
        });
    }
    Ok(out)
}

/// Hands an operator's restore over to another running surge that found them holding the
/// skill: it now remembers what they had before either.
pub async fn hand_over(
    uow: &mut UnitOfWork,
    to: Uuid,
    row: &Reskilled,
) -> Result<(), RoutingError> {
    sqlx::query(
        "update surge_operators set prior_proficiency = $3, granted_proficiency = $4,
             changed = true, restored = false
         where surge_id = $1 and operator_id = $2",
    )
    .bind(to)
    .bind(&row.operator_id)
    .bind(row.prior)
    .bind(row.granted)
    .execute(uow.conn())
    .await?;
    Ok(())
}
