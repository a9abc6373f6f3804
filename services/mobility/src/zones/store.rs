//! Zones in PostgreSQL: the zone, its streets, hours and fees.

use jiff::Timestamp;
use sportello_kit::{MunicipalityCode, UnitOfWork, db, uow::SqlTimestamp};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::{
    domain::{NewZone, Stretch, kind_from_name, kind_name},
    hours::Hours,
};
use crate::{error::MobilityError, permits::domain::Kind};

/// A stored zone.
#[derive(Debug, Clone)]
pub struct Zone {
    /// Record id.
    pub id: Uuid,
    /// What was defined.
    pub zone: NewZone,
    /// Permits counted against the quota now.
    pub permits_held: i32,
    /// Record version.
    pub version: i64,
    /// When it was defined.
    pub created_at: Timestamp,
}

impl Zone {
    /// The zone's fee for `kind`, if it issues it.
    pub fn fee(&self, kind: Kind) -> Option<i64> {
        self.zone
            .fees
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, cents)| *cents)
    }
}

/// A value the database should never hold.
pub fn decode(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("mobility: bad {what} in the database").into())
}

/// Inserts a zone with its streets, hours and fees; a duplicate code is
/// [`MobilityError::ZoneExists`].
pub async fn insert(uow: &mut UnitOfWork, zone: NewZone) -> Result<Zone, MobilityError> {
    let id = Uuid::now_v7();
    let created_at = uow.now();
    let inserted = sqlx::query(
        "insert into zones (id, municipality, zone_code, name, kind, permit_quota,
                            plates_per_household, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(zone.municipality.as_str())
    .bind(&zone.zone_code)
    .bind(&zone.name)
    .bind(kind_name(zone.kind))
    .bind(zone.permit_quota)
    .bind(zone.plates_per_household)
    .bind(SqlTimestamp::from(created_at))
    .execute(uow.conn())
    .await;
    match inserted {
        Ok(_) => {}
        Err(error)
            if db::violated_constraint(&error, db::sqlstate::UNIQUE_VIOLATION)
                == Some("zones_code_unique") =>
        {
            return Err(MobilityError::ZoneExists {
                municipality: zone.municipality,
                zone_code: zone.zone_code,
            });
        }
        Err(error) => return Err(error.into()),
    }
    for (position, stretch) in zone.streets.iter().enumerate() {
        sqlx::query(
            "insert into zone_streets (zone_id, position, street_code, from_number, to_number, parity)
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(i32::try_from(position).unwrap_or(i32::MAX))
        .bind(&stretch.street_code)
        .bind(stretch.from_number)
        .bind(stretch.to_number)
        .bind(stretch.parity)
        .execute(uow.conn())
        .await?;
    }
    for (position, hours) in zone.hours.iter().enumerate() {
        sqlx::query(
            "insert into zone_hours (zone_id, position, weekdays, from_minute, until_minute)
             values ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(i32::try_from(position).unwrap_or(i32::MAX))
        .bind(&hours.weekdays)
        .bind(hours.from_minute)
        .bind(hours.until_minute)
        .execute(uow.conn())
        .await?;
    }
    for (kind, cents) in &zone.fees {
        sqlx::query("insert into zone_fees (zone_id, kind, amount_cents) values ($1, $2, $3)")
            .bind(id)
            .bind(kind.name())
            .bind(cents)
            .execute(uow.conn())
            .await?;
    }
    Ok(Zone {
        id,
        zone,
        permits_held: 0,
        version: 1,
        created_at,
    })
}

/// The zone `code` of `municipality`, with its streets, hours and fees.
pub async fn find(
    conn: &mut PgConnection,
    municipality: MunicipalityCode,
    code: &str,
) -> Result<Option<Zone>, sqlx::Error> {
    let id: Option<Uuid> =
        sqlx::query_scalar("select id from zones where municipality = $1 and zone_code = $2")
            .bind(municipality.as_str())
            .bind(code)
            .fetch_optional(&mut *conn)
            .await?;
    match id {
        Some(id) => find_by_id(conn, id).await,
        None => Ok(None),
    }
}

/// The zone with record id `id`.
pub async fn find_by_id(conn: &mut PgConnection, id: Uuid) -> Result<Option<Zone>, sqlx::Error> {
    let Some(row) = sqlx::query(
        "select municipality, zone_code, name, kind, permit_quota, plates_per_household,
                permits_held, version, created_at
         from zones where id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let municipality: String = row.try_get("municipality")?;
    let streets = sqlx::query(
        "select street_code, from_number, to_number, parity from zone_streets
         where zone_id = $1 order by position",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| {
        let parity: String = r.try_get("parity")?;
        Ok(Stretch {
            street_code: r.try_get("street_code")?,
            from_number: r.try_get("from_number")?,
            to_number: r.try_get("to_number")?,
            parity: match parity.as_str() {
                "odd" => "odd",
                "even" => "even",
                _ => "both",
            },
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let hours = sqlx::query(
        "select weekdays, from_minute, until_minute from zone_hours
         where zone_id = $1 order by position",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| {
        Ok(Hours {
            weekdays: r.try_get("weekdays")?,
            from_minute: r.try_get("from_minute")?,
            until_minute: r.try_get("until_minute")?,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let fees =
        sqlx::query("select kind, amount_cents from zone_fees where zone_id = $1 order by kind")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .filter_map(|r| {
                let kind: String = r.try_get("kind").ok()?;
                Some((Kind::from_name(&kind)?, r.try_get("amount_cents").ok()?))
            })
            .collect();
    let kind: String = row.try_get("kind")?;
    Ok(Some(Zone {
        id,
        zone: NewZone {
            municipality: municipality.parse().map_err(|_| decode("municipality"))?,
            zone_code: row.try_get("zone_code")?,
            name: row.try_get("name")?,
            kind: kind_from_name(&kind),
            permit_quota: row.try_get("permit_quota")?,
            streets,
            hours,
            plates_per_household: row.try_get("plates_per_household")?,
            fees,
        },
        permits_held: row.try_get("permits_held")?,
        version: row.try_get("version")?,
        created_at: row.try_get::<SqlTimestamp, _>("created_at")?.to_jiff(),
    }))
}
