//! Payments through the local pagoPA simulator, against a real PostgreSQL and JetStream:
//! a debt position created at the simulator's GPD, paid as a PSP would, and its receipt
//! turned into one `PaymentReceived` event and one department callback.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use futures::future::BoxFuture;
use jiff::{SignedDuration, civil::date};
use prost::Message;
use sportello_kit::{
    Api, ErrorKind, ServiceError, UnitOfWork,
    payments::{
        Creditor, DebtPosition, Debtor, DebtorKind, GpdClient, Ledger, PaidHandlers, PaidPosition,
        PaymentOption, PaymentRequest, Payments, PaymentsConfig, PositionStatus, Purpose,
        RECEIPTS_TIMER, SegregationCode,
    },
    testing::{TestContext, TestService, pagopa::SimPagoPa},
};
use sportello_pa::pagopa::{NoticeNumber, check_digits};
use sportello_proto::common::v1::PaymentReceived;

/// The kit's test service may publish only `registry.>`, so its ledger plays a service
/// whose event domain is `registry`.
const DOMAIN: &str = "registry";
const LA_SPEZIA: &str = "011015";
const SEGREGATION: &str = "07";

/// Records each paid position as an effect, as a department would make a permit valid
/// (a plain function: the form a department's flow registers).
fn record_paid<'a>(
    uow: &'a mut UnitOfWork,
    paid: &'a PaidPosition,
) -> BoxFuture<'a, Result<(), ServiceError>> {
    Box::pin(async move {
        sqlx::query("insert into effects (source, note) values ('paid', $1)")
            .bind(&paid.purpose.id)
            .execute(uow.conn())
            .await?;
        Ok(())
    })
}

fn config(sim: &SimPagoPa) -> PaymentsConfig {
    PaymentsConfig::for_test(
        sim.url(),
        LA_SPEZIA.parse().unwrap(),
        Creditor {
            fiscal_code: "00211160114".parse().unwrap(),
            iban: "IT60X0542811101000000123456".to_owned(),
            name: "Comune della Spezia".to_owned(),
        },
        SEGREGATION.parse::<SegregationCode>().unwrap(),
    )
    .unwrap()
}

struct World {
    ctx: TestContext,
    sim: SimPagoPa,
    service: TestService,
    ledger: Ledger,
    gpd: Arc<GpdClient>,
}

async fn world() -> World {
    let ctx = common::context().await;
    let sim = SimPagoPa::start(ctx.config.clock.clone()).await;
    let config = config(&sim);
    let gpd = Arc::new(GpdClient::new(&config).unwrap());
    let (poller_config, poller_gpd) = (config.clone(), gpd.clone());
    let service = TestService::start(
        &common::SPEC,
        ctx.config.clone(),
        |service_config, listeners, shutdown| async move {
            let mut service = sportello_kit::Service::start(&common::SPEC, service_config).await?;
            let ledger = Ledger::new(service.db().clone(), DOMAIN, poller_gpd, poller_config);
            service.on_timer(
                RECEIPTS_TIMER,
                ledger
                    .poller(PaidHandlers::new().on("occupation", record_paid))
                    .unwrap(),
            );
            ledger
                .arm()
                .await
                .map_err(|e| sportello_kit::StartError::Other(format!("payments: {e}")))?;
            service.serve(Api::new(), listeners, shutdown).await
        },
    )
    .await;
    let ledger = Ledger::new(service.running.db().clone(), DOMAIN, gpd.clone(), config);
    World {
        ctx,
        sim,
        service,
        ledger,
        gpd,
    }
}

fn request(purpose_id: &str, amount_cents: i64) -> PaymentRequest {
    PaymentRequest {
        municipality: LA_SPEZIA.parse().unwrap(),
        purpose: Purpose::new("occupation", purpose_id).unwrap(),
        debtor: Debtor::new(DebtorKind::Legal, "01234567890", "Bar Centrale s.r.l.").unwrap(),
        amount_cents,
        due_date: date(2026, 12, 31),
        description: "Canone unico patrimoniale - dehors".to_owned(),
    }
}

async fn published_events(w: &World) -> Vec<(String, PaymentReceived)> {
    let js = async_nats::jetstream::new(w.ctx.nats().await);
    common::stream_messages(&js, &w.ctx.config.subject_prefix.stream("kittest"))
        .await
        .into_iter()
        .map(|m| {
            let record =
                sportello_kit::EventRecord::from_message(m.headers.as_ref(), m.payload.clone())
                    .unwrap();
            (
                m.subject.to_string(),
                PaymentReceived::decode(record.data).unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn payments_a_paid_notice_becomes_one_event_and_one_callback_even_when_listed_again() {
    let w = world().await;
    let notice = w.ledger.request(request("occ-1", 12_345)).await.unwrap();

    // A valid aux-3 notice number: the service's segregation code, check digits mod 93.
    let parsed: NoticeNumber = notice.notice_number.as_str().parse().unwrap();
    assert_eq!(parsed.aux_digit(), 3);
    assert_eq!(parsed.segregation_code(), Some(SEGREGATION));
    let digits = notice.notice_number.as_str();
    assert_eq!(format!("{:02}", check_digits(&digits[..16])), &digits[16..]);
    assert_eq!(notice.iuv.as_str(), &digits[1..]);
    assert_eq!(notice.iupd, format!("{DOMAIN}-{}", notice.iuv));

    let timers = &w.service.running.workers.timers;
    let relay = &w.service.running.workers.relay;
    assert_eq!(
        timers.run_once().await.unwrap(),
        1,
        "the armed poller fires"
    );
    assert_eq!(
        relay.run_once().await.unwrap().published,
        0,
        "nothing paid yet"
    );

    w.ctx.clock.advance(SignedDuration::from_mins(3));
    let receipt = w
        .sim
        .pay(notice.notice_number.as_str(), 12_345)
        .await
        .unwrap();
    assert_eq!(receipt.iupd, notice.iupd);

    w.ctx.clock.advance(SignedDuration::from_secs(5));
    assert_eq!(timers.run_once().await.unwrap(), 1);
    assert_eq!(relay.run_once().await.unwrap().published, 1);

    let events = published_events(&w).await;
    assert_eq!(events.len(), 1);
    let (subject, event) = &events[0];
    assert_eq!(
        subject,
        &w.ctx
            .config
            .subject_prefix
            .subject("registry.payment.received")
    );
    assert_eq!(event.iupd, notice.iupd);
    assert_eq!(event.iuv, notice.iuv.as_str());
    assert_eq!(event.notice_number, notice.notice_number.as_str());
    assert_eq!(event.receipt_id, receipt.receipt_id);
    assert_eq!(event.municipality_istat_code, LA_SPEZIA);
    assert_eq!(event.amount.as_ref().unwrap().amount_minor, 12_345);
    let purpose = event.purpose.as_ref().unwrap();
    assert_eq!(
        (purpose.kind.as_str(), purpose.id.as_str()),
        ("occupation", "occ-1")
    );
    let paid_time = event.paid_time.as_ref().unwrap();
    assert_eq!(paid_time.seconds, w.ctx.config.clock.now().as_second() - 5);
    // No debtor data in the event: neither the fiscal code nor the name.
    let bytes = event.encode_to_vec();
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("01234567890") && !text.contains("Bar Centrale"));

    let (status, receipt_id): (String, Option<String>) =
        sqlx::query_as("select status, receipt_id from payment_positions where iupd = $1")
            .bind(&notice.iupd)
            .fetch_one(w.service.running.db().pool())
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), receipt_id.as_deref()),
        ("paid", Some(receipt.receipt_id.as_str()))
    );
    assert_eq!(
        common::count_effects(w.service.running.db().pool()).await,
        1
    );
    assert_eq!(
        w.gpd
            .status(&"00211160114".parse().unwrap(), &notice.iupd)
            .await
            .unwrap(),
        PositionStatus::Paid
    );

    // The cursor trails by an hour: the next passes list the same receipt again.
    for _ in 0..2 {
        w.ctx.clock.advance(SignedDuration::from_secs(5));
        assert_eq!(timers.run_once().await.unwrap(), 1);
        assert_eq!(relay.run_once().await.unwrap().published, 0);
    }
    assert_eq!(
        published_events(&w).await.len(),
        1,
        "one receipt, one event"
    );
    assert_eq!(
        common::count_effects(w.service.running.db().pool()).await,
        1
    );
}

#[tokio::test]
async fn payments_the_simulator_refuses_a_wrong_amount_an_unknown_or_invalid_notice_and_a_second_payment()
 {
    let w = world().await;
    let notice = w.ledger.request(request("occ-2", 4_500)).await.unwrap();
    let number = notice.notice_number.as_str();

    let wrong = w.sim.pay(number, 4_499).await.unwrap_err();
    assert_eq!(wrong.status, 422, "{wrong:?}");
    assert!(wrong.detail.contains("wrong amount"), "{wrong:?}");

    let unknown = NoticeNumber::build_aux3(SEGREGATION, "9999999999999").unwrap();
    assert_eq!(
        w.sim.pay(unknown.as_str(), 4_500).await.unwrap_err().status,
        404
    );

    let mut bad_check = number.to_owned();
    let last = if bad_check.ends_with('0') { "1" } else { "0" };
    bad_check.replace_range(17..18, last);
    assert_eq!(w.sim.pay(&bad_check, 4_500).await.unwrap_err().status, 400);

    w.sim.pay(number, 4_500).await.unwrap();
    let twice = w.sim.pay(number, 4_500).await.unwrap_err();
    assert_eq!(twice.status, 409, "{twice:?}");
}

#[tokio::test]
async fn payments_a_repeated_request_or_create_returns_the_same_notice_and_one_position() {
    let w = world().await;
    let first = w.ledger.request(request("occ-3", 9_900)).await.unwrap();
    let again = w.ledger.request(request("occ-3", 9_900)).await.unwrap();
    assert_eq!(first, again);
    let rows: i64 = sqlx::query_scalar("select count(*) from payment_positions")
        .fetch_one(w.service.running.db().pool())
        .await
        .unwrap();
    assert_eq!(rows, 1);

    let other = w
        .ledger
        .request(request("occ-3", 10_000))
        .await
        .unwrap_err();
    assert_eq!(other.kind(), ErrorKind::AlreadyExists, "{other}");

    // GPD itself is idempotent on the IUPD: creating the same position again answers
    // its notice; the same IUPD with another amount is a conflict.
    let position = DebtPosition {
        iupd: first.iupd.clone(),
        creditor: config(&w.sim)
            .creditor(&LA_SPEZIA.parse().unwrap())
            .unwrap()
            .clone(),
        debtor: Debtor::new(DebtorKind::Person, "RSSMRA80A01E463K", "Mario Rossi").unwrap(),
        taxonomy: "9/0101108TS/".to_owned(),
        option: PaymentOption {
            amount_cents: 9_900,
            due_date: date(2026, 12, 31),
            description: "Canone".to_owned(),
            notice_number: first.notice_number,
        },
    };
    assert_eq!(w.gpd.create(&position).await.unwrap(), first);
    let mut changed = position.clone();
    changed.option.amount_cents = 1;
    assert!(w.gpd.create(&changed).await.is_err());
    assert_eq!(
        w.gpd
            .status(&"00211160114".parse().unwrap(), &first.iupd)
            .await
            .unwrap(),
        PositionStatus::Open
    );
    // The debtor never shows in Debug (and so in no log line).
    let debug = format!("{position:?}");
    assert!(
        !debug.contains("RSSMRA80A01E463K") && !debug.contains("Mario Rossi"),
        "{debug}"
    );
}

#[tokio::test]
async fn payments_bad_requests_name_the_field_and_an_unconfigured_ledger_says_what_to_set() {
    let w = world().await;
    let mut bad = request("occ-4", 0);
    bad.description = String::new();
    bad.due_date = date(2026, 1, 1);
    let error = w.ledger.request(bad).await.unwrap_err();
    let fields: Vec<&str> = error
        .violations()
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert_eq!(fields, ["amount_cents", "description", "due_date"]);

    let unconfigured = Ledger::unconfigured(w.service.running.db().clone(), DOMAIN);
    let error = unconfigured
        .request(request("occ-5", 100))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert!(error.message().contains("PAGOPA_GPD_URL"), "{error}");
}

#[tokio::test]
async fn payments_two_concurrent_requests_for_one_purpose_make_one_position() {
    let w = world().await;
    let (a, b) = tokio::join!(
        w.ledger.request(request("occ-6", 2_000)),
        w.ledger.request(request("occ-6", 2_000))
    );
    assert_eq!(a.unwrap(), b.unwrap());
    let (rows, unpublished): (i64, i64) = sqlx::query_as(
        "select count(*), count(*) filter (where published_at is null) from payment_positions",
    )
    .fetch_one(w.service.running.db().pool())
    .await
    .unwrap();
    assert_eq!((rows, unpublished), (1, 0));
}

#[tokio::test]
async fn payments_receipts_over_several_pages_are_all_applied_in_one_pass() {
    let w = world().await;
    let timers = &w.service.running.workers.timers;
    assert_eq!(
        timers.run_once().await.unwrap(),
        1,
        "the armed poller fires"
    );
    w.ctx.clock.advance(SignedDuration::from_mins(1));
    // GPD pages by 50: 61 receipts take two pages.
    for i in 0..61 {
        let notice = w
            .ledger
            .request(request(&format!("occ-p{i}"), 100 + i))
            .await
            .unwrap();
        w.sim
            .pay(notice.notice_number.as_str(), notice.amount_cents)
            .await
            .unwrap();
    }
    w.ctx.clock.advance(SignedDuration::from_secs(5));
    assert_eq!(timers.run_once().await.unwrap(), 1);
    let paid: i64 =
        sqlx::query_scalar("select count(*) from payment_positions where status = 'paid'")
            .fetch_one(w.service.running.db().pool())
            .await
            .unwrap();
    assert_eq!(paid, 61);
    assert_eq!(
        common::count_effects(w.service.running.db().pool()).await,
        61
    );
    assert_eq!(
        w.service
            .running
            .workers
            .relay
            .run_once()
            .await
            .unwrap()
            .published,
        61
    );
}

#[tokio::test]
async fn payments_a_position_pagopa_refuses_is_withdrawn_and_the_purpose_can_be_asked_again() {
    let w = world().await;
    let mut broken = config(&w.sim);
    // No taxonomy code: GPD (and the simulator) refuse the transfer.
    broken.taxonomy = String::new();
    let refusing = Ledger::new(
        w.service.running.db().clone(),
        DOMAIN,
        Arc::new(GpdClient::new(&broken).unwrap()),
        broken,
    );
    let error = refusing.request(request("occ-7", 700)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::FailedPrecondition, "{error}");
    assert!(error.message().contains("category"), "{error}");

    let notice = w.ledger.request(request("occ-7", 700)).await.unwrap();
    let statuses: Vec<String> =
        sqlx::query_scalar("select status from payment_positions order by created_at, id")
            .fetch_all(w.service.running.db().pool())
            .await
            .unwrap();
    assert_eq!(statuses, ["invalidated", "open"]);
    w.sim.pay(notice.notice_number.as_str(), 700).await.unwrap();
}
