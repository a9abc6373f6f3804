//! Canteen fees by income band, end to end: a schedule published, children subscribed at
//! the counter (residence from the registry, the request in the protocol register), the
//! charges priced by band and sibling reduction, each a pagoPA notice at the local
//! simulator, one paid there as a PSP would, the charge paid once the receipt arrives as
//! `sportello.education.payment.received`, and the arrears the operator sees — real
//! PostgreSQL, NATS, routing, registry and simulator, the poller stepped by the manual
//! clock.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Office, SPEZIA, Who, code_of, count, counter, education_office};
use jiff::SignedDuration;
use sportello_pa::pagopa::NoticeNumber;
use sportello_proto::{
    common::v1::Channel,
    education::v1::{
        BillingPlan, ChargeStatus, FeeBand, FeeKind, GetFamilyAccountRequest,
        GetSubscriptionRequest, IssueNoticesRequest, SetFeeScheduleRequest, SubscribeRequest,
        SubscribeResponse, fee_service_client::FeeServiceClient,
    },
    registry::v1::Sex,
};
use tonic::Code;

const ROSSI: Who = ("Rossi", "Mario", Sex::Male, "1988-03-02", "E463");
const LUCA: Who = ("Rossi", "Luca", Sex::Male, "2020-05-10", "E463");
const MARTA: Who = ("Rossi", "Marta", Sex::Female, "2018-02-11", "E463");
const BIANCHI: Who = ("Bianchi", "Giulia", Sex::Female, "1990-07-14", "E463");
const SARA: Who = ("Bianchi", "Sara", Sex::Female, "2019-11-02", "E463");
// A family from Sarzana: the register does not know them.
const GALLI: Who = ("Galli", "Marco", Sex::Male, "1986-04-04", "I449");
const PIETRO: Who = ("Galli", "Pietro", Sex::Male, "2020-06-06", "I449");

/// La Spezia's 2027/28 canteen: exempt up to an ISEE of €6,000, €35 a month up to
/// €15,000, €55 up to €30,000, €80 beyond; 20 % off for a payer's further child.
async fn canteen_schedule(office: &Office) {
    let band = |up_to: Option<i64>, monthly: i64| FeeBand {
        up_to_cents: up_to,
        monthly_cents: monthly,
    };
    let schedule = fees(office)
        .await
        .set_fee_schedule(education_office().request(SetFeeScheduleRequest {
            municipality_istat_code: SPEZIA.into(),
            kind: FeeKind::Canteen as i32,
            school_year: 2027,
            bands: vec![
                band(Some(600_000), 0),
                band(Some(1_500_000), 3_500),
                band(Some(3_000_000), 5_500),
                band(None, 8_000),
            ],
            sibling_reduction_percent: 20,
            idempotency_key: String::new(),
        }))
        .await
        .unwrap()
        .into_inner()
        .schedule
        .unwrap();
    assert_eq!(schedule.version, 1);
}

async fn fees(office: &Office) -> FeeServiceClient<sportello_kit::PeerChannel> {
    FeeServiceClient::new(office.education.channel().await)
}

/// `child`'s canteen for 2027/28, paid by `parent`, with an ISEE value in euros.
fn canteen(
    parent: Who,
    child: Who,
    isee_euros: Option<i64>,
    plan: BillingPlan,
) -> SubscribeRequest {
    SubscribeRequest {
        municipality_istat_code: SPEZIA.into(),
        kind: FeeKind::Canteen as i32,
        school_year: 2027,
        child_fiscal_code: code_of(child),
        payer_fiscal_code: code_of(parent),
        payer_name: format!("{} {}", parent.1, parent.0),
        isee_value_cents: isee_euros.map(|e| e * 100),
        dsu_protocol: isee_euros
            .map(|_| "INPS-ISEE-2027-00012345A-00".to_owned())
            .unwrap_or_default(),
        plan: plan as i32,
        channel: Channel::Counter as i32,
        idempotency_key: String::new(),
    }
}

async fn subscribe(
    office: &Office,
    request: SubscribeRequest,
) -> Result<SubscribeResponse, tonic::Status> {
    fees(office)
        .await
        .subscribe(counter("fees.subscribe").request(request))
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn canteen_fees_are_charged_by_band_through_pagopa_and_paid_by_its_receipt() {
    let office = Box::pin(Office::start_paying("2027-06-20T09:00:00Z")).await;
    office.resident_family(ROSSI, LUCA).await;
    office.resident_family(BIANCHI, SARA).await;
    // Marta lives with her father too; the reduction goes by payer.
    let mut marta = common::person(MARTA, "");
    marta.address = Some(sportello_proto::registry::v1::NewAddress {
        street_code: "PRIONE".into(),
        house_number: "14".into(),
    });
    sportello_proto::registry::v1::resident_service_client::ResidentServiceClient::new(
        office.registry.channel().await,
    )
    .register_resident(counter("resident.register").request(marta))
    .await
    .unwrap();
    canteen_schedule(&office).await;

    // ISEE €12,000: the second band, €35 a month, September to June, each due the 15th.
    let luca = subscribe(
        &office,
        canteen(ROSSI, LUCA, Some(12_000), BillingPlan::Monthly),
    )
    .await
    .unwrap();
    assert_eq!(luca.notices_unavailable, "");
    let luca = luca.subscription.unwrap();
    assert_eq!(luca.code, "MENSA27-00001");
    assert!(luca.resident);
    assert_eq!(
        (luca.band, luca.monthly_cents, luca.reduction_percent),
        (2, 3_500, 0)
    );
    assert!(!luca.protocol_number.is_empty());
    assert_eq!(luca.charges.len(), 10);
    assert_eq!(luca.charges[0].period, "2027-09");
    assert_eq!(luca.charges[0].due_date, "2027-09-15");
    assert_eq!(luca.charges[9].period, "2028-06");
    for charge in &luca.charges {
        assert_eq!(charge.amount_cents, 3_500);
        assert_eq!(charge.status, ChargeStatus::Open as i32);
        let number: NoticeNumber = charge.notice_number.parse().unwrap();
        assert_eq!(number.aux_digit(), 3);
        assert_eq!(
            number.segregation_code(),
            Some(sportello_education::fees::SEGREGATION_CODE)
        );
    }

    // Marta, the same payer's second child, same band, yearly: €35 less 20 % × 10.
    let marta = subscribe(
        &office,
        canteen(ROSSI, MARTA, Some(12_000), BillingPlan::Yearly),
    )
    .await
    .unwrap()
    .subscription
    .unwrap();
    assert_eq!(marta.code, "MENSA27-00002");
    assert_eq!(
        (marta.band, marta.monthly_cents, marta.reduction_percent),
        (2, 2_800, 20)
    );
    assert_eq!(marta.charges.len(), 1);
    assert_eq!(marta.charges[0].period, "2027/28");
    assert_eq!(marta.charges[0].amount_cents, 28_000);
    assert_eq!(marta.charges[0].due_date, "2027-09-15");

    // ISEE €5,000: exempt, nothing to pay.
    let sara = subscribe(
        &office,
        canteen(BIANCHI, SARA, Some(5_000), BillingPlan::Monthly),
    )
    .await
    .unwrap()
    .subscription
    .unwrap();
    assert_eq!((sara.band, sara.monthly_cents), (1, 0));
    assert!(sara.charges.is_empty());

    // Not resident: the last band whatever the ISEE.
    let pietro = subscribe(
        &office,
        canteen(GALLI, PIETRO, Some(5_000), BillingPlan::Monthly),
    )
    .await
    .unwrap()
    .subscription
    .unwrap();
    assert!(!pietro.resident);
    assert_eq!((pietro.band, pietro.monthly_cents), (4, 8_000));

    // September's notice paid at a PSP; the poller hears of it and the charge is paid.
    let sim = office.pagopa.as_ref().unwrap();
    office.ctx.clock.advance(SignedDuration::from_mins(1));
    sim.pay(&luca.charges[0].notice_number, 3_500)
        .await
        .unwrap();
    let workers = &office.education.running.workers;
    for _ in 0..3 {
        office.ctx.clock.advance(SignedDuration::from_secs(6));
        workers.timers.run_once().await.unwrap();
        workers.relay.run_once().await.unwrap();
    }
    let paid = fees(&office)
        .await
        .get_subscription(counter("fees.read").request(GetSubscriptionRequest {
            subscription_id: luca.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .subscription
        .unwrap();
    assert_eq!(paid.charges[0].status, ChargeStatus::Paid as i32);
    assert!(paid.charges[0].paid_time.is_some());
    assert!(
        paid.charges[1..]
            .iter()
            .all(|c| c.status == ChargeStatus::Open as i32)
    );
    let published: Vec<String> = sqlx::query_scalar(
        "select event_type from outbox where event_type = 'education.payment.received'
         and published_at is not null",
    )
    .fetch_all(office.pool())
    .await
    .unwrap();
    assert_eq!(published.len(), 1, "one receipt, one payment event");
    let payloads: Vec<Vec<u8>> =
        sqlx::query_scalar("select payload from outbox where event_type like 'education.%'")
            .fetch_all(office.pool())
            .await
            .unwrap();
    for payload in payloads {
        let text = String::from_utf8_lossy(&payload);
        assert!(
            !text.contains(&code_of(ROSSI)),
            "no payer's fiscal code in events"
        );
        assert!(!text.contains("Rossi"), "no name in events");
    }

    // On 20 October: October's €35 (due the 15th) and Marta's year (due 15 September)
    // are overdue; September is paid.
    office.set_today("2027-10-20T09:00:00Z");
    let account = fees(&office)
        .await
        .get_family_account(counter("fees.read").request(GetFamilyAccountRequest {
            municipality_istat_code: SPEZIA.into(),
            payer_fiscal_code: code_of(ROSSI),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(account.subscriptions.len(), 2);
    assert_eq!(account.arrears_cents, 3_500 + 28_000);
}

#[tokio::test]
async fn bad_subscriptions_are_refused_naming_what_is_wrong_and_write_nothing() {
    let office = Box::pin(Office::start_paying("2027-06-20T09:00:00Z")).await;
    office.resident_family(ROSSI, LUCA).await;

    // Before any schedule: nothing to price with.
    let error = subscribe(
        &office,
        canteen(ROSSI, LUCA, Some(12_000), BillingPlan::Monthly),
    )
    .await
    .unwrap_err();
    assert_eq!(error.code(), Code::FailedPrecondition);
    assert!(
        error.message().contains("nessuna tariffa"),
        "{}",
        error.message()
    );
    canteen_schedule(&office).await;

    let mut negative = canteen(ROSSI, LUCA, Some(12_000), BillingPlan::Monthly);
    negative.isee_value_cents = Some(-1);
    let error = subscribe(&office, negative).await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(
        error.message().contains("isee_value_cents"),
        "{}",
        error.message()
    );

    let mut no_name = canteen(ROSSI, LUCA, None, BillingPlan::Monthly);
    no_name.payer_name = "  ".into();
    let error = subscribe(&office, no_name).await.unwrap_err();
    assert!(
        error.message().contains("payer_name"),
        "{}",
        error.message()
    );

    let mut no_plan = canteen(ROSSI, LUCA, None, BillingPlan::Monthly);
    no_plan.plan = 0;
    let error = subscribe(&office, no_plan).await.unwrap_err();
    assert!(error.message().contains("plan"), "{}", error.message());

    // The nursery's fee without a place accepted.
    let mut nursery = canteen(ROSSI, LUCA, None, BillingPlan::Monthly);
    nursery.kind = FeeKind::Nursery as i32;
    let error = subscribe(&office, nursery).await.unwrap_err();
    assert_eq!(error.code(), Code::FailedPrecondition);
    assert_eq!(count(office.pool(), "subscriptions").await, 0);
    assert_eq!(count(office.pool(), "payment_positions").await, 0);

    // Once, then a duplicate names the first.
    subscribe(&office, canteen(ROSSI, LUCA, None, BillingPlan::Monthly))
        .await
        .unwrap();
    let error = subscribe(
        &office,
        canteen(ROSSI, LUCA, Some(9_000), BillingPlan::Yearly),
    )
    .await
    .unwrap_err();
    assert_eq!(error.code(), Code::AlreadyExists);
    assert!(
        error.message().contains("MENSA27-00001"),
        "{}",
        error.message()
    );
    assert_eq!(count(office.pool(), "subscriptions").await, 1);
    assert_eq!(count(office.pool(), "subscription_charges").await, 10);

    // After June the school year is over.
    office.set_today("2028-07-02T09:00:00Z");
    let error = subscribe(&office, canteen(BIANCHI, SARA, None, BillingPlan::Monthly))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::FailedPrecondition);
    assert!(error.message().contains("finito"), "{}", error.message());
}

#[tokio::test]
async fn without_pagopa_a_subscription_is_kept_and_its_notices_wait() {
    let office = Box::pin(Office::start("2027-06-20T09:00:00Z")).await;
    office.resident_family(ROSSI, LUCA).await;
    canteen_schedule(&office).await;
    let taken = subscribe(
        &office,
        canteen(ROSSI, LUCA, Some(20_000), BillingPlan::Monthly),
    )
    .await
    .unwrap();
    assert!(
        taken.notices_unavailable.contains("PAGOPA_GPD_URL"),
        "{}",
        taken.notices_unavailable
    );
    let subscription = taken.subscription.unwrap();
    assert_eq!((subscription.band, subscription.monthly_cents), (3, 5_500));
    assert_eq!(subscription.charges.len(), 10);
    assert!(
        subscription
            .charges
            .iter()
            .all(|c| c.notice_number.is_empty())
    );

    // Someone else's fiscal code cannot ask for the notices.
    let error = fees(&office)
        .await
        .issue_notices(counter("fees.notices").request(IssueNoticesRequest {
            subscription_id: subscription.id.clone(),
            payer_fiscal_code: code_of(BIANCHI),
            payer_name: "Giulia Bianchi".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(
        error.message().contains("payer_fiscal_code"),
        "{}",
        error.message()
    );
    let again = fees(&office)
        .await
        .issue_notices(counter("fees.notices").request(IssueNoticesRequest {
            subscription_id: subscription.id,
            payer_fiscal_code: code_of(ROSSI),
            payer_name: "Mario Rossi".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(again.notices_unavailable.contains("PAGOPA_GPD_URL"));

    // Past September's due date nothing is in arrears: no notice could be paid.
    office.set_today("2027-10-20T09:00:00Z");
    let account = fees(&office)
        .await
        .get_family_account(counter("fees.read").request(GetFamilyAccountRequest {
            municipality_istat_code: SPEZIA.into(),
            payer_fiscal_code: code_of(ROSSI),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(account.arrears_cents, 0);
    assert!(account.subscriptions[0].charges.iter().all(|c| !c.overdue));
}
