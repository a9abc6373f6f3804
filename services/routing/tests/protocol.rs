//! The protocol register: gapless numbers per municipality and year, across replicas and
//! under concurrency; immutable entries; voiding; the day's export.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use jiff::Timestamp;
use sportello_proto::{
    common::v1::Channel,
    routing::v1::{
        Direction, ExportRegisterRequest, GetRegistrationRequest, IncomingKind, OutgoingKind,
        RegisterIncomingRequest, RegisterOutgoingRequest, VoidRegistrationRequest,
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
        sender_name: String::new(),
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
        authorisation_reference: "Det. RSP n. 1/2026".into(),
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

fn outgoing(kind: OutgoingKind, recipient: &str) -> RegisterOutgoingRequest {
    RegisterOutgoingRequest {
        municipality_istat_code: "011015".into(),
        kind: kind as i32,
        recipient_ref: recipient.into(),
        subject: "Preavviso di rigetto".into(),
        document_sha256: "cd".repeat(32),
        channel: Channel::Pec as i32,
        case_id: String::new(),
        idempotency_key: String::new(),
        recipient_name: String::new(),
    }
}

/// DPR 445/2000 art. 53 c. 5: outgoing documents are registered too, with their
/// recipient, in the same gapless sequence as incoming ones; the day's export says which
/// way each went and to whom.
#[tokio::test]
async fn outgoing_documents_are_registered_with_their_recipient_dpr_445_2000_art_53_c5() {
    let ctx = common::context().await;
    let routing = common::start(&ctx).await;
    let mut client = ProtocolServiceClient::new(routing.channel().await);
    let declaration = client
        .register_incoming(common::request(incoming("Dichiarazione di residenza")))
        .await
        .unwrap()
        .into_inner()
        .registration
        .unwrap();
    let mut request = outgoing(
        OutgoingKind::NoticeOfReasonsAgainst,
        "rr_0123456789abcdef0123456789abcdef",
    );
    request.idempotency_key = uuid::Uuid::new_v4().to_string();
    let notice = client
        .register_outgoing(common::request(request.clone()))
        .await
        .unwrap()
        .into_inner()
        .registration
        .unwrap();
    assert_eq!(
        (
            notice.number,
            notice.direction(),
            notice.outgoing_kind(),
            notice.kind(),
            notice.recipient_ref.as_str(),
            notice.sender_ref.as_str(),
        ),
        (
            2,
            Direction::Outgoing,
            OutgoingKind::NoticeOfReasonsAgainst,
            IncomingKind::Unspecified,
            "rr_0123456789abcdef0123456789abcdef",
            "gateway",
        ),
        "one sequence for both directions; the sender is the calling service (office)"
    );
    assert_eq!(declaration.direction(), Direction::Incoming);
    let again = client
        .register_outgoing(common::request(request))
        .await
        .unwrap()
        .into_inner()
        .registration
        .unwrap();
    assert_eq!(again, notice, "a retry with its key registers nothing new");
    let communication = client
        .register_outgoing(common::request(outgoing(
            OutgoingKind::Communication,
            "questura:SP",
        )))
        .await
        .unwrap()
        .into_inner()
        .registration
        .unwrap();
    assert_eq!(communication.number, 3);

    // A person's fiscal code is never a recipient reference; nothing is written.
    let status = client
        .register_outgoing(common::request(outgoing(
            OutgoingKind::Rejection,
            "RSSMRA80A01H501U",
        )))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("recipient_ref:"), "{status:?}");
    let mut unspecified = outgoing(OutgoingKind::Rejection, "questura:SP");
    unspecified.kind = 0;
    let status = client
        .register_outgoing(common::request(unspecified))
        .await
        .unwrap_err();
    assert!(status.message().starts_with("kind:"), "{status:?}");

    let day = rome_day(&declaration);
    let export = client
        .export_register(common::request(ExportRegisterRequest {
            municipality_istat_code: "011015".into(),
            day,
        }))
        .await
        .unwrap()
        .into_inner();
    let lines: Vec<&str> = export.csv.split("\r\n").collect();
    assert!(lines[0].ends_with(
        ",verso,destinatario,annullata_da,autorizzazione_annullamento,nome_mittente,nome_destinatario"
    ));
    assert!(lines[1].contains(",entrata,,,"), "{}", lines[1]);
    assert!(
        lines[2].contains(",notice_of_reasons_against,gateway,")
            && lines[2].ends_with(",uscita,rr_0123456789abcdef0123456789abcdef,,,,"),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].ends_with(",uscita,questura:SP,,,,"),
        "{}",
        lines[3]
    );
    let events: i64 = sqlx::query_scalar(
        "select count(*) from routing.outbox where event_type = 'protocol.registered'",
    )
    .fetch_one(routing.running.db().pool())
    .await
    .unwrap();
    assert_eq!(events, 3);
}

/// The Europe/Rome day an entry was registered on.
fn rome_day(entry: &sportello_proto::routing::v1::Registration) -> String {
    let seconds = entry.register_time.unwrap().seconds;
    sportello_pa::calendar::rome::date_of(Timestamp::from_second(seconds).unwrap()).to_string()
}

/// DPR 445/2000 art. 54 (and the AgID guidelines): an annulment records who annulled,
/// when, why and the reference of its authorisation; one without the authorisation
/// reference is refused naming the field, and nothing is written.
#[tokio::test]
async fn an_annulment_records_who_when_why_and_its_authorisation_dpr_445_2000_art_54() {
    let ctx = common::context().await;
    let routing = common::start(&ctx).await;
    let pool = routing.running.db().pool().clone();
    let mut client = ProtocolServiceClient::new(routing.channel().await);
    let entry = client
        .register_incoming(common::request(incoming("Istanza doppia")))
        .await
        .unwrap()
        .into_inner()
        .registration
        .unwrap();

    let mut void = VoidRegistrationRequest {
        registration_id: entry.id.clone(),
        reason: "registrata due volte".into(),
        authorisation_reference: "  ".into(),
    };
    let status = client
        .void_registration(common::request(void.clone()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("authorisation_reference:"),
        "{status:?}"
    );
    let (voided, events): (bool, i64) = sqlx::query_as(
        "select (select voided_at is not null from routing.registrations where id = $1::uuid),
                (select count(*) from routing.outbox where event_type = 'protocol.voided')",
    )
    .bind(&entry.id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((voided, events), (false, 0), "nothing written");

    ctx.clock.advance(jiff::SignedDuration::from_mins(5));
    void.authorisation_reference = "Det. RSP n. 12 del 2026-12-07".into();
    let annulled = client
        .void_registration(common::request(void))
        .await
        .unwrap()
        .into_inner()
        .registration
        .unwrap();
    let at = entry.register_time.unwrap().seconds + 300;
    assert_eq!(
        (
            annulled.voided,
            annulled.voided_by.as_str(),
            annulled.void_reason.as_str(),
            annulled.void_authorisation_reference.as_str(),
            annulled.void_time.map(|t| t.seconds),
        ),
        (
            true,
            "operator:op-1",
            "registrata due volte",
            "Det. RSP n. 12 del 2026-12-07",
            Some(at),
        )
    );
    let read = client
        .get_registration(common::request(GetRegistrationRequest {
            registration_id: entry.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .registration
        .unwrap();
    assert_eq!(read, annulled, "what was recorded is what is read back");

    // The database refuses an annulment without who and authorisation from any writer.
    let second = client
        .register_incoming(common::request(incoming("Altra istanza")))
        .await
        .unwrap()
        .into_inner()
        .registration
        .unwrap();
    let bare = sqlx::query(
        "update routing.registrations set voided_at = now(), void_reason = 'x' where id = $1::uuid",
    )
    .bind(&second.id)
    .execute(&pool)
    .await;
    let error = bare.expect_err("the constraint refuses");
    assert_eq!(
        error.as_database_error().and_then(|e| e.constraint()),
        Some("registrations_annulment_complete")
    );
    let export = client
        .export_register(common::request(ExportRegisterRequest {
            municipality_istat_code: "011015".into(),
            day: rome_day(&entry),
        }))
        .await
        .unwrap()
        .into_inner();
    let row = export.csv.split("\r\n").nth(1).unwrap().to_owned();
    assert!(
        row.ends_with(",entrata,,operator:op-1,Det. RSP n. 12 del 2026-12-07,,"),
        "{row}"
    );
}

/// DPR 445/2000 art. 53 and 57: year, number and date of an entry come from one reading
/// of the clock, taken after the municipality's register lock. A registration that
/// waits on the lock across midnight of 31 December (Europe/Rome) gets the year and
/// number of the date it is finally written with; and an entry at exactly 00:00 on 1
/// January in Rome (23:00 UTC) is number 1 of the new year.
#[tokio::test]
async fn year_and_number_come_from_one_clock_reading_after_the_register_lock_dpr_445_2000_art_53() {
    let ctx = common::context().await;
    // 23:59:59 on 31 December 2026 in Rome.
    ctx.clock
        .set("2026-12-31T22:59:59Z".parse::<Timestamp>().unwrap());
    let routing = common::start(&ctx).await;
    let pool = routing.running.db().pool().clone();
    let mut client = ProtocolServiceClient::new(routing.channel().await);
    let last_of_2026 = client
        .register_incoming(common::request(incoming("Ultima del 2026")))
        .await
        .unwrap()
        .into_inner()
        .registration
        .unwrap();
    assert_eq!((last_of_2026.year, last_of_2026.number), (2026, 1));

    // Another writer holds La Spezia's register lock; a registration begins (its unit of
    // work reads "now" still in 2026) and waits.
    let mut holder = pool.begin().await.unwrap();
    sqlx::query(sportello_routing::protocol::store::REGISTER_LOCK)
        .bind("011015")
        .execute(&mut *holder)
        .await
        .unwrap();
    let mut waiting_client = client.clone();
    let waiting = tokio::spawn(async move {
        waiting_client
            .register_incoming(common::request(incoming("Alla mezzanotte")))
            .await
    });
    // Wait until it is blocked on the lock, read from PostgreSQL, not guessed by a sleep.
    loop {
        let blocked: i64 = sqlx::query_scalar(
            "select count(*) from pg_stat_activity
             where wait_event_type = 'Lock' and wait_event = 'advisory'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if blocked > 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    // Midnight in Rome: 00:00:00 on 1 January 2027.
    ctx.clock
        .set("2026-12-31T23:00:00Z".parse::<Timestamp>().unwrap());
    holder.commit().await.unwrap();
    let first_of_2027 = waiting
        .await
        .unwrap()
        .unwrap()
        .into_inner()
        .registration
        .unwrap();
    assert_eq!(
        (
            first_of_2027.year,
            first_of_2027.number,
            first_of_2027.register_time.map(|t| t.seconds),
        ),
        (
            2027,
            1,
            Some(
                "2026-12-31T23:00:00Z"
                    .parse::<Timestamp>()
                    .unwrap()
                    .as_second()
            )
        ),
        "the year, the number and the time of the date it was written with"
    );
    let export = client
        .export_register(common::request(ExportRegisterRequest {
            municipality_istat_code: "011015".into(),
            day: "2027-01-01".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(
        export
            .csv
            .split("\r\n")
            .nth(1)
            .unwrap()
            .starts_with("0000001,2027,2027-01-01T00:00:00+01:00,"),
        "{}",
        export.csv
    );
}

// --- The sender by name (DPR 445/2000 art. 53 c. 1 lett. c) -------------------------

const SENDER: &str = "Mario Rossi";
const RECIPIENT: &str = "Questura della Spezia";

/// A person of La Spezia's records office (ufficio protocollo).
fn as_protocol_office<T>(message: T) -> tonic::Request<T> {
    sportello_kit::CallContext::new(
        "gateway",
        "operator:prot-1",
        common::LA_SPEZIA,
        "protocol.register",
    )
    .unwrap()
    .with_roles(&[sportello_kit::Role::Protocollo])
    .request(message)
}

/// A manager of La Spezia: reads everything of the municipality, but not the names.
fn as_manager<T>(message: T) -> tonic::Request<T> {
    sportello_kit::CallContext::new(
        "gateway",
        "operator:mgr-1",
        common::LA_SPEZIA,
        "floor.watch",
    )
    .unwrap()
    .with_roles(&[sportello_kit::Role::Manager])
    .request(message)
}

/// An incoming declaration naming its sender and an outgoing notice naming its
/// recipient, registered by a department's system acting as itself.
async fn register_named(
    client: &mut ProtocolServiceClient<sportello_kit::PeerChannel>,
) -> (
    sportello_proto::routing::v1::Registration,
    sportello_proto::routing::v1::Registration,
) {
    let mut declaration = incoming("Dichiarazione di cambio di residenza");
    declaration.sender_name = SENDER.into();
    let declaration = client
        .register_incoming(common::as_service(declaration))
        .await
        .unwrap()
        .into_inner()
        .registration
        .unwrap();
    let mut notice = outgoing(OutgoingKind::Communication, "questura:SP");
    notice.recipient_name = RECIPIENT.into();
    let notice = client
        .register_outgoing(common::as_service(notice))
        .await
        .unwrap()
        .into_inner()
        .registration
        .unwrap();
    (declaration, notice)
}

/// (actor, purpose, action, registration ids) of every audited read of names, in order.
async fn name_reads(pool: &sqlx::PgPool) -> Vec<(String, String, String, Vec<uuid::Uuid>)> {
    sqlx::query_as(
        "select actor, purpose, action, registration_ids from routing.protocol_name_audit
         order by at, id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// DPR 445/2000 art. 53 c. 1 lett. c: the register names the sender (and, c. 5, the
/// recipient of an outgoing document). The protocol role reads the names back, in
/// GetRegistration and in the day's register for preservation (entries and CSV), and
/// every such read leaves an audit row with who, when, for what and which entries.
#[tokio::test]
async fn the_protocol_role_reads_the_sender_by_name_and_each_read_is_audited_dpr_445_2000_art_53() {
    let ctx = common::context().await;
    let routing = common::start(&ctx).await;
    let pool = routing.running.db().pool().clone();
    let mut client = ProtocolServiceClient::new(routing.channel().await);
    let (declaration, notice) = register_named(&mut client).await;
    assert_eq!(
        (
            declaration.sender_name.as_str(),
            notice.recipient_name.as_str()
        ),
        ("", ""),
        "the registering system gets the number, not the names back"
    );
    assert!(name_reads(&pool).await.is_empty());

    let read = client
        .get_registration(as_protocol_office(GetRegistrationRequest {
            registration_id: declaration.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .registration
        .unwrap();
    assert_eq!(
        (read.sender_name.as_str(), read.sender_ref.as_str()),
        (SENDER, declaration.sender_ref.as_str())
    );
    let declaration_id: uuid::Uuid = declaration.id.parse().unwrap();
    let notice_id: uuid::Uuid = notice.id.parse().unwrap();
    assert_eq!(
        name_reads(&pool).await,
        vec![(
            "operator:prot-1".to_owned(),
            "protocol.register".to_owned(),
            "registration.get".to_owned(),
            vec![declaration_id],
        )]
    );

    let export = client
        .export_register(as_protocol_office(ExportRegisterRequest {
            municipality_istat_code: common::LA_SPEZIA.into(),
            day: rome_day(&declaration),
        }))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<(&str, &str)> = export
        .registrations
        .iter()
        .map(|r| (r.sender_name.as_str(), r.recipient_name.as_str()))
        .collect();
    assert_eq!(names, vec![(SENDER, ""), ("", RECIPIENT)]);
    let lines: Vec<&str> = export.csv.split("\r\n").collect();
    assert!(
        lines[0].ends_with(",nome_mittente,nome_destinatario"),
        "{}",
        lines[0]
    );
    assert!(lines[1].ends_with(",Mario Rossi,"), "{}", lines[1]);
    assert!(
        lines[2].ends_with(",questura:SP,,,,Questura della Spezia"),
        "{}",
        lines[2]
    );
    let reads = name_reads(&pool).await;
    assert_eq!(reads.len(), 2, "one row per read");
    assert_eq!(
        (reads[1].2.as_str(), reads[1].3.clone()),
        ("register.export", vec![declaration_id, notice_id])
    );

    // The audit trail is append-only, whoever asks.
    for statement in [
        "update routing.protocol_name_audit set actor = 'operator:someone-else'",
        "delete from routing.protocol_name_audit",
        "truncate routing.protocol_name_audit",
    ] {
        assert!(
            sqlx::query(statement).execute(&pool).await.is_err(),
            "{statement}"
        );
    }
    assert_eq!(name_reads(&pool).await.len(), 2);
    // And chained: both reads, in order, verify.
    let chain = sportello_kit::audit::verify(&pool, "routing", "protocol_name_audit")
        .await
        .unwrap();
    assert!(chain.is_intact() && chain.rows == 2, "{chain}");
}

/// DPR 445/2000 art. 53 and the design's "personal data stays home": everyone but the
/// protocol role keeps the pseudonymous references — a manager, a department system,
/// the records office of another municipality — and their reads are not audited, since
/// they disclose no name.
#[tokio::test]
async fn other_roles_get_the_pseudonym_only_and_no_audit_row_dpr_445_2000_art_53() {
    let ctx = common::context().await;
    let routing = common::start(&ctx).await;
    let pool = routing.running.db().pool().clone();
    let mut client = ProtocolServiceClient::new(routing.channel().await);
    let (declaration, _) = register_named(&mut client).await;
    let get = || GetRegistrationRequest {
        registration_id: declaration.id.clone(),
    };

    for request in [
        as_manager(get()),
        common::as_service(get()),
        common::request(get()),
    ] {
        let read = client
            .get_registration(request)
            .await
            .unwrap()
            .into_inner()
            .registration
            .unwrap();
        assert_eq!(read.sender_name, "");
        assert_eq!(read.sender_ref, "rr_0123456789abcdef0123456789abcdef");
    }
    let export = client
        .export_register(as_manager(ExportRegisterRequest {
            municipality_istat_code: common::LA_SPEZIA.into(),
            day: rome_day(&declaration),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(
        export
            .registrations
            .iter()
            .all(|r| r.sender_name.is_empty() && r.recipient_name.is_empty())
    );
    assert!(!export.csv.contains(SENDER) && !export.csv.contains(RECIPIENT));
    assert!(export.csv.split("\r\n").nth(1).unwrap().ends_with(",,"));

    // The records office of another municipality does not even learn the entry exists.
    let elsewhere = sportello_kit::CallContext::new(
        "gateway",
        "operator:prot-9",
        "010025",
        "protocol.register",
    )
    .unwrap()
    .with_roles(&[sportello_kit::Role::Protocollo])
    .request(get());
    let status = client.get_registration(elsewhere).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert!(
        name_reads(&pool).await.is_empty(),
        "nothing disclosed, nothing audited"
    );
}

/// DPR 445/2000 art. 53 with the design's exception: the name is kept, but only sealed
/// (AES-256-GCM under the key named beside it). Neither its column, nor the row as
/// text, nor the event, nor the stored idempotent response holds it in the clear.
#[tokio::test]
async fn the_name_is_stored_encrypted_never_in_plaintext_dpr_445_2000_art_53() {
    let ctx = common::context().await;
    let routing = common::start(&ctx).await;
    let pool = routing.running.db().pool().clone();
    let mut client = ProtocolServiceClient::new(routing.channel().await);
    let mut request = incoming("Dichiarazione di cambio di residenza");
    request.sender_name = SENDER.into();
    request.idempotency_key = uuid::Uuid::new_v4().to_string();
    let registration = client
        .register_incoming(common::as_service(request))
        .await
        .unwrap()
        .into_inner()
        .registration
        .unwrap();

    let (sealed, key, row): (Vec<u8>, String, String) = sqlx::query_as(
        "select sender_name_sealed, sender_name_key, r::text from routing.registrations r
         where id = $1::uuid",
    )
    .bind(&registration.id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(key, "process", "the id of the key that sealed it");
    assert_eq!(
        sealed.len(),
        12 + SENDER.len() + 16,
        "nonce, ciphertext, tag"
    );
    for needle in [SENDER, "Mario", "Rossi"] {
        assert!(
            !sealed.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} in the sealed bytes"
        );
        assert!(!row.contains(needle), "{needle} in the row");
    }
    let elsewhere: i64 = sqlx::query_scalar(
        "select (select count(*) from routing.outbox
                  where position(convert_to('Rossi', 'UTF8') in payload) > 0)
              + (select count(*) from routing.idempotency_keys
                  where position(convert_to('Rossi', 'UTF8') in response) > 0)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        elsewhere, 0,
        "neither the event nor the replayable response names the sender"
    );
}

/// DPR 445/2000 art. 53 c. 1 lett. c: a name is a name — 1-200 characters, no control
/// characters. A bad one is refused with INVALID_ARGUMENT naming the field, and nothing
/// is registered (no number taken, no event).
#[tokio::test]
async fn a_bad_name_is_refused_naming_the_field_and_nothing_is_written_dpr_445_2000_art_53() {
    let ctx = common::context().await;
    let routing = common::start(&ctx).await;
    let pool = routing.running.db().pool().clone();
    let mut client = ProtocolServiceClient::new(routing.channel().await);
    for bad in ["Mario\nRossi", "Mario\u{7}Rossi", &"R".repeat(201), "  "] {
        let mut request = incoming("Dichiarazione");
        request.sender_name = bad.into();
        let status = client
            .register_incoming(common::as_service(request))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{bad:?}");
        assert!(status.message().starts_with("sender_name:"), "{status:?}");

        let mut request = outgoing(OutgoingKind::Rejection, "questura:SP");
        request.recipient_name = bad.into();
        let status = client
            .register_outgoing(common::as_service(request))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{bad:?}");
        assert!(
            status.message().starts_with("recipient_name:"),
            "{status:?}"
        );
    }
    let written: (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from routing.registrations),
                (select count(*) from routing.protocol_counters),
                (select count(*) from routing.outbox where event_type = 'protocol.registered')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(written, (0, 0, 0));
    // 200 characters are accepted.
    let mut request = incoming("Dichiarazione");
    request.sender_name = "è".repeat(200);
    client
        .register_incoming(common::as_service(request))
        .await
        .unwrap();
}
