//! The protocol register: gapless numbers per municipality and year, across replicas and
//! under concurrency; immutable entries; voiding; the day's export.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use jiff::Timestamp;
use sportello_proto::{
    common::v1::Channel,
    routing::v1::{
        ExportRegisterRequest, IncomingKind, RegisterIncomingRequest, VoidRegistrationRequest,
        protocol_service_client::ProtocolServiceClient,
    },
};
use tonic::Code;

fn incoming(subject: &str) -> RegisterIncomingRequest {
    RegisterIncomingRequest {
        municipality_istat_code: "011015".into(),
        kind: IncomingKind::Declaration as i32,
        sender_ref: "rr_0123456789abcdef0123456789abcdef".into(),
        subject: subject.into(),
        document_sha256: "ab".repeat(32),
        channel: Channel::Counter as i32,
        case_id: String::new(),
        idempotency_key: String::new(),
    }
}

/// Makes every registration whose subject starts with `ROLLBACK` fail at commit: a
/// deferred constraint trigger, installed in this test's database only, raises when the
/// transaction commits — after the number was taken, the entry written and its event
/// put in the outbox. Sequences are not transactional, so the trigger leaves behind how
/// many transactions it failed and the number the last one had taken.
async fn fail_at_commit(pool: &sqlx::PgPool) {
    for statement in [
        "create sequence routing.test_rolled_back",
        "create sequence routing.test_rolled_back_number minvalue 0 start 0",
        "create function routing.test_refuse_at_commit() returns trigger language plpgsql as $$
         begin
             perform nextval('routing.test_rolled_back');
             perform setval('routing.test_rolled_back_number', new.number);
             raise exception 'test: registration number % refused at commit', new.number;
         end $$",
        "create constraint trigger test_refuse_at_commit after insert on routing.registrations
         deferrable initially deferred for each row when (new.subject like 'ROLLBACK%')
         execute function routing.test_refuse_at_commit()",
    ] {
        sqlx::query(statement).execute(pool).await.unwrap();
    }
}

/// (transactions the trigger failed, the number the last of them had taken)
async fn rolled_back(pool: &sqlx::PgPool) -> (i64, i64) {
    sqlx::query_as(
        "select (select case when is_called then last_value else 0 end from routing.test_rolled_back),
                (select last_value from routing.test_rolled_back_number)",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_number_taken_by_a_transaction_that_then_fails_is_given_to_the_next_registration() {
    let ctx = common::context().await;
    let routing = common::start(&ctx).await;
    let pool = routing.running.db().pool().clone();
    fail_at_commit(&pool).await;
    let mut client = ProtocolServiceClient::new(routing.channel().await);
    let register = |subject: &str| common::request(incoming(subject));

    let first = client
        .register_incoming(register("Istanza 1"))
        .await
        .unwrap();
    assert_eq!(first.into_inner().registration.unwrap().number, 1);
    let failed = client
        .register_incoming(register("ROLLBACK Istanza 2"))
        .await
        .unwrap_err();
    assert_eq!(failed.code(), Code::Internal, "{failed:?}");
    assert_eq!(
        rolled_back(&pool).await,
        (1, 2),
        "the failed transaction had taken number 2"
    );
    let next = client
        .register_incoming(register("Istanza 3"))
        .await
        .unwrap();
    assert_eq!(
        next.into_inner().registration.unwrap().number,
        2,
        "number 2 is given again: no gap"
    );

    let (numbers, counter, events): (Vec<i64>, i64, i64) = sqlx::query_as(
        "select (select array_agg(number order by number) from routing.registrations),
                (select last_number from routing.protocol_counters),
                (select count(*) from routing.outbox where event_type = 'protocol.registered')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (numbers, counter, events),
        (vec![1, 2], 2, 2),
        "nothing of the failed registration remains, its event included"
    );
}

#[tokio::test]
async fn numbers_are_gapless_and_unique_across_replicas_under_concurrency() {
    let ctx = common::context().await;
    let (a, b) = tokio::join!(common::start(&ctx), common::start(&ctx));
    let pool = a.running.db().pool().clone();
    fail_at_commit(&pool).await;
    let clients = [
        ProtocolServiceClient::new(a.channel().await),
        ProtocolServiceClient::new(b.channel().await),
    ];
    let mut calls = Vec::new();
    for i in 0..120 {
        let mut client = clients[i % 2].clone();
        let mut request = incoming(&format!("Istanza {i}"));
        if i % 5 == 0 {
            // One in five takes a number, then its transaction fails at commit.
            request.subject = format!("ROLLBACK Istanza {i}");
        } else if i % 10 == 1 {
            // One in ten names a case that does not exist: refused before any number.
            request.case_id = uuid::Uuid::now_v7().to_string();
        }
        calls.push(tokio::spawn(async move {
            client.register_incoming(common::request(request)).await
        }));
    }
    let mut numbers = Vec::new();
    let (mut failed, mut refused) = (0, 0);
    for call in calls {
        match call.await.unwrap() {
            Ok(reply) => numbers.push(reply.into_inner().registration.unwrap().number),
            Err(status) if status.code() == Code::Internal => failed += 1,
            Err(status) => {
                assert_eq!(status.code(), Code::NotFound, "{status:?}");
                refused += 1;
            }
        }
    }
    assert_eq!((failed, refused), (24, 12));
    assert_eq!(
        rolled_back(&pool).await.0,
        24,
        "each of the 24 failed after taking a number"
    );
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        (1..=84).collect::<Vec<u64>>(),
        "1..84, no gap, no repeat"
    );
    let counter: i64 = sqlx::query_scalar("select last_number from routing.protocol_counters")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(counter, 84);
}

#[tokio::test]
async fn a_registration_is_immutable_and_voided_once_without_reusing_its_number() {
    let ctx = common::context().await;
    let routing = common::start(&ctx).await;
    let mut client = ProtocolServiceClient::new(routing.channel().await);
    let first = client
        .register_incoming(common::request(incoming("SCIA dehors")))
        .await
        .unwrap()
        .into_inner()
        .registration
        .unwrap();
    assert_eq!(
        (first.number, first.formatted_number.as_str(), first.year),
        (1, "0000001", 2026)
    );

    // The trigger refuses, with its own words; any other failure would not prove it.
    let refusal = |result: Result<sqlx::postgres::PgQueryResult, sqlx::Error>| {
        let error = result.expect_err("the database refuses");
        let db = error.as_database_error().expect("refused by the database");
        (db.code().unwrap().into_owned(), db.message().to_owned())
    };
    let changed = sqlx::query(
        "update routing.registrations set subject = 'altro', number = 9 where id = $1::uuid",
    )
    .bind(&first.id)
    .execute(routing.running.db().pool())
    .await;
    assert_eq!(
        refusal(changed),
        (
            "P0001".to_owned(),
            "protocol registrations are immutable; only voiding once is allowed".to_owned()
        )
    );
    let deleted = sqlx::query("delete from routing.registrations")
        .execute(routing.running.db().pool())
        .await;
    assert_eq!(
        refusal(deleted),
        (
            "P0001".to_owned(),
            "protocol registrations are never deleted".to_owned()
        )
    );
    let (subject, number): (String, i64) =
        sqlx::query_as("select subject, number from routing.registrations where id = $1::uuid")
            .bind(&first.id)
            .fetch_one(routing.running.db().pool())
            .await
            .unwrap();
    assert_eq!((subject.as_str(), number), ("SCIA dehors", 1), "unchanged");

    let void = VoidRegistrationRequest {
        registration_id: first.id.clone(),
        reason: "registrata due volte".into(),
    };
    let voided = client
        .void_registration(common::request(void.clone()))
        .await
        .unwrap()
        .into_inner()
        .registration
        .unwrap();
    assert!(voided.voided);
    let again = client
        .void_registration(common::request(void))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);

    let second = client
        .register_incoming(common::request(incoming("SCIA dehors")))
        .await
        .unwrap()
        .into_inner()
        .registration
        .unwrap();
    assert_eq!(second.number, 2, "a voided number is never reused");
}

#[tokio::test]
async fn the_year_and_the_day_are_those_of_rome() {
    let ctx = common::context().await;
    // 23:30 UTC on 31 December is 00:30 on 1 January in Rome.
    ctx.clock
        .set("2026-12-31T23:30:00Z".parse::<Timestamp>().unwrap());
    let routing = common::start(&ctx).await;
    let mut client = ProtocolServiceClient::new(routing.channel().await);
    let entry = client
        .register_incoming(common::request(incoming("Reclamo, \"urgente\"")))
        .await
        .unwrap()
        .into_inner()
        .registration
        .unwrap();
    assert_eq!((entry.year, entry.number), (2027, 1));

    let export = |day: &str| ExportRegisterRequest {
        municipality_istat_code: "011015".into(),
        day: day.into(),
    };
    let new_year = client
        .export_register(common::request(export("2027-01-01")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(new_year.registrations.len(), 1);
    let lines: Vec<&str> = new_year.csv.split("\r\n").collect();
    assert!(lines[0].starts_with("numero,anno,data_ora"));
    assert!(
        lines[1].starts_with("0000001,2027,2027-01-01T00:30:00+01:00,declaration,"),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].contains("\"Reclamo, \"\"urgente\"\"\""),
        "{}",
        lines[1]
    );
    let old_year = client
        .export_register(common::request(export("2026-12-31")))
        .await
        .unwrap()
        .into_inner();
    assert!(old_year.registrations.is_empty());
}

#[tokio::test]
async fn bad_input_names_the_field_and_writes_nothing() {
    let ctx = common::context().await;
    let routing = common::start(&ctx).await;
    let mut client = ProtocolServiceClient::new(routing.channel().await);
    let mut bad = incoming("x");
    bad.document_sha256 = "not a digest".into();
    let status = client
        .register_incoming(common::request(bad))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("document_sha256:"),
        "{}",
        status.message()
    );
    let mut bad = incoming("x");
    bad.idempotency_key = "not-a-uuid".into();
    let status = client
        .register_incoming(common::request(bad))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("idempotency_key:"));
    let count: i64 = sqlx::query_scalar("select count(*) from routing.protocol_counters")
        .fetch_one(routing.running.db().pool())
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn a_retried_registration_with_its_key_returns_the_same_number() {
    let ctx = common::context().await;
    let routing = common::start(&ctx).await;
    let mut client = ProtocolServiceClient::new(routing.channel().await);
    let mut request = incoming("Istanza");
    request.idempotency_key = uuid::Uuid::new_v4().to_string();
    let first = client
        .register_incoming(common::request(request.clone()))
        .await
        .unwrap()
        .into_inner();
    let again = client
        .register_incoming(common::request(request))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again);
    let registered: i64 = sqlx::query_scalar(
        "select count(*) from routing.outbox where event_type = 'protocol.registered'",
    )
    .fetch_one(routing.running.db().pool())
    .await
    .unwrap();
    assert_eq!(registered, 1, "one registration, one event");
}
