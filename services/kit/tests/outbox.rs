//! The transactional outbox and its relay, against a real PostgreSQL and JetStream.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use sportello_kit::{Api, testing::TestService};

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
async fn an_event_committed_but_never_published_is_published_after_a_restart_once() {
    let ctx = common::context().await;
    let first = start(ctx.config.clone()).await;
    let mut uow = first.running.db().begin().await.unwrap();
    let event_id = common::emit_one(&mut uow, "PRIONE").await;
    uow.commit().await.unwrap();
    // The relay is "killed" between the commit and the publish: it never runs.
    first.stop().await;

    let second = start(ctx.config.clone()).await;
    let pass = second.running.workers.relay.run_once().await.unwrap();
    assert_eq!(pass.published, 1);
    assert!(pass.atomic, "published as an atomic batch");
    assert_eq!(
        second
            .running
            .workers
            .relay
            .run_once()
            .await
            .unwrap()
            .published,
        0
    );

    let js = async_nats::jetstream::new(ctx.nats().await);
    let messages = common::stream_messages(&js, &ctx.config.subject_prefix.stream("kittest")).await;
    assert_eq!(messages.len(), 1);
    let record = sportello_kit::EventRecord::from_message(
        messages[0].headers.as_ref(),
        messages[0].payload.clone(),
    )
    .unwrap();
    assert_eq!(record.id, event_id);
    assert_eq!(record.event_type, "registry.street.registered");
    assert_eq!(record.aggregate_version, 1);
    assert_eq!(
        messages[0].subject.as_str(),
        ctx.config
            .subject_prefix
            .subject("registry.street.registered")
    );
}

#[tokio::test]
async fn an_event_published_but_not_marked_is_not_published_twice() {
    let ctx = common::context().await;
    let service = start(ctx.config.clone()).await;
    let mut uow = service.running.db().begin().await.unwrap();
    common::emit_one(&mut uow, "PRIONE").await;
    uow.commit().await.unwrap();
    assert_eq!(
        service
            .running
            .workers
            .relay
            .run_once()
            .await
            .unwrap()
            .published,
        1
    );

    // The relay dies after JetStream's ack and before its mark commits: the row is
    // unpublished again as far as the database knows.
    sqlx::query("update outbox set published_at = null")
        .execute(service.running.db().pool())
        .await
        .unwrap();
    let pass = service.running.workers.relay.run_once().await.unwrap();
    assert_eq!(
        (pass.published, pass.duplicates),
        (1, 1),
        "re-sent and recognised as a duplicate"
    );

    let js = async_nats::jetstream::new(ctx.nats().await);
    let messages = common::stream_messages(&js, &ctx.config.subject_prefix.stream("kittest")).await;
    assert_eq!(messages.len(), 1, "the stream holds the event once");
}

#[tokio::test]
async fn a_rolled_back_unit_of_work_emits_nothing() {
    let ctx = common::context().await;
    let service = start(ctx.config.clone()).await;
    let mut uow = service.running.db().begin().await.unwrap();
    common::emit_one(&mut uow, "PRIONE").await;
    drop(uow);
    assert_eq!(
        service
            .running
            .workers
            .relay
            .run_once()
            .await
            .unwrap()
            .published,
        0
    );
}

#[tokio::test]
async fn events_wait_in_the_outbox_while_nats_is_unreachable() {
    let ctx = common::context().await;
    let mut config = ctx.config.clone();
    // Nothing listens on port 1: NATS is "down" from the start.
    config.nats_url = "nats://127.0.0.1:1".into();
    let listeners = sportello_kit::Listeners::ephemeral(&common::SPEC)
        .await
        .unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let service = sportello_kit::Service::start(&common::SPEC, config)
        .await
        .unwrap();
    let running = service
        .serve(Api::new(), listeners, shutdown.clone())
        .await
        .unwrap();

    let mut uow = running.db().begin().await.unwrap();
    common::emit_one(&mut uow, "PRIONE").await;
    uow.commit().await.unwrap();
    let relay = running.workers.relay.clone();
    let pass = tokio::time::timeout(std::time::Duration::from_secs(30), relay.run_once()).await;
    assert!(
        matches!(pass, Ok(Err(_))),
        "publishing fails while NATS is away: {pass:?}"
    );
    let pending: i64 = sqlx::query_scalar("select count(*) from outbox where published_at is null")
        .fetch_one(running.db().pool())
        .await
        .unwrap();
    assert_eq!(pending, 1, "the event waits in the outbox");
    // And the service still serves: readiness follows the database, not NATS.
    let channel = sportello_kit::PeerChannel::connect(
        &sportello_kit::testing::pki::identity("svc/gateway"),
        "kittest",
        &format!("https://{}", running.grpc_addr),
        std::time::Duration::from_secs(10),
    )
    .await
    .unwrap();
    let status = tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: "readiness".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status();
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );
    shutdown.cancel();
    running.wait().await;
}

/// JetStream's store is encrypted at rest (as in `deploy/` and `make run`): a published
/// event's payload is nowhere in the store's files in clear.
#[tokio::test]
async fn a_published_event_is_not_in_the_store_in_clear() {
    let ctx = common::context().await;
    let service = start(ctx.config.clone()).await;
    let marker = "CANARYSTREETCODE";
    let mut uow = service.running.db().begin().await.unwrap();
    common::emit_one(&mut uow, marker).await;
    uow.commit().await.unwrap();
    let pass = service.running.workers.relay.run_once().await.unwrap();
    assert_eq!(
        pass.published, 1,
        "acknowledged by JetStream, so on its disk"
    );
    let mut files = vec![ctx.nats.store_dir()];
    let mut read = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            read += bytes.len();
            assert!(
                !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
                "{} holds the event in clear",
                path.display()
            );
        }
    }
    assert!(read > 0, "the store has files");
}
