//! Registry reads by the rules (issue 19, point 3): certificates for anyone who asks
//! (DPR 223/1989 art. 33 c. 1), who asked recorded and the read flagged; every read of
//! personal data audited, replays and changes of residence included; certificate PDFs
//! read again only by the registry office or with their case; an operator's reads above
//! the hourly threshold alert the privacy/security officer, once an hour.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Harness, count, operator, privacy_officer, registry_office};
use sportello_kit::{CallContext, Role, testing::TestContext};
use sportello_proto::registry::v1::{
    CertificateType, DeclareResidenceChangeRequest, GetCertificateRequest,
    GetResidenceChangeRequest, GetResidentRequest, IssueCertificateRequest,
    ListPrivacyAlertsRequest, MovingMember, NewAddress, PrivacyAlertRaised, Relationship, Resident,
    issue_certificate_request::Person,
};
use sportello_registry::RegistryConfig;
use tonic::Code;

/// The counter case a certificate is issued in.
const CASE: &str = "0194a3b2-7c1d-7e00-8000-000000000001";
/// Another case.
const OTHER_CASE: &str = "0194a3b2-7c1d-7e00-8000-000000000002";

fn issue(subject: &Resident, kind: CertificateType, applicant: &str) -> IssueCertificateRequest {
    IssueCertificateRequest {
        municipality_istat_code: "011015".into(),
        person: Some(Person::ResidentId(subject.id.clone())),
        r#type: kind as i32,
        r#use: "uso amministrativo".into(),
        responsible_official: "Maria Bianchi".into(),
        case_id: CASE.into(),
        applicant_ref: applicant.into(),
        ..Default::default()
    }
}

/// The audit log's actions, oldest first.
async fn actions(h: &Harness) -> Vec<String> {
    sqlx::query_scalar("select action from audit_log order by at, id")
        .fetch_all(h.pool())
        .await
        .unwrap()
}

/// What the certificates table keeps of who asked.
async fn asked(h: &Harness, id: &str) -> (Option<String>, Option<String>, bool) {
    sqlx::query_as("select case_id, applicant_ref, third_party from certificates where id = $1")
        .bind(uuid::Uuid::parse_str(id).unwrap())
        .fetch_one(h.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_residence_certificate_for_someone_else_is_issued_recorded_and_flagged_art_33() {
    let h = Harness::start().await;
    let family = h.rossi_family().await;
    // Anna, who is not in the family, asks for Mario's residence and family status: no
    // ground is asked, the certificate is issued.
    let anna_ref = h.reference(&common::code_of(common::ANNA));
    let mut certificates = h.certificates().await;
    let issued = certificates
        .issue_certificate(operator("certificate.issue").request(issue(
            &family[0],
            CertificateType::ResidenceFamily,
            &anna_ref,
        )))
        .await
        .unwrap()
        .into_inner()
        .certificate
        .unwrap();
    assert!(issued.third_party);
    assert_eq!(issued.case_id, CASE);
    assert_eq!(
        asked(&h, &issued.id).await,
        (Some(CASE.to_owned()), Some(anna_ref.clone()), true)
    );
    assert_eq!(actions(&h).await, ["certificate.issue_third_party"]);
    // The flagged row is linked to the certificate, which names who asked.
    let linked: (String, uuid::Uuid) =
        sqlx::query_as("select record_kind, record_id from audit_log")
            .fetch_one(h.pool())
            .await
            .unwrap();
    assert_eq!(linked.0, "certificate");
    assert_eq!(linked.1.to_string(), issued.id);

    // An applicant not known (no requester given) is a third party too.
    let mut unknown = issue(&family[1], CertificateType::Residence, "");
    unknown.case_id = String::new();
    let issued = certificates
        .issue_certificate(operator("certificate.issue").request(unknown))
        .await
        .unwrap()
        .into_inner()
        .certificate
        .unwrap();
    assert!(issued.third_party);
    assert_eq!(asked(&h, &issued.id).await, (None, None, true));

    // Other registry positions for someone else: refused naming the rule, nothing written.
    for kind in [
        CertificateType::Birth,
        CertificateType::Citizenship,
        CertificateType::Existence,
    ] {
        for applicant in [anna_ref.as_str(), ""] {
            let refused = certificates
                .issue_certificate(
                    operator("certificate.issue").request(issue(&family[0], kind, applicant)),
                )
                .await
                .unwrap_err();
            assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
            assert!(refused.message().contains("art. 33 c. 2"), "{refused:?}");
            assert!(
                refused.message().starts_with("applicant_ref"),
                "{refused:?}"
            );
        }
    }
    assert_eq!(count(h.pool(), "certificates").await, 2);
    assert_eq!(h.audit_rows().await, 2);
}

#[tokio::test]
async fn a_certificate_asked_by_the_person_is_not_flagged() {
    let h = Harness::start().await;
    let family = h.rossi_family().await;
    let mut certificates = h.certificates().await;
    for kind in [CertificateType::Residence, CertificateType::Birth] {
        let issued = certificates
            .issue_certificate(operator("certificate.issue").request(issue(
                &family[1],
                kind,
                &family[1].requester_ref,
            )))
            .await
            .unwrap()
            .into_inner()
            .certificate
            .unwrap();
        assert!(!issued.third_party);
        assert_eq!(
            asked(&h, &issued.id).await,
            (
                Some(CASE.to_owned()),
                Some(family[1].requester_ref.clone()),
                false
            )
        );
    }
    assert_eq!(
        actions(&h).await,
        ["certificate.issue", "certificate.issue"]
    );
}

#[tokio::test]
async fn a_replayed_issue_is_audited_again() {
    let h = Harness::start().await;
    let family = h.rossi_family().await;
    let mut certificates = h.certificates().await;
    let mut request = issue(
        &family[0],
        CertificateType::FamilyStatus,
        &family[0].requester_ref,
    );
    request.idempotency_key = uuid::Uuid::new_v4().to_string();
    let first = certificates
        .issue_certificate(operator("certificate.issue").request(request.clone()))
        .await
        .unwrap()
        .into_inner();
    let second = certificates
        .issue_certificate(operator("certificate.issue").request(request))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, second, "the retry answers the first certificate");
    assert_eq!(count(h.pool(), "certificates").await, 1);
    // The answer disclosed the family twice: two rows, each naming all three.
    assert_eq!(
        actions(&h).await,
        ["certificate.issue", "certificate.replay"]
    );
    let named: Vec<i32> =
        sqlx::query_scalar("select cardinality(resident_ids) from audit_log order by at, id")
            .fetch_all(h.pool())
            .await
            .unwrap();
    assert_eq!(named, [3, 3]);
}

#[tokio::test]
async fn a_certificate_pdf_is_read_again_by_the_registry_office_or_with_its_case() {
    let h = Harness::start().await;
    let family = h.rossi_family().await;
    let mut certificates = h.certificates().await;
    let issued = certificates
        .issue_certificate(operator("certificate.issue").request(issue(
            &family[0],
            CertificateType::Residence,
            &family[0].requester_ref,
        )))
        .await
        .unwrap()
        .into_inner();
    let id = issued.certificate.unwrap().id;
    let get = |case_id: &str| GetCertificateRequest {
        certificate_id: id.clone(),
        case_id: case_id.into(),
    };
    let before = h.audit_rows().await;
    // A counter role without the case, or with another case: refused naming the rule.
    for (context, case_id) in [
        (operator("certificate.print"), ""),
        (operator("certificate.print"), OTHER_CASE),
        (
            CallContext::new("gateway", "operator:info-1", "011015", "certificate.print")
                .unwrap()
                .with_roles(&[Role::InfoDesk]),
            "",
        ),
        // The back office of another department is no registry office.
        (
            CallContext::new("gateway", "operator:bo-suap", "011015", "certificate.print")
                .unwrap()
                .with_roles(&[Role::BackOffice])
                .with_department(Some("suap")),
            "",
        ),
    ] {
        let refused = certificates
            .get_certificate(context.request(get(case_id)))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
        assert!(refused.message().starts_with("case_id"), "{refused:?}");
        assert!(refused.message().contains("anagrafe"), "{refused:?}");
    }
    assert_eq!(h.audit_rows().await, before, "a refusal reads nothing");
    // With the case it was issued in; and by the registry office without one.
    let with_case = certificates
        .get_certificate(operator("certificate.print").request(get(CASE)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(with_case.pdf, issued.pdf);
    let office = certificates
        .get_certificate(registry_office("certificate.print").request(get("")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(office.pdf, issued.pdf);
    assert_eq!(h.audit_rows().await, before + 2);
    // A malformed case id is named.
    let bad = certificates
        .get_certificate(operator("certificate.print").request(get("case-1")))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().starts_with("case_id"), "{bad:?}");
}

#[tokio::test]
async fn reads_above_the_hourly_threshold_alert_the_privacy_officer_once_an_hour() {
    let ctx = TestContext::new(&[&sportello_registry::SPEC]).await;
    let mut config = RegistryConfig::with_key(ctx.config.clone(), common::KEY).unwrap();
    config.privacy_reads_per_hour = 3;
    let h = Harness::start_with(ctx, config).await;
    let family = h.rossi_family().await;
    let mut residents = h.residents().await;
    let read = |who: &Resident| GetResidentRequest {
        resident_id: who.id.clone(),
        as_of: String::new(),
    };
    let alerts = |h: &Harness| {
        let pool = h.pool().clone();
        async move { count(&pool, "privacy_alerts").await }
    };
    // N reads: no alert. (Another operator's reads are counted for them, not for op-7.)
    for who in &family {
        residents
            .get_resident(operator("case.serve").request(read(who)))
            .await
            .unwrap();
    }
    let colleague = CallContext::new("gateway", "operator:op-8", "011015", "case.serve")
        .unwrap()
        .with_roles(&[Role::Polivalente]);
    residents
        .get_resident(colleague.request(read(&family[0])))
        .await
        .unwrap();
    assert_eq!(alerts(&h).await, 0);
    // N + 1 within the hour: one alert, with its event — who and how many, nobody's data.
    h.ctx.clock.advance(jiff::SignedDuration::from_mins(10));
    residents
        .get_resident(operator("case.serve").request(read(&family[0])))
        .await
        .unwrap();
    assert_eq!(alerts(&h).await, 1);
    let (actor, reads, threshold): (String, i32, i32) =
        sqlx::query_as("select actor, reads, threshold from privacy_alerts")
            .fetch_one(h.pool())
            .await
            .unwrap();
    assert_eq!((actor.as_str(), reads, threshold), ("operator:op-7", 4, 3));
    let payload: Vec<u8> = sqlx::query_scalar(
        "select payload from outbox where event_type = 'registry.privacy.alert_raised'",
    )
    .fetch_one(h.pool())
    .await
    .unwrap();
    let event: PrivacyAlertRaised = prost::Message::decode(payload.as_slice()).unwrap();
    assert_eq!(
        (event.actor.as_str(), event.reads, event.threshold),
        ("operator:op-7", 4, 3)
    );
    // More reads in the same hour: no second alert.
    for who in &family {
        residents
            .get_resident(operator("case.serve").request(read(who)))
            .await
            .unwrap();
    }
    assert_eq!(alerts(&h).await, 1);

    // The officer reads the alerts; an operator may not.
    let mut privacy = h.privacy().await;
    let list = ListPrivacyAlertsRequest {
        municipality_istat_code: "011015".into(),
        page_size: 0,
    };
    let listed = privacy
        .list_privacy_alerts(privacy_officer("privacy.alerts").request(list.clone()))
        .await
        .unwrap()
        .into_inner()
        .alerts;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].actor, "operator:op-7");
    assert_eq!(listed[0].reads, 4);
    for context in [
        operator("privacy.alerts"),
        common::administrator("privacy.alerts"),
    ] {
        let refused = privacy
            .list_privacy_alerts(context.request(list.clone()))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    }

    // Two hours on, the count starts again: N reads no alert, N + 1 a new one.
    h.ctx.clock.advance(jiff::SignedDuration::from_hours(2));
    for who in &family {
        residents
            .get_resident(operator("case.serve").request(read(who)))
            .await
            .unwrap();
    }
    assert_eq!(alerts(&h).await, 1);
    residents
        .get_resident(operator("case.serve").request(read(&family[1])))
        .await
        .unwrap();
    assert_eq!(alerts(&h).await, 2);
}

#[tokio::test]
async fn reading_a_change_of_residence_is_audited_and_so_is_a_replayed_declaration() {
    let (h, _routing) = Harness::start_with_routing().await;
    let family = h.rossi_family().await;
    h.street("CHIODO", "Via", "Domenico Chiodo").await;
    let members: Vec<MovingMember> = [
        (&family[0], Relationship::Head),
        (&family[1], Relationship::Spouse),
        (&family[2], Relationship::Child),
    ]
    .iter()
    .map(|(m, r)| MovingMember {
        resident_id: m.id.clone(),
        relationship: *r as i32,
    })
    .collect();
    let declaration = DeclareResidenceChangeRequest {
        municipality_istat_code: "011015".into(),
        family_id: family[0].family_id.clone(),
        declarant_id: family[0].id.clone(),
        members,
        address: Some(NewAddress {
            street_code: "CHIODO".into(),
            house_number: "5".into(),
        }),
        channel: sportello_proto::common::v1::Channel::Web as i32,
        idempotency_key: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    };
    let mut changes = h.changes().await;
    let change = changes
        .declare_residence_change(operator("residence.declare").request(declaration.clone()))
        .await
        .unwrap()
        .into_inner()
        .residence_change
        .unwrap();
    let before = h.audit_rows().await;
    changes
        .get_residence_change(registry_office("residence.read").request(
            GetResidenceChangeRequest {
                residence_change_id: change.id.clone(),
            },
        ))
        .await
        .unwrap();
    let again = changes
        .declare_residence_change(operator("residence.declare").request(declaration))
        .await
        .unwrap()
        .into_inner()
        .residence_change
        .unwrap();
    assert_eq!(again.id, change.id);
    assert_eq!(h.audit_rows().await, before + 2);
    let rows: Vec<(String, String, String, uuid::Uuid, i32)> = sqlx::query_as(
        "select actor, action, record_kind, record_id, cardinality(resident_ids) from audit_log
          where record_kind = 'residence_change' order by at, id",
    )
    .fetch_all(h.pool())
    .await
    .unwrap();
    let id = uuid::Uuid::parse_str(&change.id).unwrap();
    assert_eq!(
        rows,
        [
            (
                "operator:bo-anagrafe".to_owned(),
                "residence_change.get".to_owned(),
                "residence_change".to_owned(),
                id,
                3
            ),
            (
                "operator:op-7".to_owned(),
                "residence_change.replay".to_owned(),
                "residence_change".to_owned(),
                id,
                3
            ),
        ]
    );
}
