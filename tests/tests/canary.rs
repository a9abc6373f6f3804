//! Issue 19 point 7, the canary: a known fiscal code, name and medical reference, driven
//! through full journeys with the whole stack in-process — a kiosk ticket with a
//! disability priority called and completed at the counter, a residence certificate,
//! a change of residence declared and checked, a disabled parking badge (CUDE) on a
//! medical certification, a nursery enrolment for the canary's child — appear in no log
//! line, no trace span, no metric, no message of any JetStream stream, and nowhere in the
//! JetStream store read back as bytes (DESIGN: "Personal data stays home"; fiscal codes,
//! names and health references never in logs or spans).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use sportello_gateway::{config::DEMO_MUNICIPALITY, demo};
use sportello_kit::{CallContext, Role};
use sportello_proto::{
    common::v1::Channel,
    education::v1::{
        Criteria, IncomeBand, OpenWindowRequest, SchoolLevel,
        enrolment_service_client::EnrolmentServiceClient,
    },
    mobility::v1::{
        BadgeState, IssueBadgeRequest, PlateInput, ReadCertificationRequest,
        badge_service_client::BadgeServiceClient,
    },
    registry::v1::{
        NewAddress, RegisterResidentRequest, RegisterStreetRequest, RegistrationGround,
        Relationship, Sex, resident_service_client::ResidentServiceClient,
        street_service_client::StreetServiceClient,
    },
};
use sportello_tests::{
    canary::{self, Capture, Leak, Needles},
    http::Api,
    stack::Stack,
};

const SPEZIA: &str = "011015";
/// The canary's surname and given name: distinctive, so that a match is a leak.
const SURNAME: &str = "Zeffirelli";
const GIVEN: &str = "Canarino";
/// The canary's daughter, enrolled at the nursery.
const CHILD_GIVEN: &str = "Fringuella";
/// The medical certification behind the disabled badge.
const MEDICAL: &str = "ASL5-MEDLEG-ZEFF-4417";

/// The fiscal code the rules give (check character included).
fn fiscal_code(name: &str, sex: sportello_pa::Sex, birth: &str) -> String {
    sportello_pa::fiscal_code::encode(&sportello_pa::fiscal_code::Person {
        surname: SURNAME,
        name,
        sex,
        birth_date: birth.parse().unwrap(),
        birthplace: "E463".parse().unwrap(),
    })
    .unwrap()
    .as_str()
    .to_owned()
}

/// An operator at a multi-purpose counter, through the gateway.
fn counter(purpose: &str) -> CallContext {
    CallContext::new("gateway", "operator:poli.bianchi", SPEZIA, purpose)
        .unwrap()
        .with_roles(&[Role::Polivalente])
}

/// A person of `department` at its desk.
fn office(department: &str, role: Role, purpose: &str) -> CallContext {
    CallContext::new("gateway", "operator:uff-1", SPEZIA, purpose)
        .unwrap()
        .with_roles(&[role])
        .with_department(Some(department))
}

/// Registers `given` Zeffirelli in La Spezia: a new family at Via del Prione 12, or a
/// child of `family`.
fn resident(
    given: &str,
    sex: Sex,
    birth: &str,
    code: &str,
    family: &str,
) -> RegisterResidentRequest {
    RegisterResidentRequest {
        municipality_istat_code: SPEZIA.into(),
        fiscal_code: code.into(),
        surname: SURNAME.into(),
        given_names: given.into(),
        sex: sex as i32,
        birth_date: birth.into(),
        birthplace_code: "E463".into(),
        citizenship: "IT".into(),
        address: family.is_empty().then(|| NewAddress {
            street_code: "PRIONE".into(),
            house_number: "12".into(),
        }),
        family_id: family.into(),
        relationship: if family.is_empty() {
            0
        } else {
            Relationship::Child as i32
        },
        effective_date: "2025-06-01".into(),
        idempotency_key: String::new(),
        ground: RegistrationGround::DataLoad as i32,
    }
}

/// Published criteria for the window: residence, working parents, siblings, income.
fn criteria() -> Criteria {
    Criteria {
        version: 1,
        resident_points: 10,
        working_parents_points: vec![0, 4, 8],
        sibling_points: 3,
        max_siblings: 2,
        disability_points: 12,
        income_bands: vec![
            IncomeBand {
                up_to_cents: Some(1_500_000),
                points: 4,
            },
            IncomeBand {
                up_to_cents: None,
                points: 0,
            },
        ],
    }
}

fn report(kind: &str, leaks: &[Leak]) -> String {
    let mut text = format!("{} finding(s) in {kind}:\n", leaks.len());
    for leak in leaks.iter().take(20) {
        text.push_str(&format!("  {leak}\n"));
    }
    text
}

#[tokio::test]
async fn the_canary_s_fiscal_code_name_and_medical_reference_are_in_no_log_span_metric_or_stream() {
    // First: the process's one subscriber, before any service starts.
    let capture = Capture::install();
    let code = fiscal_code(GIVEN, sportello_pa::Sex::Male, "1980-03-14");
    let child_code = fiscal_code(CHILD_GIVEN, sportello_pa::Sex::Female, "2025-05-10");
    let needles = Needles::new(&[
        // Without the check character: a mistyped code is the person's too.
        ("the canary's fiscal code", &code[..15]),
        ("the child's fiscal code", &child_code[..15]),
        ("the surname", SURNAME),
        ("the given name", GIVEN),
        ("the child's given name", CHILD_GIVEN),
        ("the medical reference", MEDICAL),
    ]);

    let stack = Box::pin(Stack::start()).await;
    demo::seed(
        stack.gateway.running.db(),
        stack.service("routing").channel().await,
        DEMO_MUNICIPALITY,
        sportello_tests::http::DEMO_PASSWORD,
    )
    .await
    .expect("demo seeded");
    let registry = stack.service("registry").channel().await;
    let mut streets = StreetServiceClient::new(registry.clone());
    for (street, name) in [("PRIONE", "del Prione"), ("CHIODO", "Domenico Chiodo")] {
        streets
            .register_street(counter("street.register").request(RegisterStreetRequest {
                municipality_istat_code: SPEZIA.into(),
                street_code: street.into(),
                qualifier: "Via".into(),
                name: name.into(),
                postal_code: "19121".into(),
                idempotency_key: String::new(),
            }))
            .await
            .unwrap();
    }
    let mut residents = ResidentServiceClient::new(registry);
    let head = residents
        .register_resident(counter("resident.register").request(resident(
            GIVEN,
            Sex::Male,
            "1980-03-14",
            &code,
            "",
        )))
        .await
        .unwrap()
        .into_inner()
        .resident
        .unwrap();
    residents
        .register_resident(counter("resident.register").request(resident(
            CHILD_GIVEN,
            Sex::Female,
            "2025-05-10",
            &child_code,
            &head.family_id,
        )))
        .await
        .unwrap();

    // Registered twice: refused, whatever the registry logs of why.
    let twice = residents
        .register_resident(counter("resident.register").request(resident(
            GIVEN,
            Sex::Male,
            "1980-03-14",
            &code,
            "",
        )))
        .await
        .unwrap_err();
    assert_ne!(twice.code(), tonic::Code::Ok);

    let api = Api {
        addr: stack
            .gateway
            .running
            .http_addr
            .expect("the gateway serves HTTP"),
    };
    let kiosk = api.sign_in("totem.civico").await;
    let desk = api.sign_in("poli.bianchi").await;
    let specialist = api.sign_in("bo.gialli").await; // anagrafe's back office

    // 1. A kiosk ticket with the disability priority, called at the counter.
    let ticket = api
        .expect(
            201,
            "POST",
            "/api/v1/sites/palazzo-civico/tickets",
            &kiosk,
            Some(json!({
                "service_codes": ["registry.residence_certificate"],
                "priority_category": "disability",
            })),
        )
        .await;
    let label = ticket["ticket"]["label"].as_str().unwrap().to_owned();
    api.expect(
        200,
        "POST",
        "/api/v1/console/seat",
        &desk,
        Some(json!({"site_code": "palazzo-civico", "counter_number": 5})),
    )
    .await;
    api.expect(
        200,
        "POST",
        "/api/v1/console/presence",
        &desk,
        Some(json!({"presence": "available"})),
    )
    .await;
    let called = api
        .expect(200, "POST", "/api/v1/console/call-next", &desk, None)
        .await;
    assert_eq!(called["call"]["ticket_label"], label.as_str(), "{called}");
    let case = called["call"]["case"]["id"].as_str().unwrap().to_owned();

    // 2. The canary's residence certificate, issued and printed in that case; the case
    //    completed.
    let mistyped = format!(
        "{}{}",
        &code[..15],
        if code.ends_with('A') { 'B' } else { 'A' }
    );
    let refused = api
        .call(
            "POST",
            &format!("/api/v1/cases/{case}/certificates"),
            Some(&desk),
            Some(
                json!({"fiscal_code": mistyped, "type": "residence", "use": "uso amministrativo"}),
            ),
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let issued = api
        .expect(
            201,
            "POST",
            &format!("/api/v1/cases/{case}/certificates"),
            &desk,
            Some(json!({"fiscal_code": code, "type": "residence", "use": "uso amministrativo"})),
        )
        .await;
    let pdf = api
        .call(
            "GET",
            issued["pdf_url"].as_str().unwrap(),
            Some(&desk),
            None,
        )
        .await;
    assert_eq!(pdf.status, 200, "the certificate's PDF");
    api.expect(
        200,
        "POST",
        &format!("/api/v1/cases/{case}/complete"),
        &desk,
        Some(json!({"outcome_code": "served"})),
    )
    .await;

    // 3. A change of residence within La Spezia, declared at the counter; the address
    //    check worked in the back office and passed.
    api.expect(
        200,
        "POST",
        "/api/v1/console/presence",
        &specialist,
        Some(json!({"presence": "back_office"})),
    )
    .await;
    let declared = api
        .expect(
            201,
            "POST",
            "/api/v1/residence-changes",
            &desk,
            Some(json!({
                "origin": "within",
                "members": [
                    {"fiscal_code": code, "relationship": "head"},
                    {"fiscal_code": child_code.to_ascii_lowercase(), "relationship": "child"},
                ],
                "declarant": 0,
                "address": {"street_code": "CHIODO", "house_number": "5"},
                "site": "palazzo-civico",
            })),
        )
        .await;
    let change = declared["residence_change"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    stack.settle().await;
    let offered = api
        .expect(
            200,
            "GET",
            "/api/v1/back-office/work?view=offered",
            &specialist,
            None,
        )
        .await;
    let item = offered["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["procedure_id"] == change.as_str())
        .unwrap_or_else(|| panic!("the address check is offered: {offered}"))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.expect(
        200,
        "POST",
        &format!("/api/v1/back-office/work/{item}/accept"),
        &specialist,
        None,
    )
    .await;
    api.expect(
        200,
        "POST",
        &format!("/api/v1/back-office/work/{item}/complete"),
        &specialist,
        Some(json!({"outcome_code": "check_passed"})),
    )
    .await;
    stack.settle().await;
    let confirmed = api
        .expect(
            200,
            "GET",
            &format!("/api/v1/residence-changes/{change}"),
            &specialist,
            None,
        )
        .await;
    assert_eq!(
        confirmed["residence_change"]["status"], "confirmed",
        "{confirmed}"
    );

    // 4. A disabled parking badge (CUDE) on a temporary medical certification; the
    //    mobility office reads the certification back (audited).
    let mut badges = BadgeServiceClient::new(stack.service("mobility").channel().await);
    let badge_request = IssueBadgeRequest {
        municipality_istat_code: SPEZIA.into(),
        holder_fiscal_code: code.clone(),
        certification_reference: MEDICAL.into(),
        permanent: false,
        certification_term: "2027-05-26".into(),
        plates: vec![PlateInput {
            plate: "ZF 417 CN".into(),
            kind: String::new(),
        }],
        channel: Channel::Counter as i32,
        idempotency_key: String::new(),
    };
    // A temporary certification without its term: refused, naming the field.
    let no_term = badges
        .issue_badge(counter("badge.issue").request(IssueBadgeRequest {
            certification_term: String::new(),
            ..badge_request.clone()
        }))
        .await
        .unwrap_err();
    assert_eq!(no_term.code(), tonic::Code::InvalidArgument);
    let badge = badges
        .issue_badge(counter("badge.issue").request(badge_request))
        .await
        .unwrap()
        .into_inner()
        .badge
        .unwrap();
    assert_eq!(badge.state, BadgeState::Active as i32);
    let read = badges
        .read_certification(
            office("mobilita", Role::Polivalente, "badge.renewal_check").request(
                ReadCertificationRequest {
                    badge_id: badge.id.clone(),
                },
            ),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.certification_reference, MEDICAL);

    // 5. The child's nursery enrolment, filed at the counter by the canary.
    let window = EnrolmentServiceClient::new(stack.service("education").channel().await)
        .open_window(
            office("education", Role::BackOffice, "enrolment.manage").request(OpenWindowRequest {
                municipality_istat_code: SPEZIA.into(),
                level: SchoolLevel::Nido as i32,
                school_year: 2027,
                opens_on: "2026-11-01".into(),
                closes_on: "2026-12-31".into(),
                starts_on: "2027-09-01".into(),
                criteria: Some(criteria()),
                idempotency_key: String::new(),
                objection_days: 0,
                places: 3,
                acceptance_days: 0,
                check_percent: 0,
            }),
        )
        .await
        .unwrap()
        .into_inner()
        .window
        .unwrap();
    let filed = api
        .expect(
            201,
            "POST",
            "/api/v1/education/applications",
            &desk,
            Some(json!({
                "window_id": window.id,
                "child_fiscal_code": child_code,
                "applicant_fiscal_code": code,
                "applicant_name": format!("{GIVEN} {SURNAME}"),
                "working_parents": 1,
                "isee_value_cents": 1_200_000,
                "dsu_protocol": "INPS-ISEE-2026-00012345A-00",
            })),
        )
        .await;
    assert!(!filed.to_string().contains(&child_code), "{filed}");
    // Filed twice for the same child: refused.
    let again = api
        .call(
            "POST",
            "/api/v1/education/applications",
            Some(&desk),
            Some(json!({
                "window_id": window.id,
                "child_fiscal_code": child_code,
                "applicant_fiscal_code": code,
                "applicant_name": format!("{GIVEN} {SURNAME}"),
                "working_parents": 1,
            })),
        )
        .await;
    assert!(again.status >= 400, "{}", again.body);
    stack.settle().await;
    stack.assert_nats_refused_nothing();

    // The search finds the canary where it belongs: the registry's own records.
    let records: Vec<String> = sqlx::query_scalar(
        "select row_to_json(r)::text from registry.residents r
             union all select row_to_json(v)::text from registry.resident_versions v",
    )
    .fetch_all(stack.service("registry").running.db().pool())
    .await
    .unwrap();
    let found = needles.find("the registry's residents", records.join("\n").as_bytes());
    for what in ["the canary's fiscal code", "the surname", "the given name"] {
        assert!(
            found.iter().any(|l| l.what == what),
            "{what} not found even in the registry: {found:?}"
        );
    }

    // The capture saw the services at work: the gRPC spans of every journey.
    for method in [
        "CaseService/IssueTicket",
        "CertificateService/IssueCertificate",
        "BadgeService/IssueBadge",
        "BadgeService/ReadCertification",
        "EnrolmentService/FileApplication",
    ] {
        assert!(capture.contains(method), "no span of {method} was captured");
    }

    // Logs and traces.
    let mut failures = Vec::new();
    let leaks = capture.leaks(&needles, 50);
    if !leaks.is_empty() {
        failures.push(report("logs and traces", &leaks));
    }
    // Metrics: every service's /metrics.
    let (samples, leaks) = canary::scan_metrics(&stack, &needles).await;
    assert!(samples > 0, "the services export metrics");
    if !leaks.is_empty() {
        failures.push(report("metrics", &leaks));
    }
    // Every message of every stream, read back as the harness.
    let (messages, leaks) = canary::scan_streams(stack.ctx.nats().await, &needles).await;
    assert!(messages >= 5, "the journeys published events: {messages}");
    if !leaks.is_empty() {
        failures.push(report("JetStream messages", &leaks));
    }
    // The store on disk, as bytes.
    let (files, bytes, leaks) = canary::scan_dir(&stack.ctx.nats.store_dir(), &needles);
    assert!(files > 0 && bytes > 0, "the JetStream store was read");
    if !leaks.is_empty() {
        failures.push(report("the JetStream store directory", &leaks));
    }
    assert!(
        failures.is_empty(),
        "personal data where it must not be ({} log/trace lines, {samples} metric samples, \
         {messages} stream messages, {files} store files checked):\n{}",
        capture.lines().len(),
        failures.join("")
    );
}
