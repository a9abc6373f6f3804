//! Certificates: issued on the spot for a registered person, verifiable by anyone, their
//! PDF carrying the sentence the law requires; tampering and forbidden types refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Harness, count, operator, registry_office};
use sha2::{Digest, Sha256};
use sportello_proto::registry::v1::{
    CertificateType, ChangeResidentStatusRequest, GetCertificateRequest, IssueCertificateRequest,
    IssueCertificateResponse, ResidentStatus, StampDutyPayment, VerifyCertificateRequest,
    issue_certificate_request::Person,
};
use sportello_registry::certificates::{compose::ART_40_NOTICE, pdf::shown_text};
use tonic::Code;

fn issue(resident_id: &str, kind: CertificateType) -> IssueCertificateRequest {
    IssueCertificateRequest {
        municipality_istat_code: "011015".into(),
        person: Some(Person::ResidentId(resident_id.into())),
        r#type: kind as i32,
        r#use: "uso amministrativo".into(),
        exemption_code: String::new(),
        idempotency_key: String::new(),
        responsible_official: "Maria Bianchi".into(),
        stamp_duty_payment: 0,
        stamp_duty_reference: String::new(),
        case_id: String::new(),
        applicant_ref: String::new(),
    }
}

/// `request`, asked by the person it certifies (`requester_ref`) themselves.
fn by_themselves(
    mut request: IssueCertificateRequest,
    requester_ref: &str,
) -> IssueCertificateRequest {
    request.applicant_ref = requester_ref.into();
    request
}

fn text_of(pdf: &[u8]) -> String {
    shown_text(pdf).replace('\n', " ")
}

#[tokio::test]
async fn a_certificate_verifies_and_carries_the_required_sentence() {
    let h = Harness::start().await;
    let family = h.rossi_family().await;
    let mut certificates = h.certificates().await;
    let issued: IssueCertificateResponse = certificates
        .issue_certificate(
            operator("certificate.issue").request(issue(&family[0].id, CertificateType::Residence)),
        )
        .await
        .unwrap()
        .into_inner();
    let certificate = issued.certificate.unwrap();
    assert!(issued.pdf.starts_with(b"%PDF-"));
    std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("certificato-di-residenza.pdf"),
        &issued.pdf,
    )
    .unwrap();

    let text = text_of(&issued.pdf);
    for expected in [
        "COMUNE DELLA SPEZIA",
        "CERTIFICATO DI RESIDENZA",
        "ROSSI MARIO",
        "Via del Prione 12",
        ART_40_NOTICE,
        "Imposta di bollo assolta: € 16,00",
        "Diritti di segreteria: € 0,52",
        "valido fino al 26/05/2027",
        "La Spezia, 26/11/2026 ore 09:30",
        "art. 41 c. 1 DPR 445/2000",
        "L'Ufficiale d'Anagrafe: Maria Bianchi",
        &certificate.verification_code,
    ] {
        assert!(text.contains(expected), "{expected:?} not in {text}");
    }
    assert_eq!(certificate.valid_until, "2027-05-26");
    // No method given and no virtual-payment authorisation configured: issued, and the
    // operator is told the line lacks how the duty was paid.
    assert_eq!(issued.warnings.len(), 1, "{:?}", issued.warnings);
    assert!(issued.warnings[0].contains("non indicata"));
    assert_eq!(certificate.stamp_duty.unwrap().amount_minor, 1600);
    assert_eq!(
        certificate.content_sha256,
        format!("{:x}", Sha256::digest(&issued.pdf))
    );

    let verify = |code: &str, hash: &str| VerifyCertificateRequest {
        verification_code: code.into(),
        document_sha256: hash.into(),
    };
    let public = sportello_kit::CallContext::new(
        "gateway",
        "citizen:anonymous",
        "011015",
        "certificate.verify",
    )
    .unwrap();
    let answer = certificates
        .verify_certificate(public.request(verify(
            &certificate.verification_code,
            &certificate.content_sha256,
        )))
        .await
        .unwrap()
        .into_inner();
    assert!(answer.authentic, "{answer:?}");
    assert_eq!(answer.content_sha256, certificate.content_sha256);
    assert_eq!(answer.r#type, CertificateType::Residence as i32);
    assert!(!answer.expired);

    // One character changed in the code: no such certificate.
    let mut tampered: Vec<char> = certificate.verification_code.chars().collect();
    tampered[0] = if tampered[0] == '7' { '8' } else { '7' };
    let tampered: String = tampered.into_iter().collect();
    let answer = certificates
        .verify_certificate(public.request(verify(&tampered, "")))
        .await
        .unwrap()
        .into_inner();
    assert!(!answer.authentic);
    assert!(answer.content_sha256.is_empty());

    // The document in hand was edited: its hash differs.
    let mut edited = issued.pdf.clone();
    let at = edited.windows(5).position(|w| w == b"ROSSI").unwrap();
    edited[at..at + 5].copy_from_slice(b"BIANC");
    let edited_hash = format!("{:x}", Sha256::digest(&edited));
    let answer = certificates
        .verify_certificate(public.request(verify(&certificate.verification_code, &edited_hash)))
        .await
        .unwrap()
        .into_inner();
    assert!(!answer.authentic);
    assert!(answer.reason.contains("differs"), "{answer:?}");

    // Verification discloses nothing personal and writes no audit row; issuing did.
    assert_eq!(h.audit_rows().await, 1);
}

#[tokio::test]
async fn a_certificate_altered_in_the_database_no_longer_verifies() {
    let h = Harness::start().await;
    let family = h.rossi_family().await;
    let mut certificates = h.certificates().await;
    let certificate = certificates
        .issue_certificate(operator("certificate.issue").request(by_themselves(
            issue(&family[0].id, CertificateType::Existence),
            &family[0].requester_ref,
        )))
        .await
        .unwrap()
        .into_inner()
        .certificate
        .unwrap();

    let refused = sqlx::query("update certificates set use_text = 'x'")
        .execute(h.pool())
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("never changed"), "{refused}");

    // Someone with the database's keys swaps the PDF and its hash.
    let forged = b"%PDF-1.7 forged".to_vec();
    let mut tx = h.pool().begin().await.unwrap();
    sqlx::query("alter table certificates disable trigger certificates_immutable")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("update certificates set pdf = $1, content_sha256 = $2")
        .bind(&forged)
        .bind(Sha256::digest(&forged).to_vec())
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let answer = certificates
        .verify_certificate(
            operator("certificate.verify").request(VerifyCertificateRequest {
                verification_code: certificate.verification_code,
                document_sha256: String::new(),
            }),
        )
        .await
        .unwrap()
        .into_inner();
    assert!(!answer.authentic, "the seal no longer matches");
    assert!(answer.reason.contains("altered"), "{answer:?}");
}

#[tokio::test]
async fn family_certificates_list_the_members_and_audit_each_of_them() {
    let h = Harness::start().await;
    let family = h.rossi_family().await;
    let mut certificates = h.certificates().await;
    let mut request = issue(&family[2].id, CertificateType::ResidenceFamily);
    request.exemption_code = "scuola".into();
    request.r#use = String::new();
    let issued = certificates
        .issue_certificate(operator("certificate.issue").request(request))
        .await
        .unwrap()
        .into_inner();
    let certificate = issued.certificate.unwrap();
    assert_eq!(certificate.stamp_duty.unwrap().amount_minor, 0);
    assert_eq!(certificate.fees.unwrap().amount_minor, 26);
    assert_eq!(
        certificate.r#use,
        "iscrizione e frequenza scolastica, borse di studio"
    );
    let text = text_of(&issued.pdf);
    for expected in [
        "CERTIFICATO DI RESIDENZA E STATO DI FAMIGLIA",
        "ROSSI MARIO",
        "intestatario",
        "BIANCHI MARIA",
        "coniuge",
        "ROSSI LUCA",
        "figlio",
        "art. 11 tab. all. B DPR 642/1972",
        "e che fa parte della famiglia anagrafica composta dalle seguenti persone (3 componenti):",
    ] {
        assert!(text.contains(expected), "{expected:?} not in {text}");
    }
    // DPR 445/2000 art. 40 c. 01 and art. 43 (issue 11, point 15): a school may not ask
    // for a certificate; the operator is told to offer the self-declaration.
    assert_eq!(issued.warnings.len(), 1, "{:?}", issued.warnings);
    assert!(issued.warnings[0].contains("art. 40 c. 01"));
    assert!(issued.warnings[0].contains("dichiarazione sostitutiva"));
    let disclosed: i32 = sqlx::query_scalar("select cardinality(resident_ids) from audit_log")
        .fetch_one(h.pool())
        .await
        .unwrap();
    assert_eq!(disclosed, 3);

    let again = certificates
        .get_certificate(
            registry_office("certificate.reprint").request(GetCertificateRequest {
                certificate_id: certificate.id.clone(),
                case_id: String::new(),
            }),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.pdf, issued.pdf);
    assert_eq!(h.audit_rows().await, 2);
}

/// DPR 642/1972 art. 3 (issue 11, point 13): the stamp-duty line says how the duty was
/// paid — here the contrassegno's identifier the operator entered; a bad identifier is
/// refused naming the field, and a method under an exemption is refused too.
#[tokio::test]
async fn the_stamp_duty_line_names_the_contrassegno_dpr_642_1972() {
    let h = Harness::start().await;
    let family = h.rossi_family().await;
    let mut certificates = h.certificates().await;
    let mut request = issue(&family[0].id, CertificateType::Residence);
    request.stamp_duty_payment = StampDutyPayment::Contrassegno as i32;
    request.stamp_duty_reference = "01180000123456".into();
    let issued = certificates
        .issue_certificate(operator("certificate.issue").request(request.clone()))
        .await
        .unwrap()
        .into_inner();
    let text = text_of(&issued.pdf);
    assert!(
        text.contains("assolta mediante contrassegno telematico n. 01180000123456"),
        "{text}"
    );
    assert!(issued.warnings.is_empty(), "{:?}", issued.warnings);
    request.stamp_duty_reference = "12".into();
    let status = certificates
        .issue_certificate(operator("certificate.issue").request(request.clone()))
        .await
        .unwrap_err();
    assert!(
        status.message().starts_with("stamp_duty_reference"),
        "{status:?}"
    );
    request.stamp_duty_reference = "01180000123456".into();
    request.exemption_code = "pensione_estera".into();
    let status = certificates
        .issue_certificate(operator("certificate.issue").request(request))
        .await
        .unwrap_err();
    assert!(
        status.message().starts_with("stamp_duty_payment"),
        "{status:?}"
    );
    assert_eq!(count(h.pool(), "certificates").await, 1);
}

/// D.Lgs 39/1993 art. 3 c. 2 and the family-status sentence (issue 11, points 12 and 15):
/// the printed signature names the official; the family status alone reads as a full
/// Italian sentence after "certifica che".
#[tokio::test]
async fn a_family_status_names_the_official_art_3_dlgs_39_1993() {
    let h = Harness::start().await;
    let family = h.rossi_family().await;
    let issued = h
        .certificates()
        .await
        .issue_certificate(
            operator("certificate.issue")
                .request(issue(&family[0].id, CertificateType::FamilyStatus)),
        )
        .await
        .unwrap()
        .into_inner();
    let text = text_of(&issued.pdf);
    for expected in [
        "codice fiscale RSSMRA80A01E463A fa parte della famiglia anagrafica composta dalle seguenti persone (3 componenti):",
        "L'Ufficiale d'Anagrafe: Maria Bianchi",
        "art. 3 c. 2 D.Lgs. 39/1993",
    ] {
        assert!(text.contains(expected), "{expected:?} not in {text}");
    }
    assert_eq!(
        issued.warnings.len(),
        1,
        "only the payment method is missing"
    );
}

/// Issue 11, point 14: a citizenship certificate attests Italian citizenship and is
/// issued only for Italian citizens; for a foreign resident the refusal names `type` and
/// says why, and nothing is written.
#[tokio::test]
async fn a_citizenship_certificate_is_refused_for_a_foreign_citizen() {
    let h = Harness::start().await;
    h.rossi_family().await;
    let mut anna = common::person(common::ANNA, "");
    anna.citizenship = "RO".into();
    let anna = h
        .residents()
        .await
        .register_resident(operator("resident.register").request(anna))
        .await
        .unwrap()
        .into_inner()
        .resident
        .unwrap();
    let outbox = count(h.pool(), "outbox").await;
    let audit = h.audit_rows().await;
    let status = h
        .certificates()
        .await
        .issue_certificate(
            operator("certificate.issue").request(issue(&anna.id, CertificateType::Citizenship)),
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("type"), "{status:?}");
    assert!(
        status.message().contains("cittadini italiani"),
        "{status:?}"
    );
    assert_eq!(count(h.pool(), "certificates").await, 0);
    assert_eq!(h.audit_rows().await, audit);
    assert_eq!(count(h.pool(), "outbox").await, outbox);
    // Her residence certificate is issued as before.
    h.certificates()
        .await
        .issue_certificate(
            operator("certificate.issue").request(issue(&anna.id, CertificateType::Residence)),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_birth_certificate_is_valid_without_limit_and_retries_issue_once() {
    let h = Harness::start().await;
    let family = h.rossi_family().await;
    let mut certificates = h.certificates().await;
    let mut request = issue(&family[1].id, CertificateType::Birth);
    request.person = Some(Person::RequesterRef(family[1].requester_ref.clone()));
    request.applicant_ref = family[1].requester_ref.clone();
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
    assert_eq!(first, second, "a retry answers the first certificate again");
    assert_eq!(count(h.pool(), "certificates").await, 1);
    let certificate = first.certificate.unwrap();
    assert_eq!(certificate.valid_until, "");
    let text = text_of(&first.pdf);
    assert!(text.contains("nata a GENOVA (GE) il 05/08/1982"), "{text}");
    assert!(text.contains("validità illimitata"), "{text}");
}

#[tokio::test]
async fn bad_requests_name_the_field_and_issue_nothing() {
    let h = Harness::start().await;
    let family = h.rossi_family().await;
    h.residents()
        .await
        .change_resident_status(
            operator("resident.status").request(ChangeResidentStatusRequest {
                resident_id: family[2].id.clone(),
                status: ResidentStatus::Deceased as i32,
                ..Default::default()
            }),
        )
        .await
        .unwrap();
    let outbox = count(h.pool(), "outbox").await;
    let mut certificates = h.certificates().await;
    let context = operator("certificate.issue");

    let mut malformed = issue(&family[0].id, CertificateType::Residence);
    malformed.person = Some(Person::FiscalCode("RSSMRA80A01E463Z".into()));
    let mut unknown = issue(&family[0].id, CertificateType::Residence);
    unknown.person = Some(Person::FiscalCode(common::code_of(common::ANNA)));
    let mut no_use = issue(&family[0].id, CertificateType::Residence);
    no_use.r#use = " ".into();
    let mut bad_exemption = issue(&family[0].id, CertificateType::Residence);
    bad_exemption.exemption_code = "amicizia".into();
    let mut no_official = issue(&family[0].id, CertificateType::Residence);
    no_official.responsible_official = " ".into();
    for (request, code, field) in [
        (malformed, Code::InvalidArgument, "fiscal_code"),
        (unknown, Code::NotFound, "fiscal_code"),
        (
            issue(&family[2].id, CertificateType::Residence),
            Code::InvalidArgument,
            "type",
        ),
        (
            issue(&family[2].id, CertificateType::Existence),
            Code::InvalidArgument,
            "type",
        ),
        (
            issue(&family[0].id, CertificateType::Unspecified),
            Code::InvalidArgument,
            "type",
        ),
        (no_use, Code::InvalidArgument, "use"),
        (bad_exemption, Code::InvalidArgument, "exemption_code"),
        (no_official, Code::InvalidArgument, "responsible_official"),
    ] {
        let status = certificates
            .issue_certificate(context.request(request))
            .await
            .unwrap_err();
        assert_eq!(status.code(), code, "{field}: {status:?}");
        assert!(status.message().starts_with(field), "{field}: {status:?}");
    }
    let status = certificates
        .issue_certificate(context.request(issue(&family[2].id, CertificateType::Residence)))
        .await
        .unwrap_err();
    assert!(status.message().contains("deceased"), "{status:?}");
    assert_eq!(count(h.pool(), "certificates").await, 0);
    assert_eq!(h.audit_rows().await, 0);
    assert_eq!(count(h.pool(), "outbox").await, outbox);
}
