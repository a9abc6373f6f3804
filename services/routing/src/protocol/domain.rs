//! A document to register, incoming or outgoing, parsed from its request once at the
//! edge.

use sportello_kit::{MunicipalityCode, ServiceError, domain};
use sportello_proto::{
    common::v1::Channel,
    routing::v1::{
        Direction, IncomingKind, OutgoingKind, RegisterIncomingRequest, RegisterOutgoingRequest,
    },
};
use uuid::Uuid;

use crate::domain::Stored;

/// What a document is, and so which way it went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Received by the municipality.
    Incoming(IncomingKind),
    /// Sent by the municipality (DPR 445/2000 art. 53 c. 5).
    Outgoing(OutgoingKind),
}

impl Kind {
    /// The text in the `kind` column (the two directions' texts do not overlap).
    pub fn to_db(self) -> &'static str {
        match self {
            Kind::Incoming(kind) => kind.to_db(),
            Kind::Outgoing(kind) => kind.to_db(),
        }
    }

    /// The text in the `direction` column.
    pub fn direction_db(self) -> &'static str {
        match self {
            Kind::Incoming(_) => "incoming",
            Kind::Outgoing(_) => "outgoing",
        }
    }

    /// From the `direction` and `kind` columns.
    pub fn from_db(direction: &str, kind: &str) -> Option<Self> {
        match direction {
            "incoming" => IncomingKind::from_db(kind).map(Kind::Incoming),
            "outgoing" => OutgoingKind::from_db(kind).map(Kind::Outgoing),
            _ => None,
        }
    }

    /// The direction as a message.
    pub fn direction(self) -> Direction {
        match self {
            Kind::Incoming(_) => Direction::Incoming,
            Kind::Outgoing(_) => Direction::Outgoing,
        }
    }

    /// The incoming kind, unspecified for an outgoing entry.
    pub fn incoming(self) -> IncomingKind {
        match self {
            Kind::Incoming(kind) => kind,
            Kind::Outgoing(_) => IncomingKind::Unspecified,
        }
    }

    /// The outgoing kind, unspecified for an incoming entry.
    pub fn outgoing(self) -> OutgoingKind {
        match self {
            Kind::Outgoing(kind) => kind,
            Kind::Incoming(_) => OutgoingKind::Unspecified,
        }
    }
}

/// What the register records for a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// What it is, and which way it went.
    pub kind: Kind,
    /// Who sent it, as a reference: for an outgoing document, the sending service.
    pub sender_ref: String,
    /// To whom an outgoing document was sent, as a reference.
    pub recipient_ref: Option<String>,
    /// Subject.
    pub subject: String,
    /// SHA-256 of the document, lowercase hex.
    pub document_sha256: String,
    /// How it arrived.
    pub channel: Channel,
    /// The case it belongs to.
    pub case_id: Option<Uuid>,
    /// The correspondents' names, when the caller gave them (sealed before storing).
    pub names: Names,
}

/// The correspondents by name (DPR 445/2000 art. 53 c. 1 lett. c).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    /// Who sent an incoming document.
    pub sender: Option<Name>,
    /// To whom an outgoing document went.
    pub recipient: Option<Name>,
}

/// A correspondent's name: a person's name and surname or a body's name. Its `Debug`
/// shows nothing, so it cannot reach a log or a trace by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A name read back from the register (opened from its sealed form).
    pub fn opened(name: String) -> Self {
        Self(name)
    }

    /// An optional name, 1-200 characters without control characters; empty is none.
    pub fn parse_optional(field: &'static str, raw: &str) -> Result<Option<Self>, ServiceError> {
        if raw.is_empty() {
            return Ok(None);
        }
        let name = domain::required_text(field, raw, 200)?;
        if name.parse::<sportello_pa::CodiceFiscale>().is_ok() {
            return Err(ServiceError::invalid_field(
                field,
                "is a fiscal code: send the name and surname (or the body's name)",
            ));
        }
        Ok(Some(Self(name)))
    }
}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Name(<redacted>)")
    }
}

/// A correspondent's reference: 1-64 letters, digits or `_ . : -` (a requester_ref, a
/// business id, an office code).
fn parse_reference(field: &'static str, raw: &str) -> Result<String, ServiceError> {
    // A fiscal code is a person, not a reference: send its requester_ref instead.
    if raw.parse::<sportello_pa::CodiceFiscale>().is_ok() {
        return Err(ServiceError::invalid_field(
            field,
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
            field,
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

impl TryFrom<&RegisterIncomingRequest> for Entry {
    type Error = ServiceError;

    fn try_from(request: &RegisterIncomingRequest) -> Result<Self, Self::Error> {
        Ok(Self {
            municipality: domain::parse_field(
                "municipality_istat_code",
                &request.municipality_istat_code,
            )?,
            kind: Kind::Incoming(IncomingKind::from_request(request.kind, "kind")?),
            sender_ref: parse_reference("sender_ref", &request.sender_ref)?,
            recipient_ref: None,
            subject: domain::required_text("subject", &request.subject, 500)?,
            document_sha256: parse_sha256("document_sha256", &request.document_sha256)?,
            channel: Channel::from_request(request.channel, "channel")?,
            case_id: parse_optional_id("case_id", &request.case_id)?,
            names: Names {
                sender: Name::parse_optional("sender_name", &request.sender_name)?,
                recipient: None,
            },
        })
    }
}

impl Entry {
    /// An outgoing document sent by `sender` (the calling service, the office that
    /// sends it).
    pub fn outgoing(request: &RegisterOutgoingRequest, sender: &str) -> Result<Self, ServiceError> {
        Ok(Self {
            municipality: domain::parse_field(
                "municipality_istat_code",
                &request.municipality_istat_code,
            )?,
            kind: Kind::Outgoing(OutgoingKind::from_request(request.kind, "kind")?),
            // The service's name is a reference already; clipped to the column's
            // length rather than refused, since the caller cannot change it.
            sender_ref: sender.chars().take(64).collect(),
            recipient_ref: Some(parse_reference("recipient_ref", &request.recipient_ref)?),
            subject: domain::required_text("subject", &request.subject, 500)?,
            document_sha256: parse_sha256("document_sha256", &request.document_sha256)?,
            channel: Channel::from_request(request.channel, "channel")?,
            case_id: parse_optional_id("case_id", &request.case_id)?,
            names: Names {
                sender: None,
                recipient: Name::parse_optional("recipient_name", &request.recipient_name)?,
            },
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
            sender_name: "Mario Rossi".into(),
        }
    }

    #[test]
    fn a_valid_request_parses_with_a_lowercase_digest() {
        let incoming = Entry::try_from(&request()).unwrap();
        assert_eq!(incoming.document_sha256, "ab".repeat(32));
    }

    #[test]
    fn each_bad_field_is_named() {
        sportello_kit::testing::assert_each_bad_field_is_named(
            &request(),
            |r| Entry::try_from(r),
            &[
                ("kind", |r| r.kind = 0),
                ("sender_ref", |r| r.sender_ref = "Mario Rossi".into()),
                ("sender_ref", |r| r.sender_ref = "RSSMRA80A01H501U".into()),
                ("subject", |r| r.subject.clear()),
                ("document_sha256", |r| r.document_sha256 = "abc".into()),
                ("channel", |r| r.channel = 0),
                ("case_id", |r| r.case_id = "not-a-uuid".into()),
                ("sender_name", |r| r.sender_name = "Mario\nRossi".into()),
                ("sender_name", |r| r.sender_name = "M".repeat(201)),
                ("sender_name", |r| r.sender_name = "   ".into()),
                ("sender_name", |r| r.sender_name = "RSSMRA80A01H501U".into()),
                ("municipality_istat_code", |r| {
                    r.municipality_istat_code = "1".into()
                }),
            ],
        );
    }

    #[test]
    fn a_name_is_optional_and_never_shown_by_debug() {
        let mut without = request();
        without.sender_name.clear();
        assert_eq!(Entry::try_from(&without).unwrap().names, Names::default());
        let with = Entry::try_from(&request()).unwrap();
        assert_eq!(with.names.sender.as_ref().unwrap().as_str(), "Mario Rossi");
        assert!(!format!("{with:?}").contains("Rossi"));
    }

    #[test]
    fn numbers_have_at_least_seven_digits() {
        assert_eq!(formatted_number(123), "0000123");
        assert_eq!(formatted_number(12_345_678), "12345678");
    }
}
