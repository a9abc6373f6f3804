//! Sessions in PostgreSQL.

use sportello_kit::{CallContext, UnitOfWork, uow::SqlTimestamp};
use uuid::Uuid;

/// Ends every live session of `user_id` and records the revocation. Returns how many
/// live sessions ended and the revocation's sequence number for that user (its version).
pub async fn revoke_user(
    uow: &mut UnitOfWork,
    user_id: &str,
    reason: &str,
    context: &CallContext,
) -> Result<(i32, i64), sqlx::Error> {
    let now = SqlTimestamp::from(uow.now());
    let revoked = sqlx::query(
        "update sessions set revoked_at = $2
         where user_id = $1 and revoked_at is null and expires_at > $2",
    )
    .bind(user_id)
    .bind(now)
    .execute(uow.conn())
    .await?
    .rows_affected();
    let revoked = i32::try_from(revoked).unwrap_or(i32::MAX);
    sqlx::query(
        "insert into session_revocations (id, user_id, revoked_before, revoked_count, reason, actor, caller)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(now)
    .bind(revoked)
    .bind(reason)
    .bind(context.actor())
    .bind(context.caller())
    .execute(uow.conn())
    .await?;
    let version: i64 =
        sqlx::query_scalar("select count(*) from session_revocations where user_id = $1")
            .bind(user_id)
            .fetch_one(uow.conn())
            .await?;
    Ok((revoked, version))
}
