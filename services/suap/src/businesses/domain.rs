//! A business to register, parsed from its request once at the edge.

use sportello_kit::{MunicipalityCode, ServiceError, domain};
use sportello_pa::PartitaIva;
use sportello_proto::suap::v1::RegisterBusinessRequest;

/// A business as the SUAP records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBusiness {
    /// The municipality whose SUAP it files with.
    pub municipality: MunicipalityCode,
    /// VAT number, check digit verified.
    pub vat_number: PartitaIva,
    /// Registered name.
    pub legal_name: String,
    /// ATECO activity code.
    pub ateco_code: String,
    /// Registered office: street as written.
    pub street_name: String,
    /// Registered office: house number.
    pub house_number: String,
    /// Registered office: CAP.
    pub postal_code: String,
    /// Registered office: municipality (may be another one).
    pub office_municipality: MunicipalityCode,
}

/// An ATECO code: two digits, then up to two groups of one or two digits (`56.10.11`).
pub fn is_ateco_code(code: &str) -> bool {
    let parts: Vec<&str> = code.split('.').collect();
    let digits =
        |p: &str, min: usize| (min..=2).contains(&p.len()) && p.chars().all(|c| c.is_ascii_digit());
    !parts.is_empty()
        && parts.len() <= 3
        && parts[0].len() == 2
        && digits(parts[0], 2)
        && parts[1..].iter().all(|p| digits(p, 1))
}

impl TryFrom<&RegisterBusinessRequest> for NewBusiness {
    type Error = ServiceError;

    fn try_from(request: &RegisterBusinessRequest) -> Result<Self, Self::Error> {
        let vat_number: PartitaIva = domain::parse_field("vat_number", request.vat_number.trim())?;
        let ateco_code = request.ateco_code.trim();
        if !is_ateco_code(ateco_code) {
            return Err(ServiceError::invalid_field(
                "ateco_code",
                "must be an ATECO code such as 56.10.11",
            ));
        }
        let office = request.registered_office.clone().unwrap_or_default();
        let postal_code = office.postal_code.trim();
        if postal_code.len() != 5 || !postal_code.chars().all(|c| c.is_ascii_digit()) {
            return Err(ServiceError::invalid_field(
                "registered_office.postal_code",
                "must be five digits",
            ));
        }
        let municipality =
            domain::parse_field("municipality_istat_code", &request.municipality_istat_code)?;
        let office_municipality = if office.municipality_istat_code.is_empty() {
            municipality
        } else {
            domain::parse_field(
                "registered_office.municipality_istat_code",
                &office.municipality_istat_code,
            )?
        };
        Ok(Self {
            municipality,
            vat_number,
            legal_name: domain::required_text("legal_name", &request.legal_name, 200)?,
            ateco_code: ateco_code.to_owned(),
            street_name: domain::required_text(
                "registered_office.street_name",
                &office.street_name,
                120,
            )?,
            house_number: domain::required_text(
                "registered_office.house_number",
                &office.house_number,
                12,
            )?,
            postal_code: postal_code.to_owned(),
            office_municipality,
        })
    }
}

#[cfg(test)]
mod tests {
    use sportello_proto::common::v1::Address;

    use super::*;

    fn request() -> RegisterBusinessRequest {
        RegisterBusinessRequest {
            municipality_istat_code: "011015".into(),
            // Office code 011 (La Spezia); check digit 6 by the Luhn-style rule.
            vat_number: "01234560116".into(),
            legal_name: "Trattoria del Prione S.n.c.".into(),
            ateco_code: "56.10.11".into(),
            registered_office: Some(Address {
                street_name: "Via del Prione".into(),
                house_number: "42".into(),
                postal_code: "19121".into(),
                ..Default::default()
            }),
            idempotency_key: String::new(),
        }
    }

    #[test]
    fn a_valid_request_parses() {
        let business = NewBusiness::try_from(&request()).unwrap();
        assert_eq!(business.vat_number.as_str(), "01234560116");
        assert_eq!(business.office_municipality, business.municipality);
    }

    #[test]
    fn each_bad_field_is_named() {
        sportello_kit::testing::assert_each_bad_field_is_named(
            &request(),
            |r| NewBusiness::try_from(r),
            &[
                ("vat_number", |r| r.vat_number = "01234560110".into()),
                ("ateco_code", |r| r.ateco_code = "5610".into()),
                ("legal_name", |r| r.legal_name.clear()),
                ("registered_office.postal_code", |r| {
                    r.registered_office = None
                }),
            ],
        );
    }

    #[test]
    fn a_wrong_check_digit_says_so() {
        let mut bad = request();
        bad.vat_number = "01234560110".into();
        let error = NewBusiness::try_from(&bad).unwrap_err();
        assert!(
            error.violations()[0].description.contains("check"),
            "{error}"
        );
    }

    #[test]
    fn ateco_codes() {
        for good in ["56", "56.1", "56.10", "56.10.1", "56.10.11"] {
            assert!(is_ateco_code(good), "{good}");
        }
        for bad in ["5", "561", "56.", "56.100", "56.10.11.1", "AB.10"] {
            assert!(!is_ateco_code(bad), "{bad}");
        }
    }
}
