//! Facts for other offices: only what was asked, by requester_ref or fiscal code, audited.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Harness, office};
use sportello_proto::registry::v1::{
    ChangeResidentStatusRequest, FamilyMembersRequest, IsResidentRequest, PersonKey, Relationship,
    ResidentStatus, person_key::Key,
};
use tonic::Code;

fn by_ref(reference: &str) -> Option<PersonKey> {
    Some(PersonKey {
        key: Some(Key::RequesterRef(reference.into())),
    })
}

#[tokio::test]
async fn residence_is_answered_yes_or_no_for_any_day() {
    let h = Harness::start().await;
    let family = h.rossi_family().await;
    let mut facts = h.facts().await;
    let context = office("education", "enrolment.eligibility");
    let ask = |person: Option<PersonKey>, on: &str| IsResidentRequest {
        person,
        municipality_istat_code: "011015".into(),
        on_date: on.into(),
    };

    for (person, on, want) in [
        (by_ref(&family[0].requester_ref), "", true),
        (
            Some(PersonKey {
                key: Some(Key::FiscalCode(family[2].fiscal_code.clone())),
            }),
            "",
            true,
        ),
        (by_ref(&family[0].requester_ref), "2019-12-31", false),
        (by_ref(&family[0].requester_ref), "2020-01-01", true),
    ] {
        let answer = facts
            .is_resident(context.request(ask(person, on)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(answer.resident, want, "on {on:?}");
    }

    h.residents()
        .await
        .change_resident_status(office("gateway", "resident.status").request(
            ChangeResidentStatusRequest {
                resident_id: family[2].id.clone(),
                status: ResidentStatus::Aire as i32,
                destination: "DE".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    let abroad = facts
        .is_resident(context.request(ask(by_ref(&family[2].requester_ref), "")))
        .await
        .unwrap()
        .into_inner();
    assert!(!abroad.resident, "registered abroad is not resident");

    let unknown = facts
        .is_resident(context.request(ask(by_ref(&h.reference("XXXXXX00A01E463X")), "")))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    assert!(
        unknown.message().starts_with("person.requester_ref"),
        "{unknown:?}"
    );
    let missing = facts
        .is_resident(context.request(ask(None, "")))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::InvalidArgument);
    assert!(missing.message().starts_with("person"), "{missing:?}");
    assert_eq!(
        h.audit_rows().await,
        5,
        "five answers about a person, five audit rows"
    );
}

#[tokio::test]
async fn family_members_are_references_and_relationships_only() {
    let h = Harness::start().await;
    let family = h.rossi_family().await;
    let answer = h
        .facts()
        .await
        .family_members(
            office("education", "canteen.fee").request(FamilyMembersRequest {
                person: by_ref(&family[2].requester_ref),
                municipality_istat_code: "011015".into(),
                on_date: String::new(),
            }),
        )
        .await
        .unwrap()
        .into_inner();
    let members: Vec<_> = answer
        .members
        .iter()
        .map(|m| (m.requester_ref.as_str(), m.relationship))
        .collect();
    assert_eq!(
        members,
        [
            (family[0].requester_ref.as_str(), Relationship::Head as i32),
            (
                family[1].requester_ref.as_str(),
                Relationship::Spouse as i32
            ),
            (family[2].requester_ref.as_str(), Relationship::Child as i32),
        ]
    );
    let audited: Vec<String> = sqlx::query_scalar(
        "select caller || ' ' || actor || ' ' || purpose || ' ' || action || ' ' || cardinality(resident_ids)
         from audit_log",
    )
    .fetch_all(h.pool())
    .await
    .unwrap();
    assert_eq!(
        audited,
        ["education operator:ed-3 canteen.fee fact.family_members 3"]
    );

    let before = h
        .facts()
        .await
        .family_members(
            office("education", "canteen.fee").request(FamilyMembersRequest {
                person: by_ref(&family[2].requester_ref),
                municipality_istat_code: "011015".into(),
                on_date: "2019-06-01".into(),
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(before.code(), Code::FailedPrecondition, "{before:?}");
}
