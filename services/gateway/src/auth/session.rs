//! Browser sessions: a random token in an HttpOnly cookie, found by its SHA-256, with a
//! CSRF token the pages send back in a header on every change.

use axum::http::{HeaderMap, HeaderValue, header};
use jiff::SignedDuration;
use sha2::{Digest, Sha256};
use sportello_kit::{Db, ErrorKind, ServiceError, uow::SqlTimestamp};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::accounts::{self, Account};

/// The session cookie's name.
pub const COOKIE: &str = "sportello_session";
/// The header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A signed-in session.
#[derive(Debug, Clone)]
pub struct Session {
    /// Record id (what revocations and audits name; never the token).
    pub id: Uuid,
    /// Who.
    pub account: Account,
    /// The token the session's pages send in [`CSRF_HEADER`].
    pub csrf_token: String,
}

impl Session {
    /// Refuses a state-changing request whose CSRF header is missing or wrong.
    pub fn check_csrf(&self, headers: &HeaderMap) -> Result<(), ServiceError> {
        let given = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if bool::from(given.as_bytes().ct_eq(self.csrf_token.as_bytes())) {
            Ok(())
        } else {
            Err(ServiceError::new(
                ErrorKind::PermissionDenied,
                "missing or wrong CSRF token: reload the page",
            ))
        }
    }
}

fn random_hex() -> Result<String, ServiceError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ServiceError::internal(e.to_string()))?;
    Ok(hex::encode(bytes))
}

fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Opens a session for `account`; returns it and the cookie token.
pub async fn open(
    db: &Db,
    account: Account,
    ttl: SignedDuration,
) -> Result<(Session, String), ServiceError> {
    let token = random_hex()?;
    let csrf_token = random_hex()?;
    let id = Uuid::now_v7();
    let now = db.clock().now();
    let expires = now.saturating_add(ttl).unwrap_or(now);
    sqlx::query(
        "insert into sessions (id, user_id, created_at, expires_at, token_sha256, csrf_token)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(&account.id)
    .bind(SqlTimestamp::from(now))
    .bind(SqlTimestamp::from(expires))
    .bind(digest(&token))
    .bind(&csrf_token)
    .execute(db.pool())
    .await?;
    Ok((
        Session {
            id,
            account,
            csrf_token,
        },
        token,
    ))
}

/// The live session `token` stands for, if any (expired, revoked and deactivated
/// accounts' sessions are not).
pub async fn find(db: &Db, token: &str) -> Result<Option<Session>, ServiceError> {
    if token.len() != 64 {
        return Ok(None);
    }
    let row = sqlx::query(
        "select s.id as session_id, s.csrf_token, a.id, a.municipality, a.display_name,
                a.roles, a.department, a.active
         from sessions s join accounts a on a.id = s.user_id
         where s.token_sha256 = $1 and s.revoked_at is null and s.expires_at > $2 and a.active",
    )
    .bind(digest(token))
    .bind(SqlTimestamp::from(db.clock().now()))
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    use sqlx::Row;
    Ok(Some(Session {
        id: row.try_get("session_id")?,
        csrf_token: row.try_get("csrf_token")?,
        account: Account::from_row(&row)?,
    }))
}

/// Ends a session (sign-out).
pub async fn close(db: &Db, session: &Session) -> Result<(), ServiceError> {
    let now = SqlTimestamp::from(db.clock().now());
    let mut tx = db.pool().begin().await?;
    sqlx::query("update sessions set revoked_at = $2 where id = $1 and revoked_at is null")
        .bind(session.id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let actor = format!("operator:{}", session.account.id);
    accounts::audit(&mut tx, &session.account.id, "logout", &actor, now).await?;
    tx.commit().await?;
    Ok(())
}

/// The session token in a request's cookies.
pub fn token_from(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// The `Set-Cookie` value carrying `token` (empty token: the cookie is cleared).
pub fn cookie(token: &str, max_age_seconds: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let value = format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_seconds}{secure}"
    );
    // Only hex digits and fixed ASCII: always a valid header value.
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_read_among_other_cookies() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("lang=it; sportello_session=abc; other=1"),
        );
        assert_eq!(token_from(&headers).as_deref(), Some("abc"));
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_when_asked() {
        let value = cookie("ff", 60, true);
        let value = value.to_str().unwrap();
        for part in [
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
            "Max-Age=60",
            "Path=/",
        ] {
            assert!(value.contains(part), "{value}");
        }
        assert!(!cookie("ff", 60, false).to_str().unwrap().contains("Secure"));
    }
}
