//! Occupations and tariff tables in PostgreSQL.

use jiff::{Timestamp, civil::Date};
use sportello_kit::{MunicipalityCode, UnitOfWork, db, uow::SqlTimestamp};
use sqlx::{PgConnection, Row, postgres::PgRow};
use uuid::Uuid;

use super::{
    canone::{Computation, Kind, Period, Rate, Standard},
    domain::{NewOccupation, Requester},
    geometry::LonLat,
};
use crate::error::SuapError;

/// The exclusion constraint that keeps granted and valid occupations apart.
pub const NO_OVERLAP: &str = "occupations_no_overlap";

/// The statuses that hold the place (the constraint's predicate).
pub const HOLDING: [&str; 2] = ["granted", "valid"];

/// The canone stored at the grant, with the tariff version it used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredCanone {
    /// The computation.
    pub computation: Computation,
    /// Tariff year.
    pub tariff_year: i32,
    /// Version of that year's table.
    pub tariff_version: i32,
}

/// A stored occupation.
#[derive(Debug, Clone)]
pub struct Occupation {
    /// Record id.
    pub id: Uuid,
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// What for.
    pub kind: Kind,
    /// The ring as given.
    pub vertices: Vec<LonLat>,
    /// The street.
    pub street: String,
    /// Its zone category.
    pub zone_category: i32,
    /// True area, m².
    pub area_m2: f64,
    /// The period.
    pub period: Period,
    /// Permanent or temporary.
    pub permanent: bool,
    /// Who applied.
    pub requester: Requester,
    /// requested, granted, valid, revoked, expired.
    pub status: String,
    /// The occupation it renews.
    pub renews: Option<Uuid>,
    /// The canone, once granted.
    pub canone: Option<StoredCanone>,
    /// The payment receipt.
    pub receipt_ref: Option<String>,
    /// When paid.
    pub paid_at: Option<Timestamp>,
    /// Why revoked.
    pub revocation_reason: Option<String>,
    /// Record version.
    pub version: i64,
    /// When applied for.
    pub created_at: Timestamp,
}

const COLUMNS: &str = "id, municipality, kind, vertices, street, zone_category, area_m2,
    lower(period)::text as start_date, (upper(period) - 1)::text as end_date, permanent,
    business_id, requester_ref, status, renews, canone_cents, billed_area_m2, billed_days,
    tariff_year, tariff_version, standard_cents, coefficient_milli, reduction_percent,
    receipt_ref, paid_at, revocation_reason, version, created_at";

/// The place's shape for the database: the `polygon` text and the lon/lat `box` text.
fn bounds_literal(bounds: (f64, f64, f64, f64)) -> String {
    let (west, south, east, north) = bounds;
    format!("(({west},{south}),({east},{north}))")
}

/// Inserts a requested occupation.
pub async fn insert(
    uow: &mut UnitOfWork,
    occupation: &NewOccupation,
    renews: Option<Uuid>,
) -> Result<Occupation, SuapError> {
    let id = Uuid::now_v7();
    let now = uow.now();
    let flat: Vec<f64> = occupation
        .place
        .vertices
        .iter()
        .flat_map(|p| [p.lon, p.lat])
        .collect();
    let (business, person) = match &occupation.requester {
        Requester::Business(id) => (Some(*id), None),
        Requester::Person(reference) => (None, Some(reference.clone())),
    };
    let inserted = sqlx::query(
        "insert into occupations (id, municipality, kind, vertices, shape, bounds, street,
             zone_category, area_m2, period, permanent, business_id, requester_ref, status,
             renews, created_at, updated_at)
         values ($1, $2, $3, $4, $5::polygon, $6::box, $7, $8, $9,
                 daterange($10::date, $11::date, '[]'), $12, $13, $14, 'requested', $15, $16, $16)",
    )
    .bind(id)
    .bind(occupation.municipality.as_str())
    .bind(occupation.kind.as_str())
    .bind(&flat)
    .bind(occupation.place.shape_literal())
    .bind(bounds_literal(occupation.place.bounds))
    .bind(&occupation.street)
    .bind(occupation.zone_category)
    .bind(occupation.place.area_m2)
    .bind(occupation.period.start.to_string())
    .bind(occupation.period.end.map(|d| d.to_string()))
    .bind(occupation.period.is_permanent())
    .bind(business)
    .bind(person)
    .bind(renews)
    .bind(SqlTimestamp::from(now))
    .execute(uow.conn())
    .await;
    match inserted {
        Ok(_) => {}
        // The business must exist: a foreign key, named as the caller's field.
        Err(error)
            if db::violated_constraint(&error, db::sqlstate::FOREIGN_KEY_VIOLATION).is_some() =>
        {
            return Err(SuapError::UnknownBusiness);
        }
        Err(error) => return Err(error.into()),
    }
    Ok(Occupation {
        id,
        municipality: occupation.municipality,
        kind: occupation.kind,
        vertices: occupation.place.vertices.clone(),
        street: occupation.street.clone(),
        zone_category: occupation.zone_category,
        area_m2: occupation.place.area_m2,
        period: occupation.period,
        permanent: occupation.period.is_permanent(),
        requester: occupation.requester.clone(),
        status: "requested".into(),
        renews,
        canone: None,
        receipt_ref: None,
        paid_at: None,
        revocation_reason: None,
        version: 1,
        created_at: now,
    })
}

/// Whether `business` is registered with `municipality`'s SUAP.
pub async fn business_in(
    conn: &mut PgConnection,
    business: Uuid,
    municipality: MunicipalityCode,
) -> Result<bool, SuapError> {
    let found: Option<i32> =
        sqlx::query_scalar("select 1 from businesses where id = $1 and municipality = $2")
            .bind(business)
            .bind(municipality.as_str())
            .fetch_optional(conn)
            .await?;
    Ok(found.is_some())
}

/// An occupation, locked for the rest of the unit of work.
pub async fn lock(uow: &mut UnitOfWork, id: Uuid) -> Result<Option<Occupation>, SuapError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from occupations where id = $1 for update"
    )))
    .bind(id)
    .fetch_optional(uow.conn())
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// An occupation, unlocked.
pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Option<Occupation>, SuapError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from occupations where id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Moves a requested occupation to granted with its canone. The exclusion constraint is
/// the arbiter: when it fires, the occupation that holds the place is read back (after a
/// savepoint, since the failed statement aborts the transaction) to be named.
pub async fn grant(
    uow: &mut UnitOfWork,
    id: Uuid,
    canone: &StoredCanone,
) -> Result<i64, SuapError> {
    let c = &canone.computation;
    sqlx::query("savepoint occupation_grant")
        .execute(uow.conn())
        .await?;
    let updated = sqlx::query_scalar::<_, i64>(
        "update occupations
            set status = 'granted', canone_cents = $2, billed_area_m2 = $3, billed_days = $4,
                tariff_year = $5, tariff_version = $6, standard_cents = $7,
                coefficient_milli = $8, reduction_percent = $9, version = version + 1,
                updated_at = $10
          where id = $1
          returning version",
    )
    .bind(id)
    .bind(c.amount_cents)
    .bind(c.billed_area_m2)
    .bind(c.billed_days)
    .bind(canone.tariff_year)
    .bind(canone.tariff_version)
    .bind(c.standard_cents)
    .bind(c.rate.coefficient_milli)
    .bind(c.rate.reduction_percent)
    .bind(SqlTimestamp::from(uow.now()))
    .fetch_one(uow.conn())
    .await;
    match updated {
        // The savepoint is left to the commit to release: one round trip fewer.
        Ok(version) => Ok(version),
        Err(error)
            if db::violated_constraint(&error, db::sqlstate::EXCLUSION_VIOLATION)
                == Some(NO_OVERLAP) =>
        {
            sqlx::query("rollback to savepoint occupation_grant")
                .execute(uow.conn())
                .await?;
            let other = sqlx::query_scalar::<_, Uuid>(
                "select o.id from occupations o, occupations me
                  where me.id = $1 and o.id <> me.id and o.status in ('granted', 'valid')
                    and o.shape && me.shape and o.period && me.period
                  order by o.id limit 1",
            )
            .bind(id)
            .fetch_optional(uow.conn())
            .await?;
            Err(SuapError::OccupationConflict { other })
        }
        Err(error) => Err(error.into()),
    }
}

/// Moves a granted occupation to valid (paid).
pub async fn mark_paid(
    uow: &mut UnitOfWork,
    id: Uuid,
    paid_at: Timestamp,
    receipt_ref: &str,
) -> Result<i64, SuapError> {
    let version = sqlx::query_scalar(
        "update occupations set status = 'valid', paid_at = $2, receipt_ref = $3,
                version = version + 1, updated_at = $4
          where id = $1 returning version",
    )
    .bind(id)
    .bind(SqlTimestamp::from(paid_at))
    .bind(receipt_ref)
    .bind(SqlTimestamp::from(uow.now()))
    .fetch_one(uow.conn())
    .await?;
    Ok(version)
}

/// Revokes an occupation: it no longer holds the place.
pub async fn revoke(uow: &mut UnitOfWork, id: Uuid, reason: &str) -> Result<i64, SuapError> {
    let version = sqlx::query_scalar(
        "update occupations set status = 'revoked', revocation_reason = $2,
                version = version + 1, updated_at = $3
          where id = $1 returning version",
    )
    .bind(id)
    .bind(reason)
    .bind(SqlTimestamp::from(uow.now()))
    .fetch_one(uow.conn())
    .await?;
    Ok(version)
}

/// Marks a granted or valid occupation expired; `None` when it was neither.
pub async fn expire(uow: &mut UnitOfWork, id: Uuid) -> Result<Option<i64>, SuapError> {
    let version = sqlx::query_scalar(
        "update occupations set status = 'expired', version = version + 1, updated_at = $2
          where id = $1 and status in ('granted', 'valid') returning version",
    )
    .bind(id)
    .bind(SqlTimestamp::from(uow.now()))
    .fetch_optional(uow.conn())
    .await?;
    Ok(version)
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// The municipality.
    pub municipality: Option<MunicipalityCode>,
    /// A street, matched case-insensitively.
    pub street: Option<String>,
    /// A lon/lat box (west, south, east, north).
    pub bounds: Option<(f64, f64, f64, f64)>,
    /// First day of the period of interest.
    pub from: Option<Date>,
    /// Last day of the period of interest.
    pub to: Option<Date>,
    /// Statuses; empty for all.
    pub statuses: Vec<String>,
    /// Only ids after this one (the page cursor).
    pub after: Option<Uuid>,
    /// Page size.
    pub limit: i64,
}

/// The occupations matching `filter`, oldest first (ids are UUID v7).
pub async fn list(conn: &mut PgConnection, filter: &Filter) -> Result<Vec<Occupation>, SuapError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from occupations
          where municipality = $1
            and ($2::text is null or lower(street) = lower($2))
            and ($3::box is null or bounds && $3::box)
            and period && daterange($4::date, $5::date, '[]')
            and (cardinality($6::text[]) = 0 or status = any($6))
            and ($7::uuid is null or id > $7)
          order by id limit $8"
    )))
    .bind(filter.municipality.map(|m| m.as_str().to_owned()))
    .bind(filter.street.clone())
    .bind(filter.bounds.map(bounds_literal))
    .bind(filter.from.map(|d| d.to_string()))
    .bind(filter.to.map(|d| d.to_string()))
    .bind(&filter.statuses)
    .bind(filter.after)
    .bind(filter.limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

fn parse_date(raw: Option<String>) -> Result<Option<Date>, SuapError> {
    raw.map(|text| {
        text.parse::<Date>()
            .map_err(|e| SuapError::Db(sqlx::Error::Decode(Box::new(e))))
    })
    .transpose()
}

fn from_row(row: &PgRow) -> Result<Occupation, SuapError> {
    let decode =
        |what: &str| SuapError::Db(sqlx::Error::Protocol(format!("bad {what} in occupations")));
    let municipality: String = row.try_get("municipality")?;
    let kind: String = row.try_get("kind")?;
    let flat: Vec<f64> = row.try_get("vertices")?;
    let start = parse_date(row.try_get("start_date")?)?.ok_or_else(|| decode("period"))?;
    let end = parse_date(row.try_get("end_date")?)?;
    let business: Option<Uuid> = row.try_get("business_id")?;
    let person: Option<String> = row.try_get("requester_ref")?;
    let requester = match (business, person) {
        (Some(id), _) => Requester::Business(id),
        (None, Some(reference)) => Requester::Person(reference),
        (None, None) => return Err(decode("requester")),
    };
    let canone = match row.try_get::<Option<i64>, _>("canone_cents")? {
        Some(amount_cents) => Some(StoredCanone {
            computation: Computation {
                amount_cents,
                billed_area_m2: row
                    .try_get::<Option<i64>, _>("billed_area_m2")?
                    .unwrap_or_default(),
                billed_days: row
                    .try_get::<Option<i64>, _>("billed_days")?
                    .unwrap_or_default(),
                standard_cents: row
                    .try_get::<Option<i64>, _>("standard_cents")?
                    .unwrap_or_default(),
                rate: Rate {
                    coefficient_milli: row
                        .try_get::<Option<i32>, _>("coefficient_milli")?
                        .unwrap_or_default(),
                    reduction_percent: row
                        .try_get::<Option<i32>, _>("reduction_percent")?
                        .unwrap_or_default(),
                },
                permanent: row.try_get("permanent")?,
            },
            tariff_year: row
                .try_get::<Option<i32>, _>("tariff_year")?
                .unwrap_or_default(),
            tariff_version: row
                .try_get::<Option<i32>, _>("tariff_version")?
                .unwrap_or_default(),
        }),
        None => None,
    };
    Ok(Occupation {
        id: row.try_get("id")?,
        municipality: municipality.parse().map_err(|_| decode("municipality"))?,
        kind: Kind::from_db(&kind).ok_or_else(|| decode("kind"))?,
        vertices: flat
            .chunks_exact(2)
            .map(|pair| LonLat {
                lon: pair[0],
                lat: pair[1],
            })
            .collect(),
        street: row.try_get("street")?,
        zone_category: row.try_get("zone_category")?,
        area_m2: row.try_get("area_m2")?,
        period: Period { start, end },
        permanent: row.try_get("permanent")?,
        requester,
        status: row.try_get("status")?,
        renews: row.try_get("renews")?,
        canone,
        receipt_ref: row.try_get("receipt_ref")?,
        paid_at: row
            .try_get::<Option<SqlTimestamp>, _>("paid_at")?
            .map(|t| t.to_jiff()),
        revocation_reason: row.try_get("revocation_reason")?,
        version: row.try_get("version")?,
        created_at: row.try_get::<SqlTimestamp, _>("created_at")?.to_jiff(),
    })
}

/// The rate for one zone, kind and duration in the latest version of a year's table, with
/// that version and the table's standard tariffs: one round trip for the grant.
pub async fn current_rate(
    conn: &mut PgConnection,
    municipality: MunicipalityCode,
    year: i32,
    zone: i32,
    kind: Kind,
    permanent: bool,
) -> Result<Option<(i32, Standard, Rate)>, SuapError> {
    let row = sqlx::query(
        "select t.version, t.standard_annual_cents, t.standard_daily_cents,
                r.coefficient_milli, r.reduction_percent
           from (select * from occupation_tariff_tables
                  where municipality = $1 and year = $2
                  order by version desc limit 1) t
           join occupation_tariff_rates r
             on r.municipality = t.municipality and r.year = t.year and r.version = t.version
          where r.zone_category = $3 and r.kind = $4 and r.permanent = $5",
    )
    .bind(municipality.as_str())
    .bind(year)
    .bind(zone)
    .bind(kind.as_str())
    .bind(permanent)
    .fetch_optional(conn)
    .await?;
    row.map(|row| {
        Ok((
            row.try_get("version")?,
            Standard {
                annual_cents: row.try_get("standard_annual_cents")?,
                daily_cents: row.try_get("standard_daily_cents")?,
            },
            Rate {
                coefficient_milli: row.try_get("coefficient_milli")?,
                reduction_percent: row.try_get("reduction_percent")?,
            },
        ))
    })
    .transpose()
}

/// A tariff table as stored.
#[derive(Debug, Clone)]
pub struct TariffTable {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// Solar year.
    pub year: i32,
    /// Version within the year.
    pub version: i32,
    /// Resident population.
    pub population: i64,
    /// The standard tariffs.
    pub standard: Standard,
    /// (zone, kind, permanent, rate).
    pub rates: Vec<(i32, Kind, bool, Rate)>,
    /// When published.
    pub created_at: Timestamp,
}

/// Publishes `table` as the next version of its year; returns the version.
pub async fn insert_tariffs(uow: &mut UnitOfWork, table: &TariffTable) -> Result<i32, SuapError> {
    // One publisher at a time per municipality and year: the advisory lock makes the
    // version numbers gapless without a retry loop.
    sqlx::query("select pg_advisory_xact_lock(hashtext('suap.tariffs.' || $1 || '.' || $2))")
        .bind(table.municipality.as_str())
        .bind(table.year)
        .execute(uow.conn())
        .await?;
    let version: i32 = sqlx::query_scalar(
        "select coalesce(max(version), 0) + 1 from occupation_tariff_tables
          where municipality = $1 and year = $2",
    )
    .bind(table.municipality.as_str())
    .bind(table.year)
    .fetch_one(uow.conn())
    .await?;
    sqlx::query(
        "insert into occupation_tariff_tables (municipality, year, version, population,
             standard_annual_cents, standard_daily_cents, created_at)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(table.municipality.as_str())
    .bind(table.year)
    .bind(version)
    .bind(table.population)
    .bind(table.standard.annual_cents)
    .bind(table.standard.daily_cents)
    .bind(SqlTimestamp::from(table.created_at))
    .execute(uow.conn())
    .await?;
    for (zone, kind, permanent, rate) in &table.rates {
        sqlx::query(
            "insert into occupation_tariff_rates (municipality, year, version, zone_category,
                 kind, permanent, coefficient_milli, reduction_percent)
             values ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(table.municipality.as_str())
        .bind(table.year)
        .bind(version)
        .bind(zone)
        .bind(kind.as_str())
        .bind(permanent)
        .bind(rate.coefficient_milli)
        .bind(rate.reduction_percent)
        .execute(uow.conn())
        .await?;
    }
    Ok(version)
}

/// The latest table of each year (all years when `year` is `None`), newest year first.
pub async fn tariff_tables(
    conn: &mut PgConnection,
    municipality: MunicipalityCode,
    year: Option<i32>,
) -> Result<Vec<TariffTable>, SuapError> {
    let heads = sqlx::query(
        "select distinct on (year) year, version, population, standard_annual_cents,
                standard_daily_cents, created_at
           from occupation_tariff_tables
          where municipality = $1 and ($2::integer is null or year = $2)
          order by year desc, version desc",
    )
    .bind(municipality.as_str())
    .bind(year)
    .fetch_all(&mut *conn)
    .await?;
    let mut tables = Vec::with_capacity(heads.len());
    for head in heads {
        let year: i32 = head.try_get("year")?;
        let version: i32 = head.try_get("version")?;
        let rows = sqlx::query(
            "select zone_category, kind, permanent, coefficient_milli, reduction_percent
               from occupation_tariff_rates
              where municipality = $1 and year = $2 and version = $3
              order by zone_category, kind, permanent",
        )
        .bind(municipality.as_str())
        .bind(year)
        .bind(version)
        .fetch_all(&mut *conn)
        .await?;
        let mut rates = Vec::with_capacity(rows.len());
        for row in rows {
            let kind: String = row.try_get("kind")?;
            let Some(kind) = Kind::from_db(&kind) else {
                continue;
            };
            rates.push((
                row.try_get("zone_category")?,
                kind,
                row.try_get("permanent")?,
                Rate {
                    coefficient_milli: row.try_get("coefficient_milli")?,
                    reduction_percent: row.try_get("reduction_percent")?,
                },
            ));
        }
        tables.push(TariffTable {
            municipality,
            year,
            version,
            population: head.try_get("population")?,
            standard: Standard {
                annual_cents: head.try_get("standard_annual_cents")?,
                daily_cents: head.try_get("standard_daily_cents")?,
            },
            rates,
            created_at: head.try_get::<SqlTimestamp, _>("created_at")?.to_jiff(),
        });
    }
    Ok(tables)
}
