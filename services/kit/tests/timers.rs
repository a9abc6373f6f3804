//! Durable timers fired by the service's clock, never by sleeping.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use futures::future::BoxFuture;
use jiff::{SignedDuration, ToSpan};
use sportello_kit::{Api, ServiceError, Timer, TimerHandler, UnitOfWork, testing::TestService};

/// Writes an effect; fails while the payload says so.
struct Note;

impl TimerHandler for Note {
    fn fire<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        timer: &'a Timer,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            if timer.payload["fail"] == true && timer.attempts == 0 {
                return Err(ServiceError::new(
                    sportello_kit::ErrorKind::Unavailable,
                    "not now",
                ));
            }
            sqlx::query("insert into effects (source, note) values ('timer', $1)")
                .bind(&timer.key)
                .execute(uow.conn())
                .await?;
            Ok(())
        })
    }
}

async fn start(ctx: &sportello_kit::testing::TestContext) -> TestService {
    TestService::start(
        &common::SPEC,
        ctx.config.clone(),
        |config, listeners, shutdown| async move {
            let mut service = sportello_kit::Service::start(&common::SPEC, config).await?;
            service.on_timer("silence_assent", Note);
            service.serve(Api::new(), listeners, shutdown).await
        },
    )
    .await
}

#[tokio::test]
async fn a_timer_fires_when_the_clock_reaches_it_and_only_once() {
    let ctx = common::context().await;
    let service = start(&ctx).await;
    let db = service.running.db();
    let mut uow = db.begin().await.unwrap();
    let due = uow
        .now()
        .checked_add(SignedDuration::from_hours(45 * 24))
        .unwrap();
    uow.schedule_timer(
        "silence_assent",
        "declaration-1",
        due,
        serde_json::json!({}),
    )
    .await
    .unwrap();
    uow.commit().await.unwrap();

    let timers = &service.running.workers.timers;
    assert_eq!(timers.run_once().await.unwrap(), 0, "not due yet");
    ctx.clock.advance(SignedDuration::from_hours(45 * 24 - 1));
    assert_eq!(timers.run_once().await.unwrap(), 0, "an hour early");
    ctx.clock.advance(SignedDuration::from_hours(1));
    assert_eq!(timers.run_once().await.unwrap(), 1);
    assert_eq!(timers.run_once().await.unwrap(), 0, "fired once");
    assert_eq!(common::count_effects(db.pool()).await, 1);
}

#[tokio::test]
async fn a_cancelled_timer_never_fires() {
    let ctx = common::context().await;
    let service = start(&ctx).await;
    let db = service.running.db();
    let mut uow = db.begin().await.unwrap();
    let due = uow.now().checked_add(1.hour()).unwrap();
    uow.schedule_timer(
        "silence_assent",
        "declaration-2",
        due,
        serde_json::json!({}),
    )
    .await
    .unwrap();
    uow.commit().await.unwrap();
    let mut uow = db.begin().await.unwrap();
    assert!(
        uow.cancel_timer("silence_assent", "declaration-2")
            .await
            .unwrap()
    );
    uow.commit().await.unwrap();
    ctx.clock.advance(SignedDuration::from_hours(2));
    assert_eq!(service.running.workers.timers.run_once().await.unwrap(), 0);
    assert_eq!(common::count_effects(db.pool()).await, 0);
}

#[tokio::test]
async fn a_failing_timer_is_retried_later_without_blocking_others() {
    let ctx = common::context().await;
    let service = start(&ctx).await;
    let db = service.running.db();
    let mut uow = db.begin().await.unwrap();
    let now = uow.now();
    uow.schedule_timer(
        "silence_assent",
        "a-fails",
        now,
        serde_json::json!({"fail": true}),
    )
    .await
    .unwrap();
    uow.schedule_timer("silence_assent", "b-works", now, serde_json::json!({}))
        .await
        .unwrap();
    uow.commit().await.unwrap();

    let timers = &service.running.workers.timers;
    assert_eq!(
        timers.run_once().await.unwrap(),
        1,
        "the other timer still fires"
    );
    let (attempts, error): (i32, String) =
        sqlx::query_as("select attempts, last_error from timers where key = 'a-fails'")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!((attempts, error.as_str()), (1, "not now"));
    ctx.clock.advance(SignedDuration::from_mins(2));
    assert_eq!(
        timers.run_once().await.unwrap(),
        1,
        "retried after its backoff"
    );
    assert_eq!(common::count_effects(db.pool()).await, 2);
}

#[tokio::test]
async fn a_fired_timer_can_be_armed_again() {
    let ctx = common::context().await;
    let service = start(&ctx).await;
    let db = service.running.db();
    let timers = &service.running.workers.timers;
    for round in 0..3 {
        let mut uow = db.begin().await.unwrap();
        let due = uow.now().checked_add(SignedDuration::from_mins(1)).unwrap();
        uow.schedule_timer("silence_assent", "operator-1", due, serde_json::json!({}))
            .await
            .unwrap();
        uow.commit().await.unwrap();
        ctx.clock.advance(SignedDuration::from_mins(1));
        assert_eq!(
            timers.run_once().await.unwrap(),
            1,
            "round {round}: armed again after firing"
        );
    }
    assert_eq!(common::count_effects(db.pool()).await, 3);
}
