//! Issued certificates in PostgreSQL, and their seal.

use jiff::Timestamp;
use sha2::{Digest, Sha256};
use sportello_kit::{MunicipalityCode, uow::SqlTimestamp};
use sqlx::{PgConnection, PgExecutor, Row, postgres::PgRow};

use super::{code::VerificationCode, kind::CertificateType};
use crate::{
    config::SealKey,
    domain::{CertificateId, Day, ResidentId},
    error::RegistryError,
};

/// A certificate as stored.
#[derive(Debug, Clone)]
pub struct Certificate {
    /// Record id.
    pub id: CertificateId,
    /// Issuing municipality.
    pub municipality: MunicipalityCode,
    /// Verification code.
    pub code: VerificationCode,
    /// What it certifies.
    pub kind: CertificateType,
    /// The person it is about.
    pub resident_id: ResidentId,
    /// Everyone it names.
    pub disclosed: Vec<ResidentId>,
    /// The declared use.
    pub use_text: String,
    /// The stamp-duty exemption, if any.
    pub exemption_code: Option<String>,
    /// Stamp duty paid, cents.
    pub stamp_duty_cents: i32,
    /// Secretarial fees, cents.
    pub fees_cents: i32,
    /// When it was issued.
    pub issued_at: Timestamp,
    /// Last day of validity; `None` for unlimited.
    pub valid_until: Option<Day>,
    /// SHA-256 of the PDF.
    pub content_sha256: [u8; 32],
    /// HMAC over the fields that make it what it is.
    pub seal: [u8; 32],
    /// The PDF as issued; empty once discarded after `RETENTION_CERTIFICATES`.
    pub pdf: Vec<u8>,
    /// When the PDF was discarded (the rest of the record stays, for verification).
    pub pdf_purged_at: Option<Timestamp>,
    /// The counter case it was issued in, if any.
    pub case_id: Option<String>,
    /// Who asked (a case's requester_ref), when known.
    pub applicant_ref: Option<String>,
    /// Issued to someone other than the person certified, or to an unknown applicant
    /// (DPR 223/1989 art. 33 c. 1).
    pub third_party: bool,
}

impl Certificate {
    /// The seal of this certificate's identity, code, subject, issue time and content
    /// under `key`.
    pub fn compute_seal(&self, key: &SealKey) -> [u8; 32] {
        let disclosed: Vec<u8> = self
            .disclosed
            .iter()
            .flat_map(|id| *id.0.as_bytes())
            .collect();
        let valid_until = self.valid_until.map(|d| d.to_string()).unwrap_or_default();
        key.seal(&[
            self.id.0.as_bytes(),
            self.municipality.as_str().as_bytes(),
            self.code.as_str().as_bytes(),
            self.kind.as_db().as_bytes(),
            self.resident_id.0.as_bytes(),
            &disclosed,
            &self.issued_at.as_nanosecond().to_be_bytes(),
            valid_until.as_bytes(),
            &self.content_sha256,
        ])
    }

    /// Whether the stored PDF still has its recorded hash and the row its seal.
    pub fn intact(&self, key: &SealKey) -> bool {
        // A discarded PDF leaves the recorded hash, which the seal still covers.
        let pdf_intact = self.pdf_purged_at.is_some()
            || <[u8; 32]>::from(Sha256::digest(&self.pdf)) == self.content_sha256;
        pdf_intact && self.compute_seal(key) == self.seal
    }
}

/// Stores a certificate.
pub async fn insert(
    conn: &mut PgConnection,
    c: &Certificate,
    caller: &str,
    actor: &str,
) -> Result<(), RegistryError> {
    let disclosed: Vec<uuid::Uuid> = c.disclosed.iter().map(|id| id.0).collect();
    sqlx::query(
        "insert into certificates (
             id, municipality, verification_code, certificate_type, resident_id, disclosed,
             use_text, exemption_code, stamp_duty_cents, fees_cents, issued_at, valid_until,
             content_sha256, seal, pdf, caller, actor, case_id, applicant_ref, third_party)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                 $18, $19, $20)",
    )
    .bind(c.id.0)
    .bind(c.municipality.as_str())
    .bind(c.code.as_str())
    .bind(c.kind.as_db())
    .bind(c.resident_id.0)
    .bind(&disclosed)
    .bind(&c.use_text)
    .bind(c.exemption_code.as_deref())
    .bind(c.stamp_duty_cents)
    .bind(c.fees_cents)
    .bind(SqlTimestamp::from(c.issued_at))
    .bind(c.valid_until.map(jiff_sqlx::Date::from))
    .bind(&c.content_sha256[..])
    .bind(&c.seal[..])
    .bind(&c.pdf)
    .bind(caller)
    .bind(actor)
    .bind(c.case_id.as_deref())
    .bind(c.applicant_ref.as_deref())
    .bind(c.third_party)
    .execute(conn)
    .await
    .map_err(|error| {
        match sportello_kit::db::violated_constraint(
            &error,
            sportello_kit::db::sqlstate::UNIQUE_VIOLATION,
        ) {
            // 80 random bits: a collision is a freak; the caller may simply retry.
            Some("certificates_code_unique") => {
                RegistryError::Conflict("verification code collision; retry")
            }
            _ => RegistryError::Db(error),
        }
    })?;
    Ok(())
}

const COLUMNS: &str =
    "id, municipality, verification_code, certificate_type, resident_id, disclosed,
     use_text, exemption_code, stamp_duty_cents, fees_cents, issued_at, valid_until,
     content_sha256, seal, pdf, pdf_purged_at, case_id, applicant_ref, third_party";

/// A certificate by record id.
pub async fn by_id<'e>(
    executor: impl PgExecutor<'e>,
    id: CertificateId,
) -> Result<Option<Certificate>, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from certificates where id = $1"
    )))
    .bind(id.0)
    .fetch_optional(executor)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// A certificate by verification code.
pub async fn by_code<'e>(
    executor: impl PgExecutor<'e>,
    code: &VerificationCode,
) -> Result<Option<Certificate>, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from certificates where verification_code = $1"
    )))
    .bind(code.as_str())
    .fetch_optional(executor)
    .await?;
    row.as_ref().map(from_row).transpose()
}

fn decode(column: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("unexpected value in column {column}").into())
}

fn hash32(row: &PgRow, column: &str) -> Result<[u8; 32], sqlx::Error> {
    let bytes: Vec<u8> = row.try_get(column)?;
    bytes.try_into().map_err(|_| decode(column))
}

fn from_row(row: &PgRow) -> Result<Certificate, sqlx::Error> {
    let municipality: String = row.try_get("municipality")?;
    let kind: String = row.try_get("certificate_type")?;
    let disclosed: Vec<uuid::Uuid> = row.try_get("disclosed")?;
    Ok(Certificate {
        id: CertificateId(row.try_get("id")?),
        municipality: municipality.parse().map_err(|_| decode("municipality"))?,
        code: VerificationCode::from_db(row.try_get("verification_code")?),
        kind: CertificateType::from_db(&kind).ok_or_else(|| decode("certificate_type"))?,
        resident_id: ResidentId(row.try_get("resident_id")?),
        disclosed: disclosed.into_iter().map(ResidentId).collect(),
        use_text: row.try_get("use_text")?,
        exemption_code: row.try_get("exemption_code")?,
        stamp_duty_cents: row.try_get("stamp_duty_cents")?,
        fees_cents: row.try_get("fees_cents")?,
        issued_at: row.try_get::<SqlTimestamp, _>("issued_at")?.to_jiff(),
        valid_until: row
            .try_get::<Option<jiff_sqlx::Date>, _>("valid_until")?
            .map(jiff_sqlx::Date::to_jiff),
        content_sha256: hash32(row, "content_sha256")?,
        seal: hash32(row, "seal")?,
        pdf: row
            .try_get::<Option<Vec<u8>>, _>("pdf")?
            .unwrap_or_default(),
        pdf_purged_at: row
            .try_get::<Option<SqlTimestamp>, _>("pdf_purged_at")?
            .map(SqlTimestamp::to_jiff),
        case_id: row.try_get("case_id")?,
        applicant_ref: row.try_get("applicant_ref")?,
        third_party: row.try_get("third_party")?,
    })
}
