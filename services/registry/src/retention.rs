//! The registry's retention rules (issue 19).
//!
//! An issued certificate's PDF is kept `RETENTION_CERTIFICATES` (190 days by default: a
//! certificate is valid six months, DPR 445/2000 art. 41, and may be reprinted while
//! valid), then discarded. The rest of the row stays, deliberately: `VerifyCertificate`
//! answers a receiving office that holds a copy by the verification code, the SHA-256 of
//! the PDF and the seal over them (DPR 445/2000 art. 43 lets offices check what they are
//! handed), and the row is the record of what was certified, for whom, with which stamp
//! duty. The issued PDF also lives in the stored reply of an idempotent issue for
//! `RETENTION_IDEMPOTENCY` (7 days), which must stay shorter.
//!
//! Residents, their states and residence changes are the population register itself
//! (DPR 223/1989): they are never purged, and nothing here proposes them for discard.

use sportello_kit::retention::{Action, Category, RetentionRule};

/// The registry's rules, handed to the kit's janitor at start.
pub static RULES: &[RetentionRule] = &[RetentionRule {
    name: "registry.certificate_pdfs",
    category: Category::Certificates,
    table: "certificates",
    age: "issued_at",
    pending: "pdf is not null",
    action: Action::Anonymise("pdf = null, pdf_purged_at = $3"),
}];
