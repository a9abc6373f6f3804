//! Bad input gets the precise gRPC code, and nothing changes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Desk, RESIDENCE, SCHOOL, as_kiosk, as_operator, settings};
use sportello_proto::{
    common::v1::{Address, Channel},
    routing::v1::{
        CallNextRequest, CallTicketRequest, CompleteRequest, CreateSiteRequest,
        GetServiceTypeRequest, IssueTicketRequest, OpenCaseRequest, Presence, PriorityCategory,
        ServiceOutcome, Tier, UpsertServiceTypeRequest,
        catalogue_service_client::CatalogueServiceClient, site_service_client::SiteServiceClient,
    },
};
use tonic::{Code, Status};

/// Rows that any change would add to: cases, history lines, events.
async fn rows(desk: &Desk) -> (i64, i64, i64) {
    sqlx::query_as(
        "select (select count(*) from routing.cases), (select count(*) from routing.case_history),
                (select count(*) from routing.outbox)",
    )
    .fetch_one(desk.pool())
    .await
    .unwrap()
}

/// Runs a call that must fail with `code`, and checks it changed nothing.
async fn refused<T>(
    desk: &Desk,
    code: Code,
    call: impl std::future::Future<Output = Result<T, Status>>,
) -> Status {
    let before = rows(desk).await;
    let status = match call.await {
        Ok(_) => panic!("expected {code:?}"),
        Err(status) => status,
    };
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(rows(desk).await, before, "nothing changed after {status:?}");
    status
}

#[tokio::test]
async fn each_bad_request_gets_its_code_and_changes_nothing() {
    let mut desk = Desk::open(3, settings(20, 2)).await;
    desk.operator("m.rossi", Tier::InfoDesk, &[("anagrafe", 1)], 1)
        .await;
    desk.operator("p.neri", Tier::InfoDesk, &[("anagrafe", 1)], 2)
        .await;
    desk.ticket(&[RESIDENCE], PriorityCategory::None).await;
    desk.ticket(&[SCHOOL], PriorityCategory::None).await;
    let held = desk.call_next("p.neri").await.unwrap().case.unwrap();
    let mut cases = desk.cases.clone();

    // An unknown service code.
    let unknown = IssueTicketRequest {
        site_id: desk.site_id.clone(),
        service_codes: vec!["registry.unicorn_licence".into()],
        ..Default::default()
    };
    refused(&desk, Code::NotFound, cases.issue_ticket(as_kiosk(unknown))).await;

    // An operator without the skill calls a school ticket by its number.
    let school = CallTicketRequest {
        operator_id: "m.rossi".into(),
        ticket: "B001".into(),
    };
    refused(
        &desk,
        Code::PermissionDenied,
        cases.call_ticket(as_operator("m.rossi", school)),
    )
    .await;

    // Completing a case one does not hold.
    let not_mine = CompleteRequest {
        operator_id: "m.rossi".into(),
        case_id: held.id.clone(),
        outcome_code: "issued".into(),
        appointment: None,
    };
    refused(
        &desk,
        Code::PermissionDenied,
        cases.complete(as_operator("m.rossi", not_mine)),
    )
    .await;

    // Completing without an outcome.
    let no_outcome = CompleteRequest {
        operator_id: "p.neri".into(),
        case_id: held.id.clone(),
        outcome_code: String::new(),
        appointment: None,
    };
    let status = refused(
        &desk,
        Code::InvalidArgument,
        cases.complete(as_operator("p.neri", no_outcome)),
    )
    .await;
    assert_eq!(status.message(), "outcome_code: is required");

    // A malformed idempotency key.
    let open = OpenCaseRequest {
        municipality_istat_code: "011015".into(),
        service_code: RESIDENCE.into(),
        channel: Channel::Web as i32,
        idempotency_key: "twice-please".into(),
        ..Default::default()
    };
    let status = refused(
        &desk,
        Code::InvalidArgument,
        cases.open_case(common::as_service(open)),
    )
    .await;
    assert!(
        status.message().starts_with("idempotency_key:"),
        "{}",
        status.message()
    );

    // A service that cannot be requested through the channel (identity cards are by appointment).
    let by_appointment = IssueTicketRequest {
        site_id: desk.site_id.clone(),
        service_codes: vec!["registry.identity_card".into()],
        ..Default::default()
    };
    refused(
        &desk,
        Code::FailedPrecondition,
        cases.issue_ticket(as_kiosk(by_appointment)),
    )
    .await;

    // Acting as another operator.
    let impostor = CallNextRequest {
        operator_id: "p.neri".into(),
    };
    refused(
        &desk,
        Code::PermissionDenied,
        cases.call_next(as_operator("m.rossi", impostor)),
    )
    .await;

    // A ticket from another site.
    let other_site = SiteServiceClient::new(desk.routing.channel().await)
        .create_site(common::request(CreateSiteRequest {
            municipality_istat_code: "011015".into(),
            code: "via-costantini".into(),
            name: "Via Costantini".into(),
            address: Some(Address {
                street_name: "Via Costantini".into(),
                house_number: "4".into(),
                postal_code: "19125".into(),
                ..Default::default()
            }),
            counter_count: 2,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .site
        .unwrap();
    let foreign = cases
        .issue_ticket(as_kiosk(IssueTicketRequest {
            site_id: other_site.id,
            service_codes: vec![RESIDENCE.into()],
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let elsewhere = CallTicketRequest {
        operator_id: "m.rossi".into(),
        ticket: foreign.ticket.unwrap().id,
    };
    refused(
        &desk,
        Code::FailedPrecondition,
        cases.call_ticket(as_operator("m.rossi", elsewhere)),
    )
    .await;

    // Calling while on break.
    desk.presence("m.rossi", Presence::Break).await.unwrap();
    let on_break = CallNextRequest {
        operator_id: "m.rossi".into(),
    };
    let status = refused(
        &desk,
        Code::FailedPrecondition,
        cases.call_next(as_operator("m.rossi", on_break)),
    )
    .await;
    assert!(status.message().contains("break"), "{}", status.message());

    // Going on a break with a case in hand.
    let status = desk.presence("p.neri", Presence::Break).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
}

/// An administrator's service type with a bad outcome is refused naming the entry and its
/// field, and the catalogue keeps what it had; the database's own check refuses what
/// slipped past the service.
#[tokio::test]
async fn a_service_type_with_a_bad_outcome_is_refused_naming_it() {
    let desk = Desk::open(1, settings(20, 2)).await;
    let mut catalogue = CatalogueServiceClient::new(desk.routing.channel().await);
    let reader = catalogue.clone();
    let read = || {
        let mut catalogue = reader.clone();
        async move {
            catalogue
                .get_service_type(common::request(GetServiceTypeRequest {
                    municipality_istat_code: "011015".into(),
                    code: "registry.residence_address_check".into(),
                }))
                .await
                .unwrap()
                .into_inner()
                .service_type
                .unwrap()
        }
    };
    let stored = read().await;
    assert_eq!(stored.outcomes.len(), 2, "the shipped outcomes");
    let outcome = |code: &str, name: &str| ServiceOutcome {
        code: code.into(),
        name: name.into(),
    };
    let cases: [(&str, Vec<ServiceOutcome>); 4] = [
        (
            "service_type.outcomes[1].code",
            vec![outcome("check_passed", "Sì"), outcome("Check Failed", "No")],
        ),
        (
            "service_type.outcomes[1].code",
            vec![outcome("check_passed", "Sì"), outcome("check_passed", "No")],
        ),
        (
            "service_type.outcomes[0].name",
            vec![outcome("check_passed", "  "), outcome("check_failed", "No")],
        ),
        (
            "service_type.outcomes",
            (0..21)
                .map(|i| outcome(&format!("outcome_{i}"), "Esito"))
                .collect(),
        ),
    ];
    for (field, outcomes) in cases {
        let mut bad = stored.clone();
        bad.outcomes = outcomes;
        let status = refused(
            &desk,
            Code::InvalidArgument,
            catalogue.upsert_service_type(common::request(UpsertServiceTypeRequest {
                service_type: Some(bad),
            })),
        )
        .await;
        assert!(
            status.message().starts_with(&format!("{field}: ")),
            "{field}: {}",
            status.message()
        );
        assert_eq!(read().await, stored, "the catalogue kept what it had");
    }

    // The table holds the invariant itself: two codes the same, or a code and no name.
    for (codes, names) in [
        ("{check_passed,check_passed}", "{Sì,No}"),
        ("{check_passed}", "{}"),
        ("{Check}", "{Sì}"),
    ] {
        let error = sqlx::query(
            "update routing.service_types set outcome_codes = $1::text[], outcome_names = $2::text[]
              where code = 'registry.residence_address_check'",
        )
        .bind(codes)
        .bind(names)
        .execute(desk.pool())
        .await
        .unwrap_err();
        assert!(
            error.to_string().contains("service_types_outcomes_valid"),
            "{codes} {names}: {error}"
        );
    }
}
