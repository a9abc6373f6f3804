//! Start, health, reflection, idempotency keys, purge and shutdown of a kit service.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use sportello_kit::{Api, testing::TestService};
use sportello_proto::registry::v1::RegisterStreetRequest;
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

    // Shutdown begins with NOT_SERVING, before the server stops accepting calls.
    service.running.health.set_not_serving::<tonic_health::pb::health_server::HealthServer<tonic_health::server::HealthService>>().await;
    service.stop().await;
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
