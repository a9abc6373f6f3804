//! Zones in PostgreSQL.

use jiff::Timestamp;
use sportello_kit::{UnitOfWork, db, uow::SqlTimestamp};
use uuid::Uuid;

use super::domain::{NewZone, kind_name};
use crate::error::MobilityError;

/// A stored zone.
#[derive(Debug, Clone)]
pub struct Zone {
    /// Record id.
    pub id: Uuid,
    /// What was defined.
    pub zone: NewZone,
    /// Record version.
    pub version: i64,
    /// When it was defined.
    pub created_at: Timestamp,
}

/// Inserts a zone; a duplicate code is [`MobilityError::ZoneExists`].
pub async fn insert(uow: &mut UnitOfWork, zone: NewZone) -> Result<Zone, MobilityError> {
    let id = Uuid::now_v7();
    let created_at = uow.now();
    let inserted = sqlx::query(
        "insert into zones (id, municipality, zone_code, name, kind, permit_quota, created_at)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(zone.municipality.as_str())
    .bind(&zone.zone_code)
    .bind(&zone.name)
    .bind(kind_name(zone.kind))
    .bind(zone.permit_quota)
    .bind(SqlTimestamp::from(created_at))
    .execute(uow.conn())
    .await;
    match inserted {
        Ok(_) => Ok(Zone {
            id,
            zone,
            version: 1,
            created_at,
        }),
        Err(error)
            if db::violated_constraint(&error, db::sqlstate::UNIQUE_VIOLATION)
                == Some("zones_code_unique") =>
        {
            Err(MobilityError::ZoneExists {
                municipality: zone.municipality,
                zone_code: zone.zone_code,
            })
        }
        Err(error) => Err(error.into()),
    }
}
