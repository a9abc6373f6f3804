//! Retention: an operator's session is deleted RETENTION_SESSIONS after it expired (or
//! was revoked); a live one, or one ended recently, stays; so is an abandoned OpenID
//! Connect sign-in.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jiff::SignedDuration;
use sportello_gateway::config::{GatewayConfig, PEERS, Peer, WebConfig};
use sportello_kit::{
    Env,
    testing::{TestContext, TestService},
    uow::SqlTimestamp,
};

async fn session(pool: &sqlx::PgPool, now: jiff::Timestamp, expires_in_hours: i64) -> uuid::Uuid {
    let id = uuid::Uuid::now_v7();
    let created = now - SignedDuration::from_hours(1);
    sqlx::query(
        "insert into sessions (id, user_id, created_at, expires_at) values ($1, 'm.rossi', $2, $3)",
    )
    .bind(id)
    .bind(SqlTimestamp::from(created))
    .bind(SqlTimestamp::from(
        now + SignedDuration::from_hours(expires_in_hours),
    ))
    .execute(pool)
    .await
    .unwrap();
    id
}

async fn exists(pool: &sqlx::PgPool, id: uuid::Uuid) -> bool {
    sqlx::query_scalar("select exists (select 1 from sessions where id = $1)")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_expired_session_is_gone_after_the_retention() {
    let ctx = TestContext::new(&[&sportello_gateway::SPEC]).await;
    // The services behind the gateway are not called: lazy channels to nowhere.
    let peers = PEERS
        .iter()
        .map(|(name, _)| Peer {
            name,
            url: "https://127.0.0.1:9".to_owned(),
        })
        .collect();
    let config = GatewayConfig {
        service: ctx.config.clone(),
        peers,
        web: WebConfig::from_env(&Env::from_pairs([])).unwrap(),
    };
    let gateway = Box::pin(TestService::start(
        &sportello_gateway::SPEC,
        config,
        sportello_gateway::start,
    ))
    .await;
    let pool = gateway.running.db().pool().clone();
    let now = gateway.running.db().clock().now();
    let expired = session(&pool, now, 9).await;
    // A sign-in abandoned at the identity provider: its state expired ten minutes on.
    sqlx::query(
        "insert into oidc_logins (state_sha256, browser_sha256, nonce, pkce_verifier, created_at, expires_at)
         values (sha256('state'), sha256('browser'), repeat('n', 16), repeat('v', 43), $1, $2)",
    )
    .bind(SqlTimestamp::from(now))
    .bind(SqlTimestamp::from(now + SignedDuration::from_mins(10)))
    .execute(&pool)
    .await
    .unwrap();
    // Forty days on: the first session ended 31 days ago and new ones are open.
    ctx.clock.advance(SignedDuration::from_hours(24 * 40));
    let later = gateway.running.db().clock().now();
    let live = session(&pool, later, 9).await;
    let revoked = session(&pool, later, 9).await;
    sqlx::query("update sessions set revoked_at = $2 where id = $1")
        .bind(revoked)
        .bind(SqlTimestamp::from(later))
        .execute(&pool)
        .await
        .unwrap();

    let purged = gateway.running.workers.janitor.run_once().await.unwrap();
    assert_eq!(purged.rule("gateway.sessions"), 1);
    assert_eq!(
        purged.rule("gateway.oidc_logins"),
        1,
        "the abandoned sign-in"
    );
    assert!(!exists(&pool, expired).await);
    assert!(exists(&pool, live).await);
    assert!(exists(&pool, revoked).await);

    // A month after its revocation the revoked one goes too, and the live one expired.
    ctx.clock.advance(SignedDuration::from_hours(24 * 31));
    let purged = gateway.running.workers.janitor.run_once().await.unwrap();
    assert_eq!(purged.rule("gateway.sessions"), 2);
}
