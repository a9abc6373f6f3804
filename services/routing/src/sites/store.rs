//! Sites and counters in PostgreSQL.

use jiff::Timestamp;
use sportello_kit::{UnitOfWork, db, uow::SqlTimestamp};
use sqlx::{PgExecutor, Row, postgres::PgRow};
use uuid::Uuid;

use super::domain::{NewSite, SiteSettings};
use crate::error::RoutingError;

/// A stored site.
#[derive(Debug, Clone)]
pub struct Site {
    /// Record id.
    pub id: Uuid,
    /// What was opened, with its current settings.
    pub site: NewSite,
    /// Record version.
    pub version: i64,
    /// When it was opened.
    pub created_at: Timestamp,
}

const COLUMNS: &str =
    "s.id, s.municipality, s.code, s.name, s.street_name, s.house_number, s.postal_code,
    s.version, s.created_at, s.priority_bound_minutes, s.no_show_after_calls, s.service_groups,
    (select count(*) from counters c where c.site_id = s.id)::smallint as counter_count";

fn from_row(row: &PgRow) -> Result<Site, sqlx::Error> {
    let municipality: String = row.try_get("municipality")?;
    Ok(Site {
        id: row.try_get("id")?,
        site: NewSite {
            municipality: municipality
                .parse()
                .map_err(|e: &str| sqlx::Error::Decode(e.into()))?,
            code: row.try_get("code")?,
            name: row.try_get("name")?,
            street_name: row.try_get("street_name")?,
            house_number: row.try_get("house_number")?,
            postal_code: row.try_get("postal_code")?,
            counter_count: row.try_get("counter_count")?,
            settings: SiteSettings {
                priority_bound_minutes: row.try_get("priority_bound_minutes")?,
                no_show_after_calls: row.try_get("no_show_after_calls")?,
                service_groups: row.try_get("service_groups")?,
            },
        },
        version: row.try_get("version")?,
        created_at: row.try_get::<SqlTimestamp, _>("created_at")?.to_jiff(),
    })
}

/// Inserts a site with its counters; a duplicate code is [`RoutingError::SiteExists`].
pub async fn insert(uow: &mut UnitOfWork, site: NewSite) -> Result<Site, RoutingError> {
    let id = Uuid::now_v7();
    let created_at = uow.now();
    let inserted = sqlx::query(
        "insert into sites (id, municipality, code, name, street_name, house_number, postal_code,
                            created_at, priority_bound_minutes, no_show_after_calls, service_groups)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(id)
    .bind(site.municipality.as_str())
    .bind(&site.code)
    .bind(&site.name)
    .bind(&site.street_name)
    .bind(&site.house_number)
    .bind(&site.postal_code)
    .bind(SqlTimestamp::from(created_at))
    .bind(site.settings.priority_bound_minutes)
    .bind(site.settings.no_show_after_calls)
    .bind(&site.settings.service_groups)
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

/// One site.
pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> Result<Site, RoutingError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from sites s where s.id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or(RoutingError::SiteNotFound)?;
    Ok(from_row(&row)?)
}

/// The sites of a municipality, by code.
pub async fn list(db: impl PgExecutor<'_>, municipality: &str) -> Result<Vec<Site>, RoutingError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from sites s where s.municipality = $1 order by s.code"
    )))
    .bind(municipality)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| from_row(r).map_err(RoutingError::from))
        .collect()
}

/// Replaces a site's settings if `version` is current.
pub async fn update_settings(
    uow: &mut UnitOfWork,
    id: Uuid,
    settings: &SiteSettings,
    version: i64,
) -> Result<Site, RoutingError> {
    let updated = sqlx::query(
        "update sites set priority_bound_minutes = $3, no_show_after_calls = $4,
                          service_groups = $5, version = version + 1
         where id = $1 and version = $2",
    )
    .bind(id)
    .bind(version)
    .bind(settings.priority_bound_minutes)
    .bind(settings.no_show_after_calls)
    .bind(&settings.service_groups)
    .execute(uow.conn())
    .await?;
    if updated.rows_affected() == 0 {
        // Tell a missing site from a stale version.
        get(uow.conn(), id).await?;
        return Err(RoutingError::StaleVersion { what: "site" });
    }
    get(uow.conn(), id).await
}
