//! The audit log: every read of personal data leaves exactly one row saying who, on whose
//! behalf, when, which record and why; the log only grows; a read it cannot record fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Harness, count, office, operator};
use sportello_proto::registry::v1::{
    CertificateType, FamilyMembersRequest, GetCertificateRequest, GetFamilyRequest,
    GetResidentByFiscalCodeRequest, GetResidentByRequesterRefRequest, GetResidentHistoryRequest,
    GetResidentRequest, IsResidentRequest, IssueCertificateRequest, ListStampDutyExemptionsRequest,
    PersonKey, VerifyCertificateRequest, issue_certificate_request::Person, person_key::Key,
};
use tonic::Code;

/// The counter case the certificate is issued in.
const CASE: &str = "0194a3b2-7c1d-7e00-8000-000000000001";

#[tokio::test]
async fn n_reads_of_personal_data_leave_exactly_n_audit_rows() {
    let h = Harness::start().await;
    let family = h.rossi_family().await;
    let (mario, luca) = (&family[0], &family[2]);
    let mut residents = h.residents().await;
    let mut facts = h.facts().await;
    let mut certificates = h.certificates().await;
    let counter = operator("case.serve");
    let school = office("education", "enrolment.eligibility");
    let by_ref = |r: &str| {
        Some(PersonKey {
            key: Some(Key::RequesterRef(r.into())),
        })
    };

    // Writes, verifications and the exemption table disclose nothing about anyone.
    assert_eq!(h.audit_rows().await, 0);
    let mut reads = 0;
    for _ in 0..3 {
        residents
            .get_resident(counter.request(GetResidentRequest {
                resident_id: mario.id.clone(),
                as_of: String::new(),
            }))
            .await
            .unwrap();
        reads += 1;
    }
    residents
        .get_resident_by_fiscal_code(counter.request(GetResidentByFiscalCodeRequest {
            municipality_istat_code: "011015".into(),
            fiscal_code: luca.fiscal_code.clone(),
        }))
        .await
        .unwrap();
    residents
        .get_resident_by_requester_ref(counter.request(GetResidentByRequesterRefRequest {
            requester_ref: luca.requester_ref.clone(),
        }))
        .await
        .unwrap();
    residents
        .get_resident_history(counter.request(GetResidentHistoryRequest {
            resident_id: luca.id.clone(),
        }))
        .await
        .unwrap();
    residents
        .get_family(counter.request(GetFamilyRequest {
            family_id: mario.family_id.clone(),
            as_of: String::new(),
        }))
        .await
        .unwrap();
    facts
        .is_resident(school.request(IsResidentRequest {
            person: by_ref(&luca.requester_ref),
            municipality_istat_code: "011015".into(),
            on_date: String::new(),
        }))
        .await
        .unwrap();
    facts
        .family_members(school.request(FamilyMembersRequest {
            person: by_ref(&luca.requester_ref),
            municipality_istat_code: "011015".into(),
            on_date: String::new(),
        }))
        .await
        .unwrap();
    let issued = certificates
        .issue_certificate(
            operator("certificate.issue").request(IssueCertificateRequest {
                municipality_istat_code: "011015".into(),
                person: Some(Person::ResidentId(mario.id.clone())),
                r#type: CertificateType::Residence as i32,
                r#use: "uso amministrativo".into(),
                responsible_official: "Maria Bianchi".into(),
                case_id: CASE.into(),
                applicant_ref: mario.requester_ref.clone(),
                ..Default::default()
            }),
        )
        .await
        .unwrap()
        .into_inner()
        .certificate
        .unwrap();
    certificates
        .get_certificate(
            operator("certificate.reprint").request(GetCertificateRequest {
                certificate_id: issued.id.clone(),
                case_id: CASE.into(),
            }),
        )
        .await
        .unwrap();
    reads += 8;
    // Not reads of personal data: verification, the exemption table, a miss.
    certificates
        .verify_certificate(
            operator("certificate.verify").request(VerifyCertificateRequest {
                verification_code: issued.verification_code.clone(),
                document_sha256: String::new(),
            }),
        )
        .await
        .unwrap();
    certificates
        .list_stamp_duty_exemptions(counter.request(ListStampDutyExemptionsRequest {}))
        .await
        .unwrap();
    residents
        .get_resident_by_requester_ref(counter.request(GetResidentByRequesterRefRequest {
            requester_ref: h.reference("ZZZZZZ00A01E463X"),
        }))
        .await
        .unwrap_err();

    assert_eq!(h.audit_rows().await, reads);
    let rows: Vec<(String, String, String, String, String, i32)> = sqlx::query_as(
        "select caller, actor, purpose, action, record_kind, cardinality(resident_ids)
         from audit_log order by at, id",
    )
    .fetch_all(h.pool())
    .await
    .unwrap();
    let first = &rows[0];
    assert_eq!(
        first,
        &(
            "gateway".to_owned(),
            "operator:op-7".to_owned(),
            "case.serve".to_owned(),
            "resident.get".to_owned(),
            "resident".to_owned(),
            1
        )
    );
    let actions: Vec<&str> = rows.iter().map(|r| r.3.as_str()).collect();
    assert_eq!(
        actions,
        [
            "resident.get",
            "resident.get",
            "resident.get",
            "resident.get_by_fiscal_code",
            "resident.get_by_requester_ref",
            "resident.history",
            "family.get",
            "fact.is_resident",
            "fact.family_members",
            "certificate.issue",
            "certificate.get",
        ]
    );
    let school_rows: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where caller = 'education' and purpose = 'enrolment.eligibility'",
    )
    .fetch_one(h.pool())
    .await
    .unwrap();
    assert_eq!(school_rows, 2);
    // Who read Luca's data? His own reads, and the family reads that included him.
    let about_luca: i64 =
        sqlx::query_scalar("select count(*) from audit_log where $1 = any(resident_ids)")
            .bind(uuid::Uuid::parse_str(&luca.id).unwrap())
            .fetch_one(h.pool())
            .await
            .unwrap();
    assert_eq!(about_luca, 6);
}

#[tokio::test]
async fn the_audit_log_only_grows() {
    let h = Harness::start().await;
    let family = h.rossi_family().await;
    h.residents()
        .await
        .get_resident(operator("case.serve").request(GetResidentRequest {
            resident_id: family[0].id.clone(),
            as_of: String::new(),
        }))
        .await
        .unwrap();
    for statement in [
        "update audit_log set purpose = 'nothing.to.see'",
        "delete from audit_log",
        "truncate audit_log",
    ] {
        let refused = sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(h.pool())
            .await
            .unwrap_err();
        assert!(
            refused.to_string().contains("append-only"),
            "{statement}: {refused}"
        );
    }
    assert_eq!(h.audit_rows().await, 1);
}

#[tokio::test]
async fn a_read_whose_audit_write_fails_fails() {
    let h = Harness::start().await;
    let family = h.rossi_family().await;
    // From now on the log refuses every row.
    sqlx::query("alter table audit_log add constraint closed_for_the_test check (false) not valid")
        .execute(h.pool())
        .await
        .unwrap();
    let read = h
        .residents()
        .await
        .get_resident(operator("case.serve").request(GetResidentRequest {
            resident_id: family[0].id.clone(),
            as_of: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(read.code(), Code::Internal, "{read:?}");
    assert!(!read.message().contains("Rossi"));
    let issue = h
        .certificates()
        .await
        .issue_certificate(
            operator("certificate.issue").request(IssueCertificateRequest {
                municipality_istat_code: "011015".into(),
                person: Some(Person::ResidentId(family[0].id.clone())),
                r#type: CertificateType::Residence as i32,
                r#use: "uso amministrativo".into(),
                responsible_official: "Maria Bianchi".into(),
                ..Default::default()
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(issue.code(), Code::Internal, "{issue:?}");
    assert_eq!(
        count(h.pool(), "certificates").await,
        0,
        "no certificate without its audit row"
    );
    let fact = h
        .facts_as("svc/suap")
        .await
        .is_resident(office("suap", "permit.check").request(IsResidentRequest {
            person: Some(PersonKey {
                key: Some(Key::RequesterRef(family[0].requester_ref.clone())),
            }),
            municipality_istat_code: "011015".into(),
            on_date: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(fact.code(), Code::Internal);
}
