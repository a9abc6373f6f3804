//! Residents and families against PostgreSQL: registration, audited lookups, history,
//! status changes, and bad input that writes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{ANNA, Harness, LUCA, MARIA, MARIO, code_of, count, operator, person};
use sportello_proto::registry::v1::{
    ChangeResidentStatusRequest, GetFamilyRequest, GetResidentByFiscalCodeRequest,
    GetResidentByRequesterRefRequest, GetResidentHistoryRequest, GetResidentRequest, Relationship,
    ResidentStatus,
};
use tonic::Code;

#[tokio::test]
async fn a_family_is_registered_and_read_back_by_id_fiscal_code_and_reference() {
    let h = Harness::start().await;
    let family = h.rossi_family().await;
    let mario = &family[0];
    assert_eq!(mario.relationship, Relationship::Head as i32);
    assert_eq!(mario.status, ResidentStatus::Resident as i32);
    assert_eq!(mario.requester_ref, h.reference(&code_of(MARIO)));
    assert_eq!(mario.birthplace_name, "La Spezia (SP)");
    assert_eq!(
        mario.address.as_ref().unwrap().street_name,
        "Via del Prione"
    );
    assert!(
        mario.fiscal_code_warnings.is_empty(),
        "{:?}",
        mario.fiscal_code_warnings
    );
    assert!(family.iter().all(|m| m.family_id == mario.family_id));
    assert_eq!(
        family[1].address, mario.address,
        "members live at the family's address"
    );

    let mut client = h.residents().await;
    let context = operator("case.serve");
    let by_id = client
        .get_resident(context.request(GetResidentRequest {
            resident_id: mario.id.clone(),
            as_of: String::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_id.resident.unwrap().fiscal_code, mario.fiscal_code);
    let by_code = client
        .get_resident_by_fiscal_code(context.request(GetResidentByFiscalCodeRequest {
            municipality_istat_code: "011015".into(),
            fiscal_code: mario.fiscal_code.to_lowercase(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_code.resident.unwrap().id, mario.id);
    let by_ref = client
        .get_resident_by_requester_ref(context.request(GetResidentByRequesterRefRequest {
            requester_ref: mario.requester_ref.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_ref.resident.unwrap().id, mario.id);

    let got = client
        .get_family(context.request(GetFamilyRequest {
            family_id: mario.family_id.clone(),
            as_of: String::new(),
        }))
        .await
        .unwrap()
        .into_inner()
        .family
        .unwrap();
    let names: Vec<_> = got.members.iter().map(|m| m.given_names.as_str()).collect();
    assert_eq!(
        names,
        ["Mario", "Maria", "Luca"],
        "head first, then oldest first"
    );
    assert_eq!(h.audit_rows().await, 4, "four reads, four audit rows");
}

#[tokio::test]
async fn the_head_leaving_names_a_new_head_and_history_keeps_every_state() {
    let h = Harness::start().await;
    let family = h.rossi_family().await;
    let (mario, maria) = (&family[0], &family[1]);
    let mut client = h.residents().await;
    let context = operator("resident.status");

    let refused = client
        .change_resident_status(context.request(ChangeResidentStatusRequest {
            resident_id: mario.id.clone(),
            status: ResidentStatus::MovedAway as i32,
            destination: "010025".into(),
            effective_date: "2026-11-02".into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(refused.message().starts_with("new_head_id"), "{refused:?}");

    let moved = client
        .change_resident_status(context.request(ChangeResidentStatusRequest {
            resident_id: mario.id.clone(),
            status: ResidentStatus::MovedAway as i32,
            destination: "010025".into(),
            effective_date: "2026-11-02".into(),
            new_head_id: maria.id.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .resident
        .unwrap();
    assert_eq!(moved.status, ResidentStatus::MovedAway as i32);
    assert_eq!(moved.destination, "010025");
    assert!(moved.family_id.is_empty() && moved.address.is_none());
    assert_eq!(moved.version, 2);

    let read = operator("case.serve");
    let family_now = client
        .get_family(read.request(GetFamilyRequest {
            family_id: mario.family_id.clone(),
            as_of: String::new(),
        }))
        .await
        .unwrap()
        .into_inner()
        .family
        .unwrap();
    let heads: Vec<_> = family_now
        .members
        .iter()
        .map(|m| (m.given_names.as_str(), m.relationship))
        .collect();
    assert_eq!(
        heads,
        [
            ("Maria", Relationship::Head as i32),
            ("Luca", Relationship::Child as i32)
        ]
    );
    let family_before = client
        .get_family(read.request(GetFamilyRequest {
            family_id: mario.family_id.clone(),
            as_of: "2026-11-01".into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .family
        .unwrap();
    assert_eq!(
        family_before.members.len(),
        3,
        "the day before, Mario was its head"
    );

    let history = client
        .get_resident_history(read.request(GetResidentHistoryRequest {
            resident_id: mario.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .versions;
    let states: Vec<_> = history
        .iter()
        .map(|v| (v.status, v.valid_from.as_str(), v.valid_to.as_str()))
        .collect();
    assert_eq!(
        states,
        [
            (ResidentStatus::Resident as i32, "2020-01-01", "2026-11-02"),
            (ResidentStatus::MovedAway as i32, "2026-11-02", ""),
        ]
    );

    let again = client
        .change_resident_status(context.request(ChangeResidentStatusRequest {
            resident_id: mario.id.clone(),
            status: ResidentStatus::Deceased as i32,
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");
}

#[tokio::test]
async fn bad_registrations_name_the_field_and_write_nothing() {
    let h = Harness::start().await;
    let family = h.rossi_family().await;
    let before = count(h.pool(), "resident_versions").await;
    let outbox_before = count(h.pool(), "outbox").await;
    let mut client = h.residents().await;
    let context = operator("resident.register");

    let mut malformed = person(ANNA, "");
    malformed.fiscal_code = "VRDNNA75D61G702X".into();
    let mut unknown_street = person(ANNA, "");
    unknown_street.address.as_mut().unwrap().street_code = "NOWHERE".into();
    let mut unknown_family = person(
        ANNA,
        &sportello_registry::domain::FamilyId::new().to_string(),
    );
    unknown_family.address = None;
    unknown_family.relationship = Relationship::Cohabitant as i32;
    let duplicate = person(MARIO, "");
    for (request, code, field) in [
        (malformed, Code::InvalidArgument, "fiscal_code"),
        (unknown_street, Code::InvalidArgument, "address.street_code"),
        (unknown_family, Code::NotFound, "family_id"),
        (duplicate, Code::AlreadyExists, "fiscal_code"),
    ] {
        let status = client
            .register_resident(context.request(request))
            .await
            .unwrap_err();
        assert_eq!(status.code(), code, "{status:?}");
        assert!(status.message().starts_with(field), "{field}: {status:?}");
    }
    let unknown = client
        .get_resident(context.request(GetResidentRequest {
            resident_id: sportello_registry::domain::ResidentId::new().to_string(),
            as_of: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    assert!(unknown.message().starts_with("resident_id"), "{unknown:?}");

    assert_eq!(count(h.pool(), "resident_versions").await, before);
    assert_eq!(count(h.pool(), "residents").await, family.len() as i64);
    assert_eq!(count(h.pool(), "outbox").await, outbox_before);
    assert_eq!(h.audit_rows().await, 0, "nothing was disclosed");
}

#[tokio::test]
async fn a_mismatch_between_code_and_data_is_kept_as_a_warning() {
    let h = Harness::start().await;
    h.street("PRIONE", "Via", "del Prione").await;
    let mut request = person(ANNA, "");
    request.given_names = "Annalisa".into();
    let anna = h
        .residents()
        .await
        .register_resident(operator("resident.register").request(request))
        .await
        .unwrap()
        .into_inner()
        .resident
        .unwrap();
    assert_eq!(anna.fiscal_code, code_of(ANNA));
    assert_eq!(
        anna.fiscal_code_warnings.len(),
        1,
        "{:?}",
        anna.fiscal_code_warnings
    );
    assert!(anna.fiscal_code_warnings[0].starts_with("name:"));
}

#[tokio::test]
async fn another_municipality_cannot_read_la_spezia() {
    let h = Harness::start().await;
    let family = h.rossi_family().await;
    let genova =
        sportello_kit::CallContext::new("gateway", "operator:op-1", "010025", "case.serve")
            .unwrap();
    let status = h
        .residents()
        .await
        .get_resident(genova.request(GetResidentRequest {
            resident_id: family[0].id.clone(),
            as_of: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(h.audit_rows().await, 0);
    let _ = (LUCA, MARIA);
}
