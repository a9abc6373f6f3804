//! Sites and counters in PostgreSQL.

use jiff::Timestamp;
use sportello_kit::{UnitOfWork, db, uow::SqlTimestamp};
use uuid::Uuid;

use super::domain::NewSite;
use crate::error::RoutingError;

/// A stored site.
#[derive(Debug, Clone)]
pub struct Site {
    /// Record id.
    pub id: Uuid,
    /// What was opened.
    pub site: NewSite,
    /// Record version.
    pub version: i64,
    /// When it was opened.
    pub created_at: Timestamp,
}

/// Inserts a site with its counters; a duplicate code is [`RoutingError::SiteExists`].
pub async fn insert(uow: &mut UnitOfWork, site: NewSite) -> Result<Site, RoutingError> {
    let id = Uuid::now_v7();
    let created_at = uow.now();
    let inserted = sqlx::query(
        "insert into sites (id, municipality, code, name, street_name, house_number, postal_code, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(site.municipality.as_str())
    .bind(&site.code)
    .bind(&site.name)
    .bind(&site.street_name)
    .bind(&site.house_number)
    .bind(&site.postal_code)
    .bind(SqlTimestamp::from(created_at))
    .execute(uow.conn())
    .await;
    match inserted {
        Ok(_) => {}
        Err(error)
            if db::violated_constraint(&error, db::sqlstate::UNIQUE_VIOLATION)
                == Some("sites_code_unique") =>
        {
            return Err(RoutingError::SiteExists {
                municipality: site.municipality,
                code: site.code,
            });
        }
        Err(error) => return Err(error.into()),
    }
    sqlx::query(
        "insert into counters (site_id, number) select $1, generate_series(1, $2::smallint)",
    )
    .bind(id)
    .bind(site.counter_count)
    .execute(uow.conn())
    .await?;
    Ok(Site {
        id,
        site,
        version: 1,
        created_at,
    })
}
