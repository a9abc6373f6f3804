//! Public certificate verification: anyone holding a certificate checks its code, and
//! optionally the SHA-256 of the document in hand. Says nothing about the person.

use axum::{Json, extract::State};
use serde::Deserialize;
use sportello_kit::ServiceError;
use sportello_proto::registry::v1::VerifyCertificateRequest;

use super::{
    body::{Path, Query},
    views::short_name,
};
use crate::app::AppState;

/// The optional hash of the document in hand.
#[derive(Debug, Deserialize)]
pub struct VerifyQuery {
    #[serde(default)]
    pub sha256: String,
}

/// A verification code as a person types it: 16 Crockford base-32 characters (any
/// case; I, L and O read as 1, 1 and 0; no U) among dashes and spaces — the document's
/// `^[- ]*(?:[0-9A-TV-Za-tv-z][- ]*){16}$`.
fn is_code(raw: &str) -> bool {
    let mut count = 0;
    for c in raw.chars() {
        match c {
            '-' | ' ' => {}
            c if c.is_ascii_alphanumeric() && !c.eq_ignore_ascii_case(&'u') => count += 1,
            _ => return false,
        }
    }
    count == 16
}

/// `GET /api/v1/verify/{code}`.
pub async fn verify(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(query): Query<VerifyQuery>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    if !is_code(&code) {
        return Err(ServiceError::invalid_field(
            "code",
            "must be the 16-character code printed on the certificate",
        ));
    }
    let sha256 = &query.sha256;
    if !(sha256.is_empty() || sha256.len() == 64 && sha256.chars().all(|c| c.is_ascii_hexdigit())) {
        return Err(ServiceError::invalid_field(
            "sha256",
            "must be 64 hex digits when given",
        ));
    }
    let context = state.public_context("certificate.verify")?;
    let reply = state
        .certificates()?
        .verify_certificate(context.request(VerifyCertificateRequest {
            verification_code: code.to_ascii_uppercase(),
            document_sha256: sha256.to_ascii_lowercase(),
        }))
        .await?
        .into_inner();
    Ok(Json(serde_json::json!({
        "authentic": reply.authentic,
        "reason": reply.reason,
        "type": short_name(reply.r#type().as_str_name(), "CERTIFICATE_TYPE_"),
        "municipality_istat_code": reply.municipality_istat_code,
        "issue_time": super::views::time(reply.issue_time.as_ref()),
        "valid_until": reply.valid_until,
        "expired": reply.expired,
        "content_sha256": reply.content_sha256,
    })))
}

#[cfg(test)]
mod tests {
    use super::is_code;

    #[test]
    fn codes_are_sixteen_characters_among_dashes_and_spaces() {
        assert!(is_code("7KQ2-M9XD-4RTA-0PWE"));
        assert!(is_code("7kq2 m9xd 4rta opwe"));
        assert!(!is_code("7KQ2-M9XD-4RTA-0PW"));
        assert!(!is_code("7KQ2-M9XD-4RTA-0PWU"));
        assert!(!is_code("\t7KQ2-M9XD-4RTA-0PWE"));
    }
}
