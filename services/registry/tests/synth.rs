//! The synthetic city in PostgreSQL: loaded once with COPY, and served like any register.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Harness, count, office, operator};
use sportello_kit::PseudonymKey;
use sportello_proto::registry::v1::{
    CertificateType, FamilyMembersRequest, GetFamilyRequest, IsResidentRequest,
    IssueCertificateRequest, PersonKey, issue_certificate_request::Person, person_key::Key,
};
use sportello_registry::synth::{LoadOutcome, Options, ensure_loaded};

#[tokio::test]
async fn the_city_loads_once_and_its_people_are_served() {
    let h = Harness::start().await;
    let key: PseudonymKey = common::KEY.parse().unwrap();
    let options = Options {
        residents: 4_000,
        ..Options::for_municipality("011015".parse().unwrap())
    };
    let now = h.ctx.config.clock.now();
    let first = ensure_loaded(h.pool(), &options, &key, now).await.unwrap();
    let LoadOutcome::Loaded { people, residents } = first else {
        panic!("{first:?}")
    };
    assert!(residents >= 4_000 && people > residents, "{first:?}");
    assert_eq!(count(h.pool(), "residents").await, people as i64);
    let again = ensure_loaded(h.pool(), &options, &key, now).await.unwrap();
    assert_eq!(
        again,
        LoadOutcome::AlreadyPresent {
            people: people as i64
        }
    );

    // The biggest family of the city, read back through the API.
    let (family_id, head_ref): (uuid::Uuid, String) = sqlx::query_as(
        "select v.family_id, r.requester_ref from resident_versions v join residents r on r.id = v.resident_id
         where v.relationship = 'head' and v.valid_to is null
           and v.family_id = (select family_id from resident_versions where valid_to is null and family_id is not null
                              group by family_id order by count(*) desc, family_id limit 1)",
    )
    .fetch_one(h.pool())
    .await
    .unwrap();
    let family = h
        .residents()
        .await
        .get_family(operator("case.serve").request(GetFamilyRequest {
            family_id: family_id.to_string(),
            as_of: String::new(),
        }))
        .await
        .unwrap()
        .into_inner()
        .family
        .unwrap();
    assert!(family.members.len() >= 4, "{}", family.members.len());
    assert_eq!(family.members[0].requester_ref, head_ref);

    let facts = office("education", "enrolment.eligibility");
    let person = Some(PersonKey {
        key: Some(Key::RequesterRef(head_ref.clone())),
    });
    let resident = h
        .facts()
        .await
        .is_resident(facts.request(IsResidentRequest {
            person: person.clone(),
            municipality_istat_code: "011015".into(),
            on_date: String::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(resident.resident);
    let members = h
        .facts()
        .await
        .family_members(facts.request(FamilyMembersRequest {
            person,
            municipality_istat_code: "011015".into(),
            on_date: String::new(),
        }))
        .await
        .unwrap()
        .into_inner()
        .members;
    assert_eq!(members.len(), family.members.len());

    let certificate = h
        .certificates()
        .await
        .issue_certificate(
            operator("certificate.issue").request(IssueCertificateRequest {
                municipality_istat_code: "011015".into(),
                person: Some(Person::RequesterRef(head_ref)),
                r#type: CertificateType::FamilyStatus as i32,
                r#use: "uso amministrativo".into(),
                responsible_official: "Maria Bianchi".into(),
                ..Default::default()
            }),
        )
        .await
        .unwrap()
        .into_inner();
    assert!(certificate.pdf.starts_with(b"%PDF"));

    // Someone no longer resident: the register keeps them, with where they went.
    let former: i64 = sqlx::query_scalar(
        "select count(*) from resident_versions where valid_to is null and status <> 'resident'",
    )
    .fetch_one(h.pool())
    .await
    .unwrap();
    assert_eq!(former as usize, people - residents);
}
