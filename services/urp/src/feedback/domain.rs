//! A rating, parsed from its request once at the edge.

use sportello_kit::{MunicipalityCode, ServiceError, domain};
use sportello_proto::{common::v1::Channel, urp::v1::SubmitFeedbackRequest};

/// A rating as URP records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFeedback {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// Catalogue code of the service rated.
    pub service_code: String,
    /// How the service was received.
    pub channel: Channel,
    /// 1 to 5.
    pub rating: i16,
    /// Free comment (may be empty).
    pub comment: String,
}

/// Longest comment accepted.
pub const MAX_COMMENT: usize = 2_000;

/// A catalogue code: lowercase dotted words, e.g. `registry.residence_certificate`.
pub fn is_service_code(code: &str) -> bool {
    let mut parts = code.split('.');
    let first_ok = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()));
    let rest: Vec<_> = parts.collect();
    first_ok
        && !rest.is_empty()
        && code.len() <= 64
        && rest.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

impl TryFrom<&SubmitFeedbackRequest> for NewFeedback {
    type Error = ServiceError;

    fn try_from(request: &SubmitFeedbackRequest) -> Result<Self, Self::Error> {
        if !is_service_code(&request.service_code) {
            return Err(ServiceError::invalid_field(
                "service_code",
                "must be a catalogue code such as registry.residence_certificate",
            ));
        }
        let channel = match Channel::try_from(request.channel) {
            Ok(Channel::Unspecified) | Err(_) => {
                return Err(ServiceError::invalid_field("channel", "is required"));
            }
            Ok(channel) => channel,
        };
        let rating = i16::try_from(request.rating)
            .ok()
            .filter(|r| (1..=5).contains(r))
            .ok_or_else(|| ServiceError::invalid_field("rating", "must be 1 to 5"))?;
        let comment = request.comment.trim();
        if comment.chars().count() > MAX_COMMENT {
            return Err(ServiceError::invalid_field(
                "comment",
                format!("must be at most {MAX_COMMENT} characters"),
            ));
        }
        Ok(Self {
            municipality: domain::parse_field(
                "municipality_istat_code",
                &request.municipality_istat_code,
            )?,
            service_code: request.service_code.clone(),
            channel,
            rating,
            comment: comment.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> SubmitFeedbackRequest {
        SubmitFeedbackRequest {
            municipality_istat_code: "011015".into(),
            service_code: "registry.residence_certificate".into(),
            channel: Channel::Counter as i32,
            rating: 5,
            comment: "Veloce e cortese".into(),
            idempotency_key: String::new(),
        }
    }

    #[test]
    fn a_valid_request_parses() {
        assert_eq!(NewFeedback::try_from(&request()).unwrap().rating, 5);
    }

    #[test]
    fn each_bad_field_is_named() {
        sportello_kit::testing::assert_each_bad_field_is_named(
            &request(),
            |r| NewFeedback::try_from(r),
            &[
                ("service_code", |r| r.service_code = "Registry".into()),
                ("channel", |r| r.channel = 0),
                ("rating", |r| r.rating = 0),
                ("rating", |r| r.rating = 6),
                ("comment", |r| r.comment = "a".repeat(2_001)),
            ],
        );
    }

    #[test]
    fn service_codes_are_dotted_lowercase() {
        assert!(is_service_code("suap.dehors"));
        assert!(is_service_code("registry.residence_certificate"));
        for bad in ["suap", "suap.", ".dehors", "Suap.dehors", "suap.de hors"] {
            assert!(!is_service_code(bad), "{bad}");
        }
    }
}
