//! The SQL of signing in with OpenID Connect: sign-ins under way, the link between a
//! provider's user and an account, and which sessions a provider opened.

use jiff::Timestamp;
use sha2::{Digest, Sha256};
use sportello_kit::{Db, ServiceError, uow::SqlTimestamp};
use sqlx::Row;
use uuid::Uuid;

use super::claims::MappedAccount;
use crate::auth::{Account, accounts};

/// A sign-in under way, as the callback takes it back.
#[derive(Debug)]
pub struct Pending {
    /// The SHA-256 of the browser cookie it was started with.
    pub browser_sha256: Vec<u8>,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier of the challenge sent.
    pub pkce_verifier: String,
    /// Until when it may be completed.
    pub expires_at: Timestamp,
}

/// SHA-256 of a token.
pub fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Records a sign-in under way, and forgets those that expired.
pub async fn save(
    db: &Db,
    state: &str,
    browser: &str,
    nonce: &str,
    pkce_verifier: &str,
    expires_at: Timestamp,
) -> Result<(), ServiceError> {
    let now = SqlTimestamp::from(db.clock().now());
    sqlx::query("delete from oidc_logins where expires_at <= $1")
        .bind(now)
        .execute(db.pool())
        .await?;
    sqlx::query(
        "insert into oidc_logins (state_sha256, browser_sha256, nonce, pkce_verifier,
                                  created_at, expires_at)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(digest(state))
    .bind(digest(browser))
    .bind(nonce)
    .bind(pkce_verifier)
    .bind(now)
    .bind(SqlTimestamp::from(expires_at))
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Takes the sign-in `state` names: deleted as it is read, so a state works once.
pub async fn take(db: &Db, state: &str) -> Result<Option<Pending>, ServiceError> {
    let row = sqlx::query(
        "delete from oidc_logins where state_sha256 = $1
         returning browser_sha256, nonce, pkce_verifier, expires_at",
    )
    .bind(digest(state))
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let expires_at: SqlTimestamp = row.try_get("expires_at")?;
    Ok(Some(Pending {
        browser_sha256: row.try_get("browser_sha256")?,
        nonce: row.try_get("nonce")?,
        pkce_verifier: row.try_get("pkce_verifier")?,
        expires_at: expires_at.to_jiff(),
    }))
}

/// Why a provider's user may not sign in, though the token was good.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The account the claims name belongs to someone else (a local account, or another
    /// provider user).
    #[error(
        "il nome utente «{0}» appartiene già a un altro account: chiedere all'amministratore \
         / the user name «{0}» belongs to another account: ask your administrator"
    )]
    Taken(String),
    /// The linked account was deactivated by an administrator.
    #[error("questo account è disattivato / this account is deactivated")]
    Inactive,
    /// The database.
    #[error(transparent)]
    Db(#[from] ServiceError),
}

impl From<sqlx::Error> for LinkError {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(e.into())
    }
}

/// An account's row (a macro, so queries stay static strings).
macro_rules! select_account {
    () => {
        "select id, municipality, display_name, roles, department, active from accounts where id = $1"
    };
}

/// The account of the provider user (`issuer`, `subject`): linked and created at the
/// first sign-in, brought to the claims' roles, department, municipality and name at
/// every one; the sign-in is audited.
pub async fn sign_in(
    db: &Db,
    issuer: &str,
    subject: &str,
    mapped: &MappedAccount,
) -> Result<Account, LinkError> {
    let now = SqlTimestamp::from(db.clock().now());
    let roles: Vec<&str> = mapped.roles.iter().map(|r| r.as_str()).collect();
    let mut tx = db.pool().begin().await?;
    let linked: Option<String> = sqlx::query_scalar(
        "select account_id from oidc_identities where issuer = $1 and subject = $2 for update",
    )
    .bind(issuer)
    .bind(subject)
    .fetch_optional(&mut *tx)
    .await?;
    let (id, kind) = match linked {
        Some(id) => {
            let before = sqlx::query(select_account!())
                .bind(&id)
                .fetch_one(&mut *tx)
                .await?;
            let before = Account::from_row(&before)?;
            if !before.active {
                return Err(LinkError::Inactive);
            }
            let changed = before.municipality != mapped.municipality
                || before.display_name != mapped.display_name
                || before.roles != mapped.roles
                || before.department != mapped.department;
            if changed {
                sqlx::query(
                    "update accounts set municipality = $2, display_name = $3, roles = $4,
                            department = $5, updated_at = $6
                     where id = $1",
                )
                .bind(&id)
                .bind(mapped.municipality.as_str())
                .bind(&mapped.display_name)
                .bind(&roles)
                .bind(&mapped.department)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(
                "update oidc_identities set last_login_at = $3 where issuer = $1 and subject = $2",
            )
            .bind(issuer)
            .bind(subject)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            (id, changed.then_some("updated"))
        }
        None => {
            // No password: such an account signs in through its provider only.
            let created = sqlx::query(
                "insert into accounts (id, municipality, display_name, password_hash, roles,
                                       department, active, created_at, updated_at)
                 values ($1, $2, $3, null, $4, $5, true, $6, $6)
                 on conflict (id) do nothing",
            )
            .bind(&mapped.id)
            .bind(mapped.municipality.as_str())
            .bind(&mapped.display_name)
            .bind(&roles)
            .bind(&mapped.department)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if created.rows_affected() == 0 {
                return Err(LinkError::Taken(mapped.id.clone()));
            }
            sqlx::query(
                "insert into oidc_identities (issuer, subject, account_id, created_at,
                                              last_login_at)
                 values ($1, $2, $3, $4, $4)",
            )
            .bind(issuer)
            .bind(subject)
            .bind(&mapped.id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            (mapped.id.clone(), Some("created"))
        }
    };
    if let Some(kind) = kind {
        accounts::audit(&mut tx, &id, kind, "system:oidc", now).await?;
    }
    accounts::audit(&mut tx, &id, "login", &format!("operator:{id}"), now).await?;
    let row = sqlx::query(select_account!())
        .bind(&id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Account::from_row(&row)?)
}

/// Notes that `session` was opened through the provider `issuer`.
pub async fn mark_session(db: &Db, session: Uuid, issuer: &str) -> Result<(), ServiceError> {
    sqlx::query("insert into oidc_sessions (session_id, issuer) values ($1, $2)")
        .bind(session)
        .bind(issuer)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// The provider that opened `session`, if one did.
pub async fn session_issuer(db: &Db, session: Uuid) -> Result<Option<String>, ServiceError> {
    Ok(
        sqlx::query_scalar("select issuer from oidc_sessions where session_id = $1")
            .bind(session)
            .fetch_optional(db.pool())
            .await?,
    )
}
