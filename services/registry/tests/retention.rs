//! Retention: a certificate's PDF is discarded after RETENTION_CERTIFICATES, while its
//! verification record stays and still verifies; a recent one keeps its PDF.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Harness, operator, registry_office};
use sportello_proto::registry::v1::{
    CertificateType, GetCertificateRequest, IssueCertificateRequest, VerifyCertificateRequest,
    issue_certificate_request::Person,
};
use tonic::Code;

fn issue(resident_id: &str) -> IssueCertificateRequest {
    IssueCertificateRequest {
        municipality_istat_code: "011015".into(),
        person: Some(Person::ResidentId(resident_id.into())),
        r#type: CertificateType::Residence as i32,
        r#use: "uso amministrativo".into(),
        responsible_official: "Maria Bianchi".into(),
        ..Default::default()
    }
}

fn days(n: i64) -> jiff::SignedDuration {
    jiff::SignedDuration::from_hours(24 * n)
}

#[tokio::test]
async fn an_old_certificates_pdf_is_gone_and_a_recent_ones_is_there() {
    let h = Harness::start().await;
    let family = h.rossi_family().await;
    let mut certificates = h.certificates().await;
    let mut issue_one = async || {
        certificates
            .issue_certificate(operator("certificate.issue").request(issue(&family[0].id)))
            .await
            .unwrap()
            .into_inner()
            .certificate
            .unwrap()
    };
    let old = issue_one().await;
    h.ctx.clock.advance(days(100));
    let recent = issue_one().await;
    h.ctx.clock.advance(days(91));

    let purged = h.registry.running.workers.janitor.run_once().await.unwrap();
    assert_eq!(purged.rule("registry.certificate_pdfs"), 1);

    let mut certificates = h.certificates().await;
    let get = |id: &str| {
        registry_office("certificate.reprint").request(GetCertificateRequest {
            certificate_id: id.into(),
            ..Default::default()
        })
    };
    let error = certificates
        .get_certificate(get(&old.id))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::FailedPrecondition, "{error:?}");
    assert!(
        error.message().contains("RETENTION_CERTIFICATES"),
        "{error:?}"
    );
    let reprint = certificates
        .get_certificate(get(&recent.id))
        .await
        .unwrap()
        .into_inner();
    assert!(reprint.pdf.starts_with(b"%PDF-"));

    // The old one's verification record stays: a copy someone holds still verifies.
    let public = sportello_kit::CallContext::new(
        "gateway",
        "citizen:anonymous",
        "011015",
        "certificate.verify",
    )
    .unwrap();
    let answer = certificates
        .verify_certificate(public.request(VerifyCertificateRequest {
            verification_code: old.verification_code.clone(),
            document_sha256: old.content_sha256.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(answer.authentic, "{answer:?}");
    assert_eq!(answer.content_sha256, old.content_sha256);

    // Discarding the PDF is the one change a certificate admits.
    let changed = sqlx::query("update certificates set use_text = 'altro' where id = $1::uuid")
        .bind(&old.id)
        .execute(h.pool())
        .await;
    assert!(changed.is_err(), "{changed:?}");
    // And a second pass finds nothing more to do.
    let purged = h.registry.running.workers.janitor.run_once().await.unwrap();
    assert_eq!(purged.rule("registry.certificate_pdfs"), 0);
}
