//! Open311 API keys: what lets a client application write reports. Each key names its
//! application (passed to URP as the report's `source`, for statistics), belongs to one
//! municipality, is shown once when issued and kept only as its SHA-256, and can be
//! revoked at once. Reading (services, requests, tokens) needs no key, as the
//! specification says.
//!
//! An administrator issues and revokes keys through `/api/v1/admin/open311-keys`
//! (signed in, CSRF token, admin role, within the admin's municipality).

use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use sportello_kit::{Db, ErrorKind, MunicipalityCode, ServiceError, uow::SqlTimestamp};
use sqlx::Row;
use uuid::Uuid;

use crate::{
    api::{
        body::{Body, Path},
        input,
    },
    app::AppState,
    auth::{Role, Signed},
};

/// The prefix of every issued key, so a key pasted in the wrong place is recognisable.
pub const PREFIX: &str = "o311_";

/// A key's record (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Its id.
    pub id: Uuid,
    /// The municipality it writes to.
    pub municipality: MunicipalityCode,
    /// The client application it names.
    pub application: String,
}

fn digest(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// A new random key: the prefix and 256 random bits.
fn new_key() -> Result<String, ServiceError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ServiceError::internal(e.to_string()))?;
    Ok(format!("{PREFIX}{}", hex::encode(bytes)))
}

/// The live key `key` stands for in `municipality`, if any.
pub async fn find(
    db: &Db,
    municipality: MunicipalityCode,
    key: &str,
) -> Result<Option<ApiKey>, ServiceError> {
    // Longer than any key: not worth a hash.
    if key.is_empty() || key.len() > 200 {
        return Ok(None);
    }
    let row = sqlx::query(
        "select id, application from open311_keys
         where key_sha256 = $1 and municipality_istat_code = $2 and revoked_at is null",
    )
    .bind(digest(key))
    .bind(municipality.as_str())
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(ApiKey {
        id: row.try_get("id")?,
        municipality,
        application: row.try_get("application")?,
    }))
}

fn application(raw: &str) -> Result<String, ServiceError> {
    let name = raw.trim();
    if !(1..=80).contains(&name.chars().count()) || name.chars().any(char::is_control) {
        return Err(ServiceError::invalid_field(
            "application",
            "da 1 a 80 caratteri, senza caratteri di controllo / 1 to 80 characters, no \
             control characters",
        ));
    }
    Ok(name.to_owned())
}

/// Stores `key` for `application` under `id` (an existing `id` keeps its record and gets
/// the key and name again, live): how the demo installs its known key at every seeding.
pub async fn install(
    db: &Db,
    id: Uuid,
    municipality: MunicipalityCode,
    application_name: &str,
    key: &str,
    created_by: &str,
) -> Result<(), ServiceError> {
    let name = application(application_name)?;
    sqlx::query(
        "insert into open311_keys
             (id, municipality_istat_code, application, key_sha256, created_at, created_by)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (id) do update set
             application = excluded.application, key_sha256 = excluded.key_sha256,
             revoked_at = null, revoked_by = null",
    )
    .bind(id)
    .bind(municipality.as_str())
    .bind(&name)
    .bind(digest(key))
    .bind(SqlTimestamp::from(db.clock().now()))
    .bind(created_by)
    .execute(db.pool())
    .await?;
    Ok(())
}

const ADMIN: &[Role] = &[Role::Admin];

fn view(row: &sqlx::postgres::PgRow) -> Result<serde_json::Value, ServiceError> {
    let time = |column: &str| -> Result<Option<String>, ServiceError> {
        Ok(row
            .try_get::<Option<SqlTimestamp>, _>(column)?
            .map(|t| t.to_jiff().to_string()))
    };
    let id: Uuid = row.try_get("id")?;
    Ok(serde_json::json!({
        "id": id,
        "application": row.try_get::<String, _>("application")?,
        "created_at": time("created_at")?,
        "created_by": row.try_get::<String, _>("created_by")?,
        "revoked_at": time("revoked_at")?,
    }))
}

const COLUMNS: &str = "id, application, created_at, created_by, revoked_at";

/// `GET /api/v1/admin/open311-keys`: the municipality's keys, newest first (never the
/// keys themselves).
pub async fn list(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let account = signed.require(ADMIN)?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from open311_keys where municipality_istat_code = $1
         order by created_at desc, id"
    )))
    .bind(account.municipality.as_str())
    .fetch_all(state.db.pool())
    .await?;
    let keys = rows.iter().map(view).collect::<Result<Vec<_>, _>>()?;
    Ok(Json(serde_json::json!({ "keys": keys })))
}

/// A key to issue.
#[derive(Debug, Deserialize)]
pub struct IssueForm {
    /// The client application's name, e.g. "FixMyStreet La Spezia".
    pub application: String,
}

/// `POST /api/v1/admin/open311-keys`: issues a key for an application; the reply holds
/// the key, shown this once.
pub async fn issue(
    State(state): State<AppState>,
    signed: Signed,
    Body(form): Body<IssueForm>,
) -> Result<(StatusCode, Json<serde_json::Value>), ServiceError> {
    let account = signed.require(ADMIN)?;
    input::required_text("application", &form.application, 80)?;
    let name = application(&form.application)?;
    let key = new_key()?;
    let id = Uuid::now_v7();
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "insert into open311_keys
             (id, municipality_istat_code, application, key_sha256, created_at, created_by)
         values ($1, $2, $3, $4, $5, $6)
         returning {COLUMNS}"
    )))
    .bind(id)
    .bind(account.municipality.as_str())
    .bind(&name)
    .bind(digest(&key))
    .bind(SqlTimestamp::from(state.db.clock().now()))
    .bind(format!("operator:{}", account.id))
    .fetch_one(state.db.pool())
    .await?;
    tracing::info!(key_id = %id, "open311 key issued");
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "key": view(&row)?, "api_key": key })),
    ))
}

/// `DELETE /api/v1/admin/open311-keys/{id}`: revokes a key at once (a key revoked
/// already stays as it was).
pub async fn revoke(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let account = signed.require(ADMIN)?;
    let id = input::record_id("id", &id)?;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "update open311_keys
         set revoked_at = coalesce(revoked_at, $3), revoked_by = coalesce(revoked_by, $4)
         where id = $1 and municipality_istat_code = $2
         returning {COLUMNS}"
    )))
    .bind(id)
    .bind(account.municipality.as_str())
    .bind(SqlTimestamp::from(state.db.clock().now()))
    .bind(format!("operator:{}", account.id))
    .fetch_optional(state.db.pool())
    .await?
    .ok_or_else(|| ServiceError::new(ErrorKind::NotFound, "no such Open311 key"))?;
    tracing::info!(key_id = %id, "open311 key revoked");
    Ok(Json(serde_json::json!({ "key": view(&row)? })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_prefixed_and_hashed() {
        let a = new_key().unwrap();
        let b = new_key().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(PREFIX));
        assert_eq!(a.len(), PREFIX.len() + 64);
        assert_eq!(digest(&a).len(), 32);
        assert!(application(" FixMyStreet ").is_ok());
        assert!(application(" ").is_err());
    }
}
