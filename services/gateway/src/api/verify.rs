//! Public certificate verification: anyone holding a certificate checks its code, and
//! optionally the SHA-256 of the document in hand. Says nothing about the person.

use axum::{
    Json,
    extract::{Path, Query, State},
};
use serde::Deserialize;
use sportello_kit::ServiceError;
use sportello_proto::registry::v1::VerifyCertificateRequest;

use super::views::short_name;
use crate::app::AppState;

/// The optional hash of the document in hand.
#[derive(Debug, Deserialize)]
pub struct VerifyQuery {
    #[serde(default)]
    pub sha256: String,
}

/// `GET /api/v1/verify/{code}`.
pub async fn verify(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(query): Query<VerifyQuery>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let context = state.public_context("certificate.verify")?;
    let reply = state
        .certificates()?
        .verify_certificate(context.request(VerifyCertificateRequest {
            verification_code: code.trim().to_ascii_uppercase(),
            document_sha256: query.sha256.trim().to_ascii_lowercase(),
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
