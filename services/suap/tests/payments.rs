//! SUAP's payments against a real PostgreSQL, JetStream and the local pagoPA simulator:
//! a canone asked for, paid as a PSP would, and heard as `suap.payment.received`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jiff::{SignedDuration, civil::date};
use prost::Message;
use sportello_kit::{
    ErrorKind, EventRecord,
    payments::{Creditor, Debtor, DebtorKind, PaymentRequest, PaymentsConfig, Purpose},
    testing::{TestContext, TestService, pagopa::SimPagoPa},
};
use sportello_pa::pagopa::NoticeNumber;
use sportello_proto::common::v1::PaymentReceived;
use sportello_suap::{
    config::SuapConfig,
    payments::{OCCUPATION, SEGREGATION_CODE, SuapPayments},
};

const LA_SPEZIA: &str = "011015";

fn payments_config(sim: &SimPagoPa) -> PaymentsConfig {
    PaymentsConfig::for_test(
        sim.url(),
        LA_SPEZIA.parse().unwrap(),
        Creditor {
            fiscal_code: "00211160114".parse().unwrap(),
            iban: "IT60X0542811101000000123456".to_owned(),
            name: "Comune della Spezia".to_owned(),
        },
        SEGREGATION_CODE.parse().unwrap(),
    )
    .unwrap()
}

fn canone(occupation_id: &str, amount_cents: i64) -> PaymentRequest {
    PaymentRequest {
        municipality: LA_SPEZIA.parse().unwrap(),
        purpose: Purpose::new(OCCUPATION, occupation_id).unwrap(),
        debtor: Debtor::new(DebtorKind::Legal, "01234567890", "Bar Centrale s.r.l.").unwrap(),
        amount_cents,
        due_date: date(2026, 12, 31),
        description: "Canone unico patrimoniale - dehors via Prione".to_owned(),
    }
}

/// Every event on SUAP's stream, decoded as payments.
async fn payments_published(ctx: &TestContext) -> Vec<(String, PaymentReceived)> {
    use futures::StreamExt;
    let js = async_nats::jetstream::new(ctx.nats().await);
    let stream = js
        .get_stream(ctx.config.subject_prefix.stream("suap"))
        .await
        .unwrap();
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            deliver_policy: async_nats::jetstream::consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut batch = consumer.fetch().max_messages(100).messages().await.unwrap();
    let mut out = Vec::new();
    while let Some(message) = batch.next().await {
        let message = message.unwrap();
        let record =
            EventRecord::from_message(message.headers.as_ref(), message.payload.clone()).unwrap();
        if record.event_type == "suap.payment.received" {
            out.push((
                message.subject.to_string(),
                PaymentReceived::decode(record.data).unwrap(),
            ));
        }
    }
    out
}

#[tokio::test]
async fn payments_a_canone_paid_at_the_simulator_arrives_once_as_suap_payment_received() {
    let ctx = TestContext::new(&[&sportello_suap::SPEC]).await;
    let sim = SimPagoPa::start(ctx.config.clock.clone()).await;
    let config = SuapConfig {
        service: ctx.config.clone(),
        routing_url: None,
        documents: Default::default(),
        payments: Some(payments_config(&sim)),
    };
    let suap = TestService::start(&sportello_suap::SPEC, config, sportello_suap::start).await;
    let payments =
        SuapPayments::beside(suap.running.db().clone(), Some(payments_config(&sim))).unwrap();

    let notice = payments
        .request_payment(canone("occ-42", 18_750))
        .await
        .unwrap();
    let parsed: NoticeNumber = notice.notice_number.as_str().parse().unwrap();
    assert_eq!(parsed.segregation_code(), Some(SEGREGATION_CODE));
    assert_eq!(notice.iupd, format!("suap-{}", notice.iuv));
    // Asking again is a repeat, not a second position.
    assert_eq!(
        payments
            .request_payment(canone("occ-42", 18_750))
            .await
            .unwrap(),
        notice
    );

    let workers = &suap.running.workers;
    ctx.clock.advance(SignedDuration::from_mins(1));
    assert_eq!(
        sim.pay(notice.notice_number.as_str(), 18_000)
            .await
            .unwrap_err()
            .status,
        422,
        "a wrong amount is refused"
    );
    let receipt = sim
        .pay(notice.notice_number.as_str(), 18_750)
        .await
        .unwrap();
    assert_eq!(
        sim.pay(notice.notice_number.as_str(), 18_750)
            .await
            .unwrap_err()
            .status,
        409,
        "a notice is paid once"
    );

    for _ in 0..3 {
        ctx.clock.advance(SignedDuration::from_secs(6));
        workers.timers.run_once().await.unwrap();
        workers.relay.run_once().await.unwrap();
    }
    let events = payments_published(&ctx).await;
    assert_eq!(
        events.len(),
        1,
        "one receipt, one event, however often it is listed"
    );
    let (subject, event) = &events[0];
    assert_eq!(
        subject,
        &ctx.config.subject_prefix.subject("suap.payment.received")
    );
    assert_eq!(event.receipt_id, receipt.receipt_id);
    assert_eq!(event.notice_number, notice.notice_number.as_str());
    assert_eq!(event.amount.as_ref().unwrap().amount_minor, 18_750);
    assert_eq!(event.purpose.as_ref().unwrap().kind, OCCUPATION);
    assert_eq!(event.purpose.as_ref().unwrap().id, "occ-42");

    let status: String = sqlx::query_scalar("select status from payment_positions where iupd = $1")
        .bind(&notice.iupd)
        .fetch_one(suap.running.db().pool())
        .await
        .unwrap();
    assert_eq!(status, "paid");
}

#[tokio::test]
async fn payments_without_pagopa_suap_starts_and_a_request_is_unavailable_naming_what_to_set() {
    let ctx = TestContext::new(&[&sportello_suap::SPEC]).await;
    let suap = TestService::start(
        &sportello_suap::SPEC,
        ctx.config.clone(),
        sportello_suap::start,
    )
    .await;
    let payments = SuapPayments::beside(suap.running.db().clone(), None).unwrap();
    let error = payments
        .request_payment(canone("occ-1", 100))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert!(error.message().contains("PAGOPA_GPD_URL"), "{error}");
}
