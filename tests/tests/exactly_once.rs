//! One event from a service's outbox to a consumer, applied exactly once even when it
//! is published twice.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use futures::future::BoxFuture;
use sportello_kit::{
    Api, ConsumerSpec, DefaultPorts, EventRecord, HandlerError, ServiceSpec, UnitOfWork,
    inbox::Outcome,
    testing::{TestContext, TestService},
};
use sportello_proto::registry::v1::{
    RegisterStreetRequest, StreetRegistered, street_service_client::StreetServiceClient,
};
use sportello_tests::stack::context;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A downstream system that keeps the registry's streets.
static CONSUMER_SPEC: ServiceSpec = ServiceSpec {
    name: "downstream",
    ports: DefaultPorts {
        grpc: 0,
        metrics: 0,
        http: 0,
    },
    migrator: &MIGRATOR,
    streams: &[],
    consumers: downstream_consumers,
    subscriptions: &[],
    serves_http: false,
    policy: &sportello_kit::Policy::CLOSED,
};

/// It reads the registry's streets (and so its NATS user may).
fn downstream_consumers() -> Vec<ConsumerSpec> {
    vec![ConsumerSpec::new(
        "streets",
        "registry",
        &["registry.street.registered"],
    )]
}

struct KeepStreets;

impl sportello_kit::EventHandler for KeepStreets {
    fn handle<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        event: &'a EventRecord,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let street: StreetRegistered = event.decode()?;
            sqlx::query("insert into received (event_id, street_id) values ($1, $2)")
                .bind(event.id)
                .bind(street.street_id)
                .execute(uow.conn())
                .await?;
            Ok(())
        })
    }
}

#[tokio::test]
async fn an_event_reaches_its_consumer_exactly_once_even_when_published_twice() {
    let ctx = TestContext::new(&[&sportello_registry::SPEC, &CONSUMER_SPEC]).await;
    let registry = TestService::start(
        &sportello_registry::SPEC,
        ctx.config.clone(),
        sportello_registry::start,
    )
    .await;
    let downstream = TestService::start(
        &CONSUMER_SPEC,
        ctx.config.clone(),
        |config, listeners, shutdown| async move {
            let mut service = sportello_kit::Service::start(&CONSUMER_SPEC, config).await?;
            service.consume(
                ConsumerSpec {
                    name: "streets",
                    stream_part: "registry",
                    subjects: &["registry.street.registered"],
                    max_deliver: 5,
                    ack_wait: Duration::from_secs(30),
                    retry_delay: Duration::ZERO,
                    // Side by side: exactly once must hold with lanes too.
                    lanes: 4,
                },
                KeepStreets,
            );
            service.serve(Api::new(), listeners, shutdown).await
        },
    )
    .await;

    let mut client = StreetServiceClient::new(registry.channel().await);
    let request = RegisterStreetRequest {
        municipality_istat_code: "011015".into(),
        street_code: "PRIONE".into(),
        qualifier: "Via".into(),
        name: "del Prione".into(),
        postal_code: "19121".into(),
        idempotency_key: String::new(),
    };
    let street = client
        .register_street(context("e2e.check").request(request))
        .await
        .unwrap()
        .into_inner()
        .street
        .unwrap();

    let relay = &registry.running.workers.relay;
    assert_eq!(relay.run_once().await.unwrap().published, 1);
    // Published a second time: the relay "crashed" before marking the row, and a copy
    // arrives past the stream's de-duplication too.
    sqlx::query("update outbox set published_at = null")
        .execute(registry.running.db().pool())
        .await
        .unwrap();
    assert_eq!(relay.run_once().await.unwrap().duplicates, 1);
    let nats = ctx.nats().await;
    let js = async_nats::jetstream::new(nats);
    let subject = ctx
        .config
        .subject_prefix
        .subject("registry.street.registered");
    let mut consumer_view = js
        .get_stream(ctx.config.subject_prefix.stream("registry"))
        .await
        .unwrap()
        .get_raw_message(1)
        .await
        .unwrap();
    consumer_view
        .headers
        .insert(async_nats::header::NATS_MESSAGE_ID, "copy-past-the-window");
    js.publish_with_headers(subject, consumer_view.headers, consumer_view.payload)
        .await
        .unwrap()
        .await
        .unwrap();

    let consumer = &downstream.running.workers.consumers[0];
    let outcomes = consumer.run_once(10).await.unwrap();
    assert_eq!(outcomes, [Outcome::Applied, Outcome::Duplicate]);
    let received: Vec<String> = sqlx::query_scalar("select street_id from received")
        .fetch_all(downstream.running.db().pool())
        .await
        .unwrap();
    assert_eq!(received, [street.id]);
}
