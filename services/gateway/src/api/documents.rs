//! Documents carried in a JSON body, base64-encoded: the change of residence's and the
//! SUAP filings' attachments.
//!
//! Why base64 in JSON rather than multipart: each service takes a filing and its
//! documents in one unary gRPC message, so the gateway holds every byte in memory
//! whichever way they arrive — multipart would save only base64's third and the
//! decoding copy, at the cost of a second request shape, a second error path and a
//! second content type for the OpenAPI document and its contract tests. JSON keeps one
//! body, checked once, whose errors name `documents[i].…` like every other field; the
//! route's body limit is raised for that route only (see [`WithDocuments`]).

use axum::extract::{FromRequest, Request};
use base64::{
    Engine as _, alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
};
use serde::de::DeserializeOwned;
use sportello_kit::{ErrorKind, ServiceError, documents::MediaType};

use super::body::Body;
use crate::app::AppState;

/// Standard base64 with canonical padding, as the document's pattern states it. Unused
/// trailing bits are allowed: the pattern cannot express them, and a request the
/// document allows must not be refused as malformed.
pub const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// The base64 length of `bytes` bytes.
pub fn encoded_len(bytes: u64) -> u64 {
    bytes.div_ceil(3).saturating_mul(4)
}

/// The largest body carrying `count` documents at the size limit in base64, and a
/// mebibyte for the fields and the JSON around them.
pub fn body_limit(document_max_bytes: u64, count: usize) -> usize {
    let documents = encoded_len(document_max_bytes).saturating_mul(count as u64);
    usize::try_from(documents)
        .unwrap_or(usize::MAX)
        .saturating_add(1024 * 1024)
}

/// The largest gRPC reply carrying one document: a document at the size limit, and a
/// mebibyte for its title and ids. tonic's default (4 MiB) would refuse a scan under
/// the limit with a bare "message too large".
pub fn reply_limit(document_max_bytes: u64) -> usize {
    usize::try_from(document_max_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(1024 * 1024)
}

/// Refuses more than `max` documents, naming `documents`.
pub fn at_most(count: usize, max: usize) -> Result<(), ServiceError> {
    if count > max {
        return Err(ServiceError::invalid_field(
            "documents",
            format!("al massimo {max} documenti / at most {max} documents"),
        ));
    }
    Ok(())
}

/// Checks document `index`'s type and decodes its content as the OpenAPI document
/// states them; the service then checks that the content is what its type says (magic
/// bytes), and a refusal names `documents[i].media_type` all the same.
pub fn decode(
    index: usize,
    media_type: &str,
    content_base64: &str,
    max_bytes: u64,
) -> Result<Vec<u8>, ServiceError> {
    let field = |name: &str| format!("documents[{index}].{name}");
    if !MediaType::ALL.iter().any(|t| t.as_str() == media_type) {
        return Err(ServiceError::invalid_field(
            field("media_type"),
            "uno tra application/pdf, image/jpeg, image/png, application/pkcs7-mime, \
             application/xml / one of application/pdf, image/jpeg, image/png, \
             application/pkcs7-mime, application/xml",
        ));
    }
    let too_big = || {
        ServiceError::invalid_field(
            field("content_base64"),
            format!(
                "il documento supera {max_bytes} byte / the document exceeds {max_bytes} bytes"
            ),
        )
    };
    // Refused before decoding: a body at the route's limit decodes nothing.
    if content_base64.len() as u64 > encoded_len(max_bytes) {
        return Err(too_big());
    }
    let content = BASE64.decode(content_base64.as_bytes()).map_err(|_| {
        ServiceError::invalid_field(
            field("content_base64"),
            "non è base64 standard con padding / is not standard base64 with padding",
        )
    })?;
    if content.is_empty() {
        return Err(ServiceError::invalid_field(
            field("content_base64"),
            "è vuoto / is empty",
        ));
    }
    if content.len() as u64 > max_bytes {
        return Err(too_big());
    }
    Ok(content)
}

/// A form that carries documents, at most so many.
pub trait CarriesDocuments {
    /// The most documents it carries, as the service behind takes them.
    const MAX_DOCUMENTS: usize;
}

/// A JSON body carrying documents, read up to [`body_limit`] of the configured document
/// size instead of axum's 2 MB default (which its route disables): every other body
/// stays small.
#[derive(Debug)]
pub struct WithDocuments<T>(pub T);

impl<T> FromRequest<AppState> for WithDocuments<T>
where
    T: DeserializeOwned + CarriesDocuments,
{
    type Rejection = ServiceError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = body_limit(state.settings.document_max_bytes, T::MAX_DOCUMENTS);
        let (parts, body) = request.into_parts();
        let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
            ServiceError::new(
                ErrorKind::InvalidArgument,
                format!(
                    "il corpo della richiesta non si legge o supera {limit} byte / the request \
                     body could not be read or exceeds {limit} bytes"
                ),
            )
        })?;
        let request = Request::from_parts(parts, axum::body::Body::from(bytes));
        let Body(form) = Body::<T>::from_request(request, state).await?;
        Ok(Self(form))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_field(result: Result<Vec<u8>, ServiceError>) -> String {
        let error = result.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{error}");
        error
            .violations()
            .first()
            .map(|v| v.field.clone())
            .unwrap_or_default()
    }

    #[test]
    fn contents_are_decoded_and_checked_naming_their_field() {
        // 16 bytes: the base64 ends in "==", which an unpadded copy drops.
        let pdf = BASE64.encode(b"%PDF-1.4\n%%EOF\n\n");
        assert!(pdf.ends_with("=="));
        assert_eq!(
            decode(0, "application/pdf", &pdf, 100).unwrap(),
            b"%PDF-1.4\n%%EOF\n\n"
        );
        assert_eq!(
            refused_field(decode(1, "image/png", "not base64!", 100)),
            "documents[1].content_base64"
        );
        let unpadded = pdf.trim_end_matches('=');
        assert_eq!(
            refused_field(decode(0, "application/pdf", unpadded, 100)),
            "documents[0].content_base64"
        );
        assert_eq!(
            refused_field(decode(0, "application/pdf", &pdf, 4)),
            "documents[0].content_base64"
        );
        assert_eq!(
            refused_field(decode(0, "application/pdf", "", 100)),
            "documents[0].content_base64"
        );
        for media_type in ["application/PDF", "text/plain", ""] {
            assert_eq!(
                refused_field(decode(0, media_type, &pdf, 100)),
                "documents[0].media_type"
            );
        }
        assert_eq!(
            at_most(6, 5).unwrap_err().violations()[0].field,
            "documents"
        );
        assert!(at_most(5, 5).is_ok());
    }

    #[test]
    fn the_body_limit_holds_its_documents_at_the_limit() {
        let max = 10 * 1024 * 1024;
        let one = usize::try_from(encoded_len(max)).unwrap();
        assert!(body_limit(max, 5) > 5 * one);
        assert!(body_limit(max, 5) < 5 * one + 2 * 1024 * 1024);
        assert_eq!(encoded_len(3), 4);
        assert_eq!(encoded_len(4), 8);
    }
}
