//! An incoming document to register, parsed from its request once at the edge.

use sportello_kit::{MunicipalityCode, ServiceError, domain};
use sportello_proto::{
    common::v1::Channel,
    routing::v1::{IncomingKind, RegisterIncomingRequest},
};
use uuid::Uuid;

use crate::domain::Stored;

/// What the register records for an incoming document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// What was received.
    pub kind: IncomingKind,
    /// Who sent it, as a reference.
    pub sender_ref: String,
    /// Subject.
    pub subject: String,
    /// SHA-256 of the document, lowercase hex.
    pub document_sha256: String,
    /// How it arrived.
    pub channel: Channel,
    /// The case it belongs to.
    pub case_id: Option<Uuid>,
}

/// A sender reference: 1-64 letters, digits or `_ . : -` (a requester_ref, a business
/// id, an office code).
fn parse_sender_ref(raw: &str) -> Result<String, ServiceError> {
    // A fiscal code is a person, not a reference: send its requester_ref instead.
    if raw.parse::<sportello_pa::CodiceFiscale>().is_ok() {
        return Err(ServiceError::invalid_field(
            "sender_ref",
            "is a fiscal code: send the person's requester_ref, never the code itself",
        ));
    }
    let ok = (1..=64).contains(&raw.len())
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.:-".contains(c));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(ServiceError::invalid_field(
            "sender_ref",
            "must be 1-64 letters, digits or _ . : - (a reference, never a name)",
        ))
    }
}

/// A SHA-256 digest: 64 hex digits, stored lowercase.
pub fn parse_sha256(field: &str, raw: &str) -> Result<String, ServiceError> {
    if raw.len() == 64 && raw.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(ServiceError::invalid_field(
            field,
            "must be a SHA-256 digest: 64 hex digits",
        ))
    }
}

/// An optional record id.
pub fn parse_optional_id(field: &str, raw: &str) -> Result<Option<Uuid>, ServiceError> {
    if raw.is_empty() {
        Ok(None)
    } else {
        domain::parse_field(field, raw).map(Some)
    }
}

impl TryFrom<&RegisterIncomingRequest> for Incoming {
    type Error = ServiceError;

    fn try_from(request: &RegisterIncomingRequest) -> Result<Self, Self::Error> {
        Ok(Self {
            municipality: domain::parse_field(
                "municipality_istat_code",
                &request.municipality_istat_code,
            )?,
            kind: IncomingKind::from_request(request.kind, "kind")?,
            sender_ref: parse_sender_ref(&request.sender_ref)?,
            subject: domain::required_text("subject", &request.subject, 500)?,
            document_sha256: parse_sha256("document_sha256", &request.document_sha256)?,
            channel: Channel::from_request(request.channel, "channel")?,
            case_id: parse_optional_id("case_id", &request.case_id)?,
        })
    }
}

/// The number as written on documents: at least seven digits.
pub fn formatted_number(number: i64) -> String {
    format!("{number:07}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> RegisterIncomingRequest {
        RegisterIncomingRequest {
            municipality_istat_code: "011015".into(),
            kind: IncomingKind::Declaration as i32,
            sender_ref: "rr_0123456789abcdef0123456789abcdef".into(),
            subject: "Dichiarazione di cambio di residenza".into(),
            document_sha256: "AB".repeat(32),
            channel: Channel::Counter as i32,
            case_id: String::new(),
            idempotency_key: String::new(),
        }
    }

    #[test]
    fn a_valid_request_parses_with_a_lowercase_digest() {
        let incoming = Incoming::try_from(&request()).unwrap();
        assert_eq!(incoming.document_sha256, "ab".repeat(32));
    }

    #[test]
    fn each_bad_field_is_named() {
        sportello_kit::testing::assert_each_bad_field_is_named(
            &request(),
            |r| Incoming::try_from(r),
            &[
                ("kind", |r| r.kind = 0),
                ("sender_ref", |r| r.sender_ref = "Mario Rossi".into()),
                ("sender_ref", |r| r.sender_ref = "RSSMRA80A01H501U".into()),
                ("subject", |r| r.subject.clear()),
                ("document_sha256", |r| r.document_sha256 = "abc".into()),
                ("channel", |r| r.channel = 0),
                ("case_id", |r| r.case_id = "not-a-uuid".into()),
                ("municipality_istat_code", |r| {
                    r.municipality_istat_code = "1".into()
                }),
            ],
        );
    }

    #[test]
    fn numbers_have_at_least_seven_digits() {
        assert_eq!(formatted_number(123), "0000123");
        assert_eq!(formatted_number(12_345_678), "12345678");
    }
}
