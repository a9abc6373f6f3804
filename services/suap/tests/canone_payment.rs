//! A dehors granted, its canone computed from the year's tariffs, a pagoPA notice made
//! at the local simulator, paid there as a PSP would, and the permit valid once the
//! receipt arrives as `sportello.suap.payment.received` — real PostgreSQL, NATS and the
//! simulator, the receipt poller stepped by the manual clock.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Harness, SPEZIA, dehors, operator, rect};
use jiff::SignedDuration;
use sportello_pa::pagopa::NoticeNumber;
use sportello_proto::{
    common::v1::Address,
    suap::v1::{
        GetOccupationRequest, GrantOccupationRequest, OccupationStatus, RegisterBusinessRequest,
        business_service_client::BusinessServiceClient,
    },
};

#[tokio::test]
async fn a_dehors_is_valid_once_its_canone_is_paid_through_pagopa() {
    let h = Box::pin(Harness::start_paying()).await;
    h.spezia_tariffs_2027().await;
    let business = BusinessServiceClient::new(h.suap.channel().await)
        .register_business(operator().request(RegisterBusinessRequest {
            municipality_istat_code: SPEZIA.into(),
            vat_number: "01234560116".into(),
            legal_name: "Trattoria del Prione S.n.c.".into(),
            ateco_code: "56.10.11".into(),
            registered_office: Some(Address {
                street_name: "Via del Prione".into(),
                house_number: "42".into(),
                postal_code: "19121".into(),
                ..Default::default()
            }),
            idempotency_key: String::new(),
        }))
        .await
        .unwrap()
        .into_inner()
        .business
        .unwrap();
    let mut request = dehors(rect(0.0, 0.0, 6.0, 3.9), "2027-06-01", "2027-09-30");
    request.business_id = business.id.clone();
    request.requester_ref.clear();
    let mut client = h.occupations().await;
    let requested = client
        .request_occupation(operator().request(request))
        .await
        .unwrap()
        .into_inner()
        .occupation
        .unwrap();
    let granted = client
        .grant_occupation(operator().request(GrantOccupationRequest {
            occupation_id: requested.id.clone(),
            idempotency_key: String::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    // 24 m² billed × €1.20 a day × coefficient 1.5 × 122 days (the worked example of
    // tests/occupations.rs).
    let occupation = granted.occupation.unwrap();
    assert_eq!(occupation.status, OccupationStatus::Granted as i32);
    assert_eq!(
        occupation.canone.unwrap().amount.unwrap().amount_minor,
        527_040
    );
    assert_eq!(granted.payment_unavailable, "");
    let notice = granted.payment_notice.unwrap();
    assert_eq!(notice.amount_cents, 527_040);
    assert_eq!(notice.due_date, "2027-06-01", "due by the first day");
    let number: NoticeNumber = notice.notice_number.parse().unwrap();
    assert_eq!(number.aux_digit(), 3);
    assert_eq!(
        number.segregation_code(),
        Some(sportello_suap::payments::SEGREGATION_CODE)
    );

    // Paid at a PSP; the poller hears of it and the permit becomes valid.
    let sim = h.pagopa.as_ref().unwrap();
    h.ctx.clock.advance(SignedDuration::from_mins(1));
    sim.pay(&notice.notice_number, 527_040).await.unwrap();
    let workers = &h.suap.running.workers;
    for _ in 0..3 {
        h.ctx.clock.advance(SignedDuration::from_secs(6));
        workers.timers.run_once().await.unwrap();
        workers.relay.run_once().await.unwrap();
    }
    let valid = client
        .get_occupation(operator().request(GetOccupationRequest {
            occupation_id: requested.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .occupation
        .unwrap();
    assert_eq!(valid.status, OccupationStatus::Valid as i32);
    let published: Vec<String> = sqlx::query_scalar(
        "select event_type from outbox where event_type in
             ('suap.payment.received', 'suap.occupation.validated')
         and published_at is not null order by seq",
    )
    .fetch_all(h.pool())
    .await
    .unwrap();
    assert_eq!(
        published,
        ["suap.payment.received", "suap.occupation.validated"],
        "one receipt, one payment event and one validation, published"
    );
}
