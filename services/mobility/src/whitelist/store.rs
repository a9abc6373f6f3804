//! The whitelist's reads: every permit a plate was on in a zone (the history, never
//! rewritten: a permit's days, payment and end are only ever set once), the permits the
//! memory holds, one permit's rows, and a day's export.

use jiff::{Timestamp, civil::Date};
use sportello_kit::{MunicipalityCode, uow::SqlTimestamp};
use sqlx::{PgConnection, Row, postgres::PgRow};
use uuid::Uuid;

use super::decision::Entry;
use sportello_proto::mobility::v1::PermitKind;

use crate::{permits::domain::Kind, zones::store::decode};

/// One row of the whitelist: where, which plate, under which permit.
#[derive(Debug, Clone)]
pub struct WhitelistRow {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// The zone's code.
    pub zone_code: String,
    /// The plate.
    pub plate: String,
    /// The permit.
    pub entry: Entry,
}

/// Every plate on a permit, and every plate on a disabled badge once per ZTL of its
/// municipality (a badge passes them all), as one relation `w`.
const SELECT: &str = "select * from (
    select z.municipality, z.zone_code, z.kind as zone_kind, pp.plate, p.id, p.number, p.kind,
           p.valid_from, p.valid_until, p.activated_at, p.ended_at
    from permit_plates pp
    join permits p on p.id = pp.permit_id
    join zones z on z.id = p.zone_id
    union all
    select z.municipality, z.zone_code, z.kind, bp.plate, b.id, b.number, 'disabled_badge',
           b.valid_from, b.valid_until, b.created_at, b.ended_at
    from badge_plates bp
    join badges b on b.id = bp.badge_id
    join zones z on z.municipality = b.municipality and z.kind = 'ztl'
) w";

/// The kind from its name in the database.
fn kind_of(name: &str) -> Option<PermitKind> {
    if name == "disabled_badge" {
        return Some(PermitKind::DisabledBadge);
    }
    Kind::from_name(name).map(Kind::to_proto)
}

fn row_from(row: &PgRow) -> Result<WhitelistRow, sqlx::Error> {
    let municipality: String = row.try_get("municipality")?;
    let kind: String = row.try_get("kind")?;
    Ok(WhitelistRow {
        municipality: municipality.parse().map_err(|_| decode("municipality"))?,
        zone_code: row.try_get("zone_code")?,
        plate: row.try_get("plate")?,
        entry: Entry {
            permit_id: row.try_get("id")?,
            number: row.try_get("number")?,
            kind: kind_of(&kind).ok_or_else(|| decode("permit kind"))?,
            valid_from: row.try_get::<jiff_sqlx::Date, _>("valid_from")?.to_jiff(),
            valid_until: row.try_get::<jiff_sqlx::Date, _>("valid_until")?.to_jiff(),
            activated_at: row
                .try_get::<Option<SqlTimestamp>, _>("activated_at")?
                .map(|t| t.to_jiff()),
            ended_at: row
                .try_get::<Option<SqlTimestamp>, _>("ended_at")?
                .map(|t| t.to_jiff()),
        },
    })
}

/// Every permit `plate` was ever on in the zone.
pub async fn history(
    conn: &mut PgConnection,
    municipality: MunicipalityCode,
    zone_code: &str,
    plate: &str,
) -> Result<Vec<Entry>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "{SELECT} where w.plate = $1 and w.municipality = $2 and w.zone_code = $3"
    )))
    .bind(plate)
    .bind(municipality.as_str())
    .bind(zone_code)
    .fetch_all(conn)
    .await?
    .iter()
    .map(|r| row_from(r).map(|row| row.entry))
    .collect()
}

/// What the memory holds: every permit not ended, or ended after `since`, whose last day
/// is not before `since`'s day.
pub async fn live(
    conn: &mut PgConnection,
    since: Timestamp,
    since_day: Date,
) -> Result<Vec<WhitelistRow>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "{SELECT} where w.valid_until >= $1 and (w.ended_at is null or w.ended_at > $2)"
    )))
    .bind(jiff_sqlx::Date::from(since_day))
    .bind(SqlTimestamp::from(since))
    .fetch_all(conn)
    .await?
    .iter()
    .map(row_from)
    .collect()
}

/// The rows of one permit or badge.
pub async fn of_permit(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Vec<WhitelistRow>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} where w.id = $1")))
        .bind(id)
        .fetch_all(conn)
        .await?
        .iter()
        .map(row_from)
        .collect()
}

/// The rows of a day's export: permits paid and not ended before the day's end, whose
/// days include it, in the zone (or every ZTL), by zone and plate.
pub async fn export(
    conn: &mut PgConnection,
    municipality: MunicipalityCode,
    zone_code: Option<&str>,
    day: Date,
    day_start: Timestamp,
    day_end: Timestamp,
) -> Result<Vec<WhitelistRow>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "{SELECT} where w.municipality = $1
           and (($2::text is null and w.zone_kind = 'ztl') or w.zone_code = $2)
           and w.valid_from <= $3 and w.valid_until >= $3
           and w.activated_at is not null and w.activated_at < $5
           and (w.ended_at is null or w.ended_at > $4)
         order by w.zone_code, w.plate, w.number"
    )))
    .bind(municipality.as_str())
    .bind(zone_code)
    .bind(jiff_sqlx::Date::from(day))
    .bind(SqlTimestamp::from(day_start))
    .bind(SqlTimestamp::from(day_end))
    .fetch_all(conn)
    .await?
    .iter()
    .map(row_from)
    .collect()
}
