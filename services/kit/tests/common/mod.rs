//! A minimal service built from the kit alone, for the kit's own tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code, unreachable_pub)]

use futures::future::BoxFuture;
use sportello_kit::{
    Aggregate, ConsumerSpec, DefaultPorts, EventRecord, HandlerError, ServiceSpec, StreamSpec,
    UnitOfWork, testing::TestContext,
};
use sportello_proto::registry::v1::StreetRegistered;
use uuid::Uuid;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("tests/migrations");

/// Publishes `registry.*` events (borrowing the registry's event messages) into its stream.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "kittest",
    ports: DefaultPorts {
        grpc: 0,
        metrics: 0,
        http: 0,
    },
    migrator: &MIGRATOR,
    streams: &[StreamSpec {
        part: "kittest",
        subjects: &["registry.>"],
    }],
    consumers,
    subscriptions: &[],
    serves_http: false,
    policy: &sportello_kit::Policy::CLOSED,
};

/// The consumers the kit's tests run (inbox.rs, lifecycle.rs).
fn consumers() -> Vec<ConsumerSpec> {
    vec![
        ConsumerSpec::new("effects", "kittest", &["registry.street.registered"]),
        ConsumerSpec::new("held", "kittest", &["registry.street.registered"]),
    ]
}

pub async fn context() -> TestContext {
    TestContext::new(&[&SPEC]).await
}

/// Emits one `StreetRegistered` event for a new aggregate and commits. Returns the event id.
pub async fn emit_one(uow: &mut UnitOfWork, code: &str) -> Uuid {
    let id = Uuid::now_v7().to_string();
    uow.emit(
        &StreetRegistered {
            street_id: id.clone(),
            municipality_istat_code: "011015".into(),
            street_code: code.into(),
        },
        Aggregate {
            kind: "registry.street",
            id: &id,
            version: 1,
            municipality: "011015".parse().unwrap(),
        },
    )
    .await
    .unwrap()
}

/// Deliveries of DOWN-n events so far (one test process, one counter).
static DOWN_ATTEMPTS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// Deliveries of KILL-n events so far.
static KILL_ATTEMPTS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
/// Deliveries of READONLY-n events so far.
static READONLY_ATTEMPTS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// Records each event it handles as an effect; fails for street codes starting "FAIL".
pub struct RecordingHandler;

impl sportello_kit::EventHandler for RecordingHandler {
    fn handle<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        event: &'a EventRecord,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let street: StreetRegistered = event.decode()?;
            if street.street_code.starts_with("FAIL") {
                return Err(HandlerError::Retry(sportello_kit::ServiceError::new(
                    sportello_kit::ErrorKind::FailedPrecondition,
                    "the downstream office refuses it",
                )));
            }
            // DOWN-n: a dependency is unavailable for the first n deliveries.
            if let Some(n) = street.street_code.strip_prefix("DOWN-")
                && DOWN_ATTEMPTS.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                    < n.parse().unwrap()
            {
                return Err(HandlerError::Retry(sportello_kit::ServiceError::new(
                    sportello_kit::ErrorKind::Unavailable,
                    "the downstream database is failing over",
                )));
            }
            // KILL-n: for the first n deliveries the database ends the handler's session,
            // as a failover or an administrator does (the client sees 57P01 or a closed
            // socket).
            if let Some(n) = street.street_code.strip_prefix("KILL-")
                && KILL_ATTEMPTS.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                    < n.parse().unwrap()
            {
                sqlx::query("select pg_terminate_backend(pg_backend_pid())")
                    .execute(uow.conn())
                    .await?;
            }
            // READONLY-n: for the first n deliveries the write meets a read-only
            // transaction, as on a standby the pool still points at (25006).
            if let Some(n) = street.street_code.strip_prefix("READONLY-")
                && READONLY_ATTEMPTS.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                    < n.parse().unwrap()
            {
                sqlx::query("set transaction read only")
                    .execute(uow.conn())
                    .await?;
            }
            sqlx::query("insert into effects (source, event_id, note) values ('consumer', $1, $2)")
                .bind(event.id)
                .bind(&street.street_code)
                .execute(uow.conn())
                .await?;
            Ok(())
        })
    }
}

pub async fn count_effects(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from effects")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Every message currently in a stream, oldest first.
pub async fn stream_messages(
    js: &async_nats::jetstream::Context,
    stream: &str,
) -> Vec<async_nats::jetstream::Message> {
    use futures::StreamExt;
    let stream = js.get_stream(stream).await.unwrap();
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            deliver_policy: async_nats::jetstream::consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut batch = consumer
        .fetch()
        .max_messages(1000)
        .messages()
        .await
        .unwrap();
    let mut out = Vec::new();
    while let Some(message) = batch.next().await {
        out.push(message.unwrap());
    }
    out
}
