//! Retention: a service's rules run by the janitor on the manual clock, in bounded batches;
//! archival records only proposed for discard; JetStream streams that never outlive the
//! inbox.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use jiff::SignedDuration;
use sportello_kit::{
    Api, Service,
    retention::{Action, BATCH, Category, RetentionRule},
    testing::TestService,
};

const DAY: u64 = 86_400;

/// The rules of the test service: one of each action, on a table the test creates.
static RULES: [RetentionRule; 3] = [
    RetentionRule {
        name: "kittest.drafts",
        category: Category::Procedures,
        table: "retained",
        age: "closed_at",
        pending: "kind = 'draft'",
        action: Action::Delete,
    },
    RetentionRule {
        name: "kittest.cases",
        category: Category::Cases,
        table: "retained",
        age: "closed_at",
        pending: "kind = 'case' and person is not null",
        action: Action::Anonymise("person = null, note = ''"),
    },
    RetentionRule {
        name: "kittest.decisions",
        category: Category::Archive,
        table: "retained",
        age: "closed_at",
        pending: "kind = 'decision'",
        action: Action::ProposeDiscard {
            id: "id",
            class: "VI.3 provvedimenti, scarto dopo 10 anni",
        },
    },
];

async fn start(config: sportello_kit::ServiceConfig) -> TestService {
    TestService::start(
        &common::SPEC,
        config,
        |config, listeners, shutdown| async move {
            let mut service = Service::start(&common::SPEC, config).await?;
            service.retain(&RULES);
            service.serve(Api::new(), listeners, shutdown).await
        },
    )
    .await
}

async fn create_table(pool: &sqlx::PgPool) {
    sqlx::query(
        "create table retained (
             id        bigint generated always as identity primary key,
             kind      text not null,
             person    text,
             note      text not null default '',
             closed_at timestamptz not null)",
    )
    .execute(pool)
    .await
    .unwrap();
}

/// `n` rows of `kind` closed `days_ago` by the service's clock.
async fn insert(service: &TestService, kind: &str, n: i64, days_ago: i64) {
    let now = service.running.db().clock().now();
    let closed = now - SignedDuration::from_hours(24 * days_ago);
    sqlx::query(
        "insert into retained (kind, person, note, closed_at)
         select $1, 'rr_0123', 'Mario Rossi called back', $2 from generate_series(1, $3)",
    )
    .bind(kind)
    .bind(sportello_kit::uow::SqlTimestamp::from(closed))
    .bind(n)
    .execute(service.running.db().pool())
    .await
    .unwrap();
}

async fn count(pool: &sqlx::PgPool, condition: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select count(*) from retained where {condition}"
    )))
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn old_rows_are_deleted_in_batches_and_recent_ones_kept() {
    let ctx = common::context().await;
    let service = start(ctx.config.clone()).await;
    let pool = service.running.db().pool().clone();
    create_table(&pool).await;
    // More than two batches of old drafts, and a recent one.
    insert(&service, "draft", 2 * BATCH + 5, 400).await;
    insert(&service, "draft", 1, 10).await;

    let purged = service.running.workers.janitor.run_once().await.unwrap();
    assert_eq!(purged.rule("kittest.drafts"), (2 * BATCH + 5) as u64);
    assert_eq!(count(&pool, "kind = 'draft'").await, 1);

    // A year later the recent one is old too.
    ctx.clock.advance(SignedDuration::from_hours(24 * 365));
    let purged = service.running.workers.janitor.run_once().await.unwrap();
    assert_eq!(purged.rule("kittest.drafts"), 1);
    assert_eq!(count(&pool, "true").await, 0);
}

#[tokio::test]
async fn an_old_closed_case_is_anonymised_once_and_a_recent_one_not() {
    let ctx = common::context().await;
    let service = start(ctx.config.clone()).await;
    let pool = service.running.db().pool().clone();
    create_table(&pool).await;
    insert(&service, "case", 3, 401).await;
    insert(&service, "case", 2, 399).await;

    let purged = service.running.workers.janitor.run_once().await.unwrap();
    assert_eq!(purged.rule("kittest.cases"), 3);
    // The statistical rows stay, without the person or the free text.
    assert_eq!(count(&pool, "kind = 'case'").await, 5);
    assert_eq!(
        count(&pool, "person is null and note = '' and kind = 'case'").await,
        3
    );
    assert_eq!(count(&pool, "person = 'rr_0123'").await, 2);
    // Treated rows are not treated again.
    let purged = service.running.workers.janitor.run_once().await.unwrap();
    assert_eq!(purged.rule("kittest.cases"), 0);
}

#[tokio::test]
async fn a_decision_is_never_deleted_and_shows_up_in_the_discard_proposals() {
    let ctx = common::context().await;
    let service = start(ctx.config.clone()).await;
    let pool = service.running.db().pool().clone();
    create_table(&pool).await;
    insert(&service, "decision", 1, 3_651).await;
    insert(&service, "decision", 1, 3_000).await;

    for _ in 0..2 {
        service.running.workers.janitor.run_once().await.unwrap();
    }
    assert_eq!(count(&pool, "kind = 'decision'").await, 2);
    assert_eq!(
        count(&pool, "kind = 'decision' and person is not null").await,
        2
    );
    let proposals = sportello_kit::janitor::discard_proposals(&pool)
        .await
        .unwrap();
    assert_eq!(proposals.len(), 1, "{proposals:?}");
    let proposal = &proposals[0];
    assert_eq!(proposal.category, "kittest.decisions");
    assert_eq!(proposal.record_table, "retained");
    assert_eq!(proposal.class, "VI.3 provvedimenti, scarto dopo 10 anni");
    // Eligible since the end of its term: a day before now.
    let now = service.running.db().clock().now();
    assert_eq!(
        proposal.eligible_since,
        now - SignedDuration::from_hours(24)
    );
    let csv = sportello_kit::janitor::proposals_csv(&proposals);
    assert!(
        csv.starts_with("category,record_table,record_id,eligible_since,class,proposed_at\n"),
        "{csv}"
    );
    assert!(
        csv.contains(",\"VI.3 provvedimenti, scarto dopo 10 anni\","),
        "{csv}"
    );
}

#[tokio::test]
async fn an_inbox_row_is_purged_after_the_retention_and_idempotency_keys_after_theirs() {
    let mut ctx = common::context().await;
    ctx.config.retention_periods = ctx
        .config
        .retention_periods
        .with(Category::Idempotency, Duration::from_secs(DAY));
    let service = start(ctx.config.clone()).await;
    let pool = service.running.db().pool().clone();
    create_table(&pool).await;
    let now = service.running.db().clock().now();
    let at = sportello_kit::uow::SqlTimestamp::from(now);
    sqlx::query("insert into inbox (consumer, event_id, received_at) values ('effects', $1, $2)")
        .bind(uuid::Uuid::now_v7())
        .bind(at)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "insert into idempotency_keys (operation, key, request_hash, created_at)
         values ('op', $1, '\\x00', $2)",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(at)
    .execute(&pool)
    .await
    .unwrap();

    // Two days on: the stored reply is gone, the inbox still remembers the event.
    ctx.clock.advance(SignedDuration::from_hours(48));
    let purged = service.running.workers.janitor.run_once().await.unwrap();
    assert_eq!((purged.inbox, purged.idempotency_keys), (0, 1));

    // Past RETENTION (7 days) the inbox row goes — and by then the stream, which keeps
    // events RETENTION_EVENTS (5 days), has dropped the event: it cannot come back.
    ctx.clock.advance(SignedDuration::from_hours(24 * 6));
    let purged = service.running.workers.janitor.run_once().await.unwrap();
    assert_eq!(purged.inbox, 1);
    assert!(ctx.config.retention_periods.events + Duration::from_secs(DAY) < ctx.config.retention);
}

#[tokio::test]
async fn the_streams_keep_events_for_retention_events_on_the_nats_server() {
    let mut ctx = common::context().await;
    ctx.config.retention_periods.events = Duration::from_secs(2 * DAY);
    let service = start(ctx.config.clone()).await;
    let js = async_nats::jetstream::new(ctx.nats().await);
    let stream = ctx.config.subject_prefix.stream("kittest");
    let info = js.get_stream(&stream).await.unwrap().cached_info().clone();
    assert_eq!(info.config.max_age, Duration::from_secs(2 * DAY));
    assert!(info.config.max_age < ctx.config.retention);
    // Dead letters are read by no inbox: they stay for an operator.
    let dead = js
        .get_stream(ctx.config.subject_prefix.stream("deadletter"))
        .await
        .unwrap()
        .cached_info()
        .clone();
    assert_eq!(
        dead.config.max_age,
        sportello_kit::nats::DEAD_LETTER_RETENTION
    );
    drop(service);
}

#[tokio::test]
async fn a_stream_that_would_outlive_the_inbox_stops_the_start() {
    let mut ctx = common::context().await;
    ctx.config.retention_periods.events = Duration::from_secs(7 * DAY);
    let error = Service::start(&common::SPEC, ctx.config.clone())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("RETENTION_EVENTS=\"7d\" is invalid")
            && error.contains("applicato due volte")
            && error.contains("would apply twice"),
        "{error}"
    );
}
