//! Start, health, reflection, idempotency keys, purge and shutdown of a kit service.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::{sync::Arc, time::Duration};

use sportello_kit::{Api, ConsumerSpec, testing::TestService};
use sportello_proto::registry::v1::RegisterStreetRequest;
use tokio::sync::{Notify, Semaphore};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

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

async fn status(channel: sportello_kit::PeerChannel, name: &str) -> ServingStatus {
    let reply = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: name.into(),
        })
        .await
        .unwrap();
    reply.into_inner().status()
}

#[tokio::test]
async fn health_has_a_readiness_and_a_liveness_name() {
    let ctx = common::context().await;
    let service = start(ctx.config.clone()).await;
    let channel = service.channel().await;
    assert_eq!(status(channel.clone(), "").await, ServingStatus::Serving);
    assert_eq!(
        status(channel.clone(), "readiness").await,
        ServingStatus::Serving
    );
    assert_eq!(
        status(channel.clone(), "liveness").await,
        ServingStatus::Serving
    );
    service.stop().await;
}

/// A consumer's handler that holds the first event it gets until the test lets it go,
/// and says when it has it in hand. It then records the event like
/// [`common::RecordingHandler`].
#[derive(Clone)]
struct HeldHandler {
    in_hand: Arc<Notify>,
    release: Arc<Semaphore>,
}

impl Default for HeldHandler {
    fn default() -> Self {
        Self {
            in_hand: Arc::default(),
            release: Arc::new(Semaphore::new(0)),
        }
    }
}

impl sportello_kit::EventHandler for HeldHandler {
    fn handle<'a>(
        &'a self,
        uow: &'a mut sportello_kit::UnitOfWork,
        event: &'a sportello_kit::EventRecord,
    ) -> futures::future::BoxFuture<'a, Result<(), sportello_kit::HandlerError>> {
        Box::pin(async move {
            self.in_hand.notify_one();
            self.release.acquire().await.unwrap().forget();
            sqlx::query(
                "insert into effects (source, event_id, note) values ('consumer', $1, 'held')",
            )
            .bind(event.id)
            .execute(uow.conn())
            .await?;
            Ok(())
        })
    }
}

/// The documented shutdown order, observed: readiness turns NOT_SERVING while the server
/// still accepts new calls (a consumer's message in hand keeps the servers up, so the
/// test can look at that moment without racing it), liveness stays SERVING, then the
/// message in hand is finished and committed, then the port closes.
#[tokio::test]
async fn shutdown_turns_not_serving_before_it_stops_accepting_calls() {
    let ctx = common::context().await.with_background_workers();
    let handler = HeldHandler::default();
    let service = TestService::start(&common::SPEC, ctx.config.clone(), {
        let handler = handler.clone();
        |config, listeners, shutdown| async move {
            let mut service = sportello_kit::Service::start(&common::SPEC, config).await?;
            service.consume(
                ConsumerSpec::new("held", "kittest", &["registry.street.registered"]),
                handler,
            );
            service.serve(Api::new(), listeners, shutdown).await
        }
    })
    .await;
    let db = service.running.db().clone();
    let addr = service.running.grpc_addr;
    let mut uow = db.begin().await.unwrap();
    common::emit_one(&mut uow, "HELD").await;
    uow.commit().await.unwrap();
    // The background relay publishes it; the consumer takes it and holds it.
    handler.in_hand.notified().await;

    let channel = service.channel().await;
    let mut readiness = HealthClient::new(channel.clone())
        .watch(HealthCheckRequest {
            service: "readiness".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = readiness.message().await.unwrap().unwrap();
    assert_eq!(first.status(), ServingStatus::Serving);

    let stopping = tokio::spawn(service.stop());
    let next = readiness.message().await.unwrap().unwrap();
    assert_eq!(
        next.status(),
        ServingStatus::NotServing,
        "shutdown begins with NOT_SERVING"
    );
    drop(readiness);

    // Still accepting: a new connection is answered, and says it is not ready.
    let fresh = sportello_kit::PeerChannel::connect(
        &sportello_kit::testing::pki::identity("svc/gateway"),
        "kittest",
        &format!("https://{addr}"),
        Duration::from_secs(10),
    )
    .await
    .expect("the server still accepts connections after NOT_SERVING");
    assert_eq!(
        status(fresh.clone(), "readiness").await,
        ServingStatus::NotServing
    );
    assert_eq!(status(fresh.clone(), "").await, ServingStatus::NotServing);
    assert_eq!(
        status(fresh.clone(), "liveness").await,
        ServingStatus::Serving,
        "stopping is not being wedged"
    );
    assert!(
        !stopping.is_finished(),
        "the message in hand holds the stop"
    );
    assert_eq!(common::count_effects(db.pool()).await, 0);
    drop((fresh, channel));

    handler.release.add_permits(1);
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("shutdown completes once the message is done")
        .unwrap();
    assert_eq!(
        common::count_effects(db.pool()).await,
        1,
        "the message in hand was finished and committed before the stop"
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the port is closed"
    );
}

#[tokio::test]
async fn shutdown_stops_serving_and_returns() {
    let ctx = common::context().await;
    let service = start(ctx.config.clone()).await;
    let addr = service.running.grpc_addr;
    tokio::time::timeout(Duration::from_secs(10), service.stop())
        .await
        .expect("shutdown completes");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the port is closed"
    );
}

#[tokio::test]
async fn replicas_starting_together_migrate_once() {
    let ctx = common::context().await;
    let (a, b) = tokio::join!(start(ctx.config.clone()), start(ctx.config.clone()));
    let applied: i64 = sqlx::query_scalar("select count(*) from kittest._kit_migrations")
        .fetch_one(a.running.db().pool())
        .await
        .unwrap();
    assert_eq!(
        applied as usize,
        sportello_kit::db::all_migrations(&common::MIGRATOR).count()
            - common::MIGRATOR.iter().count()
    );
    drop(b);
}

fn record<'u>(
    uow: &'u mut sportello_kit::UnitOfWork,
    code: &'static str,
) -> futures::future::BoxFuture<'u, Result<RegisterStreetRequest, sportello_kit::ServiceError>> {
    Box::pin(async move {
        sqlx::query("insert into effects (source, note) values ('rpc', $1)")
            .bind(code)
            .execute(uow.conn())
            .await?;
        Ok(RegisterStreetRequest {
            name: code.into(),
            ..Default::default()
        })
    })
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_response() {
    let ctx = common::context().await;
    let service = start(ctx.config.clone()).await;
    let db = service.running.db();
    let key = sportello_kit::IdempotencyKey::parse_optional("0190f5b2-7c4a-7b8e-9d3c-1a2b3c4d5e6f")
        .unwrap();
    let request = RegisterStreetRequest {
        street_code: "A".into(),
        ..Default::default()
    };
    let first = db
        .idempotent("op", key, &request, |uow| record(uow, "first"))
        .await
        .unwrap();
    let again = db
        .idempotent("op", key, &request, |uow| record(uow, "second"))
        .await
        .unwrap();
    assert_eq!(first.name, "first");
    assert_eq!(again.name, "first", "the first response, replayed");
    assert_eq!(
        common::count_effects(db.pool()).await,
        1,
        "the work ran once"
    );

    let other = RegisterStreetRequest {
        street_code: "B".into(),
        ..Default::default()
    };
    let error = db
        .idempotent("op", key, &other, |uow| record(uow, "third"))
        .await
        .unwrap_err();
    assert_eq!(error.violations()[0].field, "idempotency_key");
}

#[tokio::test]
async fn the_janitor_purges_only_what_is_older_than_the_retention() {
    let ctx = common::context().await;
    let service = start(ctx.config.clone()).await;
    let db = service.running.db();
    let mut uow = db.begin().await.unwrap();
    common::emit_one(&mut uow, "OLD").await;
    uow.commit().await.unwrap();
    service.running.workers.relay.run_once().await.unwrap();
    ctx.clock.advance(jiff::SignedDuration::from_hours(24 * 8));
    let mut uow = db.begin().await.unwrap();
    common::emit_one(&mut uow, "NEW").await;
    uow.commit().await.unwrap();
    service.running.workers.relay.run_once().await.unwrap();

    let purged = service.running.workers.janitor.run_once().await.unwrap();
    assert_eq!(purged.outbox, 1);
    let left: i64 = sqlx::query_scalar("select count(*) from outbox")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(left, 1);
}
