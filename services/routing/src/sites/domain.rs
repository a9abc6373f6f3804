//! A site to open, parsed from its request once at the edge.

use sportello_kit::{MunicipalityCode, ServiceError, domain};
use sportello_proto::routing::v1::CreateSiteRequest;

/// A site as routing records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSite {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// Short code: 1-32 lowercase letters, digits or '-'.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Street as written.
    pub street_name: String,
    /// House number.
    pub house_number: String,
    /// CAP.
    pub postal_code: String,
    /// Counters, numbered 1..=counter_count.
    pub counter_count: i16,
}

impl TryFrom<&CreateSiteRequest> for NewSite {
    type Error = ServiceError;

    fn try_from(request: &CreateSiteRequest) -> Result<Self, Self::Error> {
        let code = request.code.trim();
        let code_ok = (1..=32).contains(&code.len())
            && code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !code_ok {
            return Err(ServiceError::invalid_field(
                "code",
                "must be 1-32 lowercase letters, digits or '-', e.g. palazzo-civico",
            ));
        }
        let counter_count = i16::try_from(request.counter_count)
            .ok()
            .filter(|n| (1..=99).contains(n))
            .ok_or_else(|| ServiceError::invalid_field("counter_count", "must be 1 to 99"))?;
        let address = request.address.clone().unwrap_or_default();
        let postal_code = address.postal_code.trim();
        if postal_code.len() != 5 || !postal_code.chars().all(|c| c.is_ascii_digit()) {
            return Err(ServiceError::invalid_field(
                "address.postal_code",
                "must be five digits",
            ));
        }
        Ok(Self {
            municipality: domain::parse_field(
                "municipality_istat_code",
                &request.municipality_istat_code,
            )?,
            code: code.to_owned(),
            name: domain::required_text("name", &request.name, 120)?,
            street_name: domain::required_text("address.street_name", &address.street_name, 120)?,
            house_number: domain::required_text("address.house_number", &address.house_number, 12)?,
            postal_code: postal_code.to_owned(),
            counter_count,
        })
    }
}

#[cfg(test)]
mod tests {
    use sportello_proto::common::v1::Address;

    use super::*;

    fn request() -> CreateSiteRequest {
        CreateSiteRequest {
            municipality_istat_code: "011015".into(),
            code: "palazzo-civico".into(),
            name: "Palazzo Civico".into(),
            address: Some(Address {
                street_name: "Piazza Europa".into(),
                house_number: "1".into(),
                postal_code: "19124".into(),
                ..Default::default()
            }),
            counter_count: 8,
            idempotency_key: String::new(),
        }
    }

    #[test]
    fn a_valid_request_parses() {
        assert_eq!(NewSite::try_from(&request()).unwrap().counter_count, 8);
    }

    #[test]
    fn each_bad_field_is_named() {
        sportello_kit::testing::assert_each_bad_field_is_named(
            &request(),
            |r| NewSite::try_from(r),
            &[
                ("code", |r| r.code = "Palazzo Civico".into()),
                ("counter_count", |r| r.counter_count = 0),
                ("counter_count", |r| r.counter_count = 100),
                ("address.postal_code", |r| r.address = None),
                ("name", |r| r.name.clear()),
            ],
        );
    }
}
