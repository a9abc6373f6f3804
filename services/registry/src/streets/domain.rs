//! A street to register, parsed from its request once at the edge.

use sportello_kit::{MunicipalityCode, ServiceError, domain};
use sportello_proto::registry::v1::RegisterStreetRequest;

/// A street as the gazetteer records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStreet {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// The municipality's code for the street: 1-12 capital letters, digits or '-'.
    pub street_code: String,
    /// "Via", "Piazza", …
    pub qualifier: String,
    /// The name without its qualifier.
    pub name: String,
    /// Five-digit CAP.
    pub postal_code: String,
}

impl TryFrom<&RegisterStreetRequest> for NewStreet {
    type Error = ServiceError;

    fn try_from(request: &RegisterStreetRequest) -> Result<Self, Self::Error> {
        let street_code = request.street_code.trim().to_ascii_uppercase();
        let code_ok = (1..=12).contains(&street_code.len())
            && street_code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !code_ok {
            return Err(ServiceError::invalid_field(
                "street_code",
                "must be 1-12 letters, digits or '-'",
            ));
        }
        let postal_code = request.postal_code.trim();
        if postal_code.len() != 5 || !postal_code.chars().all(|c| c.is_ascii_digit()) {
            return Err(ServiceError::invalid_field(
                "postal_code",
                "must be five digits",
            ));
        }
        Ok(Self {
            municipality: domain::parse_field(
                "municipality_istat_code",
                &request.municipality_istat_code,
            )?,
            street_code,
            qualifier: domain::required_text("qualifier", &request.qualifier, 40)?,
            name: domain::required_text("name", &request.name, 120)?,
            postal_code: postal_code.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> RegisterStreetRequest {
        RegisterStreetRequest {
            municipality_istat_code: "011015".into(),
            street_code: "prione-1".into(),
            qualifier: "Via".into(),
            name: "del Prione".into(),
            postal_code: "19121".into(),
            idempotency_key: String::new(),
        }
    }

    #[test]
    fn a_valid_request_parses_with_a_normalised_code() {
        let street = NewStreet::try_from(&request()).unwrap();
        assert_eq!(street.street_code, "PRIONE-1");
        assert_eq!(street.municipality.as_str(), "011015");
    }

    #[test]
    fn each_bad_field_is_named() {
        sportello_kit::testing::assert_each_bad_field_is_named(
            &request(),
            |r| NewStreet::try_from(r),
            &[
                ("municipality_istat_code", |r| {
                    r.municipality_istat_code = "11015".into()
                }),
                ("street_code", |r| r.street_code = "via del prione".into()),
                ("qualifier", |r| r.qualifier = " ".into()),
                ("name", |r| r.name = "x".repeat(121)),
                ("postal_code", |r| r.postal_code = "1912".into()),
            ],
        );
    }
}
