//! Idempotent consumers, the delivery limit and the dead-letter subject.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use sportello_kit::{Api, ConsumerSpec, inbox::Outcome, testing::TestService};

static CONSUMER: ConsumerSpec = ConsumerSpec {
    name: "effects",
    stream_part: "kittest",
    subjects: &["registry.street.registered"],
    max_deliver: 3,
    ack_wait: Duration::from_secs(30),
    retry_delay: Duration::ZERO,
    lanes: 1,
};

async fn start(ctx: &sportello_kit::testing::TestContext) -> TestService {
    TestService::start(
        &common::SPEC,
        ctx.config.clone(),
        |config, listeners, shutdown| async move {
            let mut service = sportello_kit::Service::start(&common::SPEC, config).await?;
            service.consume(CONSUMER.clone(), common::RecordingHandler);
            service.serve(Api::new(), listeners, shutdown).await
        },
    )
    .await
}

#[tokio::test]
async fn a_redelivered_event_changes_nothing() {
    let ctx = common::context().await;
    let service = start(&ctx).await;
    let mut uow = service.running.db().begin().await.unwrap();
    let event_id = common::emit_one(&mut uow, "PRIONE").await;
    uow.commit().await.unwrap();
    service.running.workers.relay.run_once().await.unwrap();

    // Deliver the same event a second time, past JetStream's de-duplication (as after a
    // lost ack, or a re-send outside the duplicate window).
    let js = async_nats::jetstream::new(ctx.nats().await);
    let original = common::stream_messages(&js, &ctx.config.subject_prefix.stream("kittest")).await;
    let mut headers = original[0].headers.clone().unwrap();
    headers.insert(
        async_nats::header::NATS_MESSAGE_ID,
        "a-different-message-id",
    );
    js.publish_with_headers(
        original[0].subject.clone(),
        headers,
        original[0].payload.clone(),
    )
    .await
    .unwrap()
    .await
    .unwrap();

    let consumer = &service.running.workers.consumers[0];
    let outcomes = consumer.run_once(10).await.unwrap();
    assert_eq!(outcomes, [Outcome::Applied, Outcome::Duplicate]);
    assert_eq!(common::count_effects(service.running.db().pool()).await, 1);
    let recorded: uuid::Uuid = sqlx::query_scalar("select event_id from effects")
        .fetch_one(service.running.db().pool())
        .await
        .unwrap();
    assert_eq!(recorded, event_id);
    assert!(
        consumer.run_once(10).await.unwrap().is_empty(),
        "both deliveries were acknowledged"
    );
}

#[tokio::test]
async fn an_event_that_keeps_failing_is_dead_lettered_after_the_delivery_limit() {
    let ctx = common::context().await;
    let service = start(&ctx).await;
    let mut uow = service.running.db().begin().await.unwrap();
    let event_id = common::emit_one(&mut uow, "FAIL-1").await;
    uow.commit().await.unwrap();
    service.running.workers.relay.run_once().await.unwrap();

    let consumer = &service.running.workers.consumers[0];
    let mut outcomes = Vec::new();
    // A nak'd message comes back after a server round trip: poll until it is dead-lettered.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while outcomes.last() != Some(&Outcome::DeadLettered) && tokio::time::Instant::now() < deadline
    {
        let got = consumer.run_once(1).await.unwrap();
        if got.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        outcomes.extend(got);
    }
    assert_eq!(
        outcomes,
        [
            Outcome::WillRetry,
            Outcome::WillRetry,
            Outcome::DeadLettered
        ]
    );
    assert_eq!(
        common::count_effects(service.running.db().pool()).await,
        0,
        "nothing half-applied"
    );

    let js = async_nats::jetstream::new(ctx.nats().await);
    let letters =
        common::stream_messages(&js, &ctx.config.subject_prefix.stream("deadletter")).await;
    assert_eq!(letters.len(), 1);
    assert_eq!(
        letters[0].subject.as_str(),
        ctx.config
            .subject_prefix
            .subject("deadletter.kittest.effects")
    );
    let letter = <sportello_proto::common::v1::DeadLetter as prost::Message>::decode(
        letters[0].payload.clone(),
    )
    .unwrap();
    assert_eq!(letter.deliveries, 3);
    assert_eq!(letter.reason, "the downstream office refuses it");
    assert_eq!(letter.event.unwrap().id, event_id.to_string());
}

#[tokio::test]
async fn a_malformed_message_is_dead_lettered_at_once() {
    let ctx = common::context().await;
    let service = start(&ctx).await;
    let js = async_nats::jetstream::new(ctx.nats().await);
    js.publish(
        ctx.config
            .subject_prefix
            .subject("registry.street.registered"),
        "not an event".into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let outcomes = service.running.workers.consumers[0]
        .run_once(10)
        .await
        .unwrap();
    assert_eq!(outcomes, [Outcome::DeadLettered]);
}

#[tokio::test]
async fn an_unavailable_dependency_is_waited_for_past_the_delivery_limit() {
    let ctx = common::context().await;
    let service = start(&ctx).await;
    let mut uow = service.running.db().begin().await.unwrap();
    // Unavailable for 4 deliveries, more than the consumer's limit of 3.
    common::emit_one(&mut uow, "DOWN-4").await;
    uow.commit().await.unwrap();
    service.running.workers.relay.run_once().await.unwrap();

    let consumer = &service.running.workers.consumers[0];
    let mut outcomes = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while outcomes.last() != Some(&Outcome::Applied) && tokio::time::Instant::now() < deadline {
        let got = consumer.run_once(1).await.unwrap();
        if got.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        outcomes.extend(got);
    }
    assert_eq!(
        outcomes,
        [
            Outcome::WillRetry,
            Outcome::WillRetry,
            Outcome::WillRetry,
            Outcome::WillRetry,
            Outcome::Applied
        ]
    );
    assert_eq!(
        common::count_effects(service.running.db().pool()).await,
        1,
        "applied once it was back"
    );
}

/// Delivers the event whose street code is `code` until it is applied (or 30 s pass) and
/// returns the outcomes.
async fn deliver_until_applied(service: &TestService, code: &str) -> Vec<Outcome> {
    let mut uow = service.running.db().begin().await.unwrap();
    common::emit_one(&mut uow, code).await;
    uow.commit().await.unwrap();
    service.running.workers.relay.run_once().await.unwrap();

    let consumer = &service.running.workers.consumers[0];
    let mut outcomes = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !matches!(
        outcomes.last(),
        Some(Outcome::Applied | Outcome::DeadLettered)
    ) && tokio::time::Instant::now() < deadline
    {
        let got = consumer.run_once(1).await.unwrap();
        if got.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        outcomes.extend(got);
    }
    outcomes
}

#[tokio::test]
async fn a_terminated_database_session_is_waited_for_not_dead_lettered() {
    let ctx = common::context().await;
    let service = start(&ctx).await;
    // The handler's session is terminated on 4 deliveries, more than the limit of 3.
    let outcomes = deliver_until_applied(&service, "KILL-4").await;
    assert_eq!(
        outcomes,
        [
            Outcome::WillRetry,
            Outcome::WillRetry,
            Outcome::WillRetry,
            Outcome::WillRetry,
            Outcome::Applied
        ]
    );
    assert_eq!(common::count_effects(service.running.db().pool()).await, 1);
    let js = async_nats::jetstream::new(ctx.nats().await);
    let letters =
        common::stream_messages(&js, &ctx.config.subject_prefix.stream("deadletter")).await;
    assert!(letters.is_empty(), "nothing dead-lettered");
}

#[tokio::test]
async fn a_read_only_database_is_waited_for_not_dead_lettered() {
    let ctx = common::context().await;
    let service = start(&ctx).await;
    let outcomes = deliver_until_applied(&service, "READONLY-4").await;
    assert_eq!(
        outcomes,
        [
            Outcome::WillRetry,
            Outcome::WillRetry,
            Outcome::WillRetry,
            Outcome::WillRetry,
            Outcome::Applied
        ]
    );
    assert_eq!(common::count_effects(service.running.db().pool()).await, 1);
    let js = async_nats::jetstream::new(ctx.nats().await);
    let letters =
        common::stream_messages(&js, &ctx.config.subject_prefix.stream("deadletter")).await;
    assert!(letters.is_empty(), "nothing dead-lettered");
}

/// A consumer with lanes applies different aggregates' events side by side, and each
/// aggregate's events in stream order, each once.
#[tokio::test]
async fn lanes_keep_each_aggregates_order_and_apply_each_event_once() {
    let ctx = common::context().await;
    let service = TestService::start(
        &common::SPEC,
        ctx.config.clone(),
        |config, listeners, shutdown| async move {
            let mut service = sportello_kit::Service::start(&common::SPEC, config).await?;
            service.consume(CONSUMER.clone().with_lanes(4), common::RecordingHandler);
            service.serve(Api::new(), listeners, shutdown).await
        },
    )
    .await;
    // Five aggregates, eight events each, interleaved in the stream: v1 of each, v2 of
    // each, …
    let aggregates: Vec<String> = (0..5).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let mut uow = service.running.db().begin().await.unwrap();
    for version in 1..=8_i64 {
        for (n, id) in aggregates.iter().enumerate() {
            uow.emit(
                &sportello_proto::registry::v1::StreetRegistered {
                    street_id: id.clone(),
                    municipality_istat_code: "011015".into(),
                    street_code: format!("LANE-{n}-{version}"),
                },
                sportello_kit::Aggregate {
                    kind: "registry.street",
                    id,
                    version,
                    municipality: "011015".parse().unwrap(),
                },
            )
            .await
            .unwrap();
        }
    }
    uow.commit().await.unwrap();
    service.running.workers.relay.run_once().await.unwrap();
    // One delivery of one event again, as after a lost ack.
    let js = async_nats::jetstream::new(ctx.nats().await);
    let original = common::stream_messages(&js, &ctx.config.subject_prefix.stream("kittest")).await;
    // The event's own headers, without the relay's atomic-batch ones.
    let record = sportello_kit::EventRecord::from_message(
        original[7].headers.as_ref(),
        original[7].payload.clone(),
    )
    .unwrap();
    let mut headers = record.headers();
    headers.insert(async_nats::header::NATS_MESSAGE_ID, "again");
    js.publish_with_headers(
        original[7].subject.clone(),
        headers,
        original[7].payload.clone(),
    )
    .await
    .unwrap()
    .await
    .unwrap();

    let shutdown = tokio_util::sync::CancellationToken::new();
    let consumer = service.running.workers.consumers[0].clone();
    let running = tokio::spawn(consumer.run(shutdown.clone()));
    let pool = service.running.db().pool().clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while common::count_effects(&pool).await < 40 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Time for the redelivered copy to be seen (and found a duplicate).
    tokio::time::sleep(Duration::from_millis(300)).await;
    shutdown.cancel();
    running.await.unwrap();

    let notes: Vec<String> = sqlx::query_scalar("select note from effects order by id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(notes.len(), 40, "each event once: {notes:?}");
    for n in 0..5 {
        let versions: Vec<i64> = notes
            .iter()
            .filter_map(|note| note.strip_prefix(&format!("LANE-{n}-")))
            .map(|v| v.parse().unwrap())
            .collect();
        assert_eq!(
            versions,
            (1..=8).collect::<Vec<_>>(),
            "aggregate {n} in order"
        );
    }
}
