//! Group commit against a real PostgreSQL: concurrent works share a transaction, each
//! caller is answered after its commit, and one failing work fails alone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use sportello_kit::{Api, ErrorKind, ServiceError, testing::TestService};

async fn start(config: sportello_kit::ServiceConfig) -> TestService {
    TestService::start(
        &common::SPEC,
        config,
        |config, listeners, shutdown| async move {
            let service = sportello_kit::Service::start(&common::SPEC, config).await?;
            service.serve(Api::new(), listeners, shutdown).await
        },
    )
    .await
}

#[tokio::test]
async fn concurrent_works_commit_together_and_a_failing_one_fails_alone() {
    let ctx = common::context().await;
    let service = start(ctx.config.clone()).await;
    let db = service.running.db().clone();
    let mut calls = Vec::new();
    for n in 0..200u32 {
        let db = db.clone();
        calls.push(tokio::spawn(async move {
            db.group_commit(move |uow| {
                Box::pin(async move {
                    sqlx::query("insert into effects (source, note) values ('group', $1)")
                        .bind(n.to_string())
                        .execute(uow.conn())
                        .await?;
                    common::emit_one(uow, &format!("V{n}")).await;
                    if n == 37 {
                        return Err(ServiceError::invalid_field("note", "37 is refused"));
                    }
                    Ok(n)
                })
            })
            .await
        }));
    }
    let mut answered = Vec::new();
    for call in calls {
        match call.await.unwrap() {
            Ok(n) => answered.push(n),
            Err(error) => {
                assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{error}");
                answered.push(u32::MAX);
            }
        }
    }
    let expected: Vec<u32> = (0..200)
        .map(|n| if n == 37 { u32::MAX } else { n })
        .collect();
    assert_eq!(answered, expected, "each caller gets its own answer");

    // Every acknowledged work is committed once, with its event; the refused one left nothing.
    let notes: Vec<String> =
        sqlx::query_scalar("select note from effects where source = 'group' order by note::int")
            .fetch_all(db.pool())
            .await
            .unwrap();
    let committed: Vec<String> = (0..200)
        .filter(|n| *n != 37)
        .map(|n: u32| n.to_string())
        .collect();
    assert_eq!(notes, committed);
    let events: i64 = sqlx::query_scalar("select count(*) from outbox")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(events, 199);
}
