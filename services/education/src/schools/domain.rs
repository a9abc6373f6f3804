//! A school to register, parsed from its request once at the edge.

use sportello_kit::{MunicipalityCode, ServiceError, domain};
use sportello_proto::education::v1::{RegisterSchoolRequest, SchoolLevel};

/// A school as the service records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSchool {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// Ministry code (codice meccanografico), ten capital letters and digits.
    pub school_code: String,
    /// Name.
    pub name: String,
    /// Level.
    pub level: SchoolLevel,
    /// Street as written.
    pub street_name: String,
    /// House number.
    pub house_number: String,
    /// Five-digit CAP.
    pub postal_code: String,
    /// Pupils it can take; 0 when unknown.
    pub capacity: i32,
}

/// The level's name in the database.
pub fn level_name(level: SchoolLevel) -> &'static str {
    match level {
        SchoolLevel::Nido => "nido",
        SchoolLevel::Infanzia => "infanzia",
        SchoolLevel::Primaria => "primaria",
        SchoolLevel::SecondariaPrimoGrado => "secondaria_primo_grado",
        SchoolLevel::Unspecified => "unspecified",
    }
}

impl TryFrom<&RegisterSchoolRequest> for NewSchool {
    type Error = ServiceError;

    fn try_from(request: &RegisterSchoolRequest) -> Result<Self, Self::Error> {
        let school_code = request.school_code.trim().to_ascii_uppercase();
        if school_code.len() != 10 || !school_code.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(ServiceError::invalid_field(
                "school_code",
                "must be ten letters and digits, e.g. SPIC81000X",
            ));
        }
        let level = match SchoolLevel::try_from(request.level) {
            Ok(SchoolLevel::Unspecified) | Err(_) => {
                return Err(ServiceError::invalid_field("level", "is required"));
            }
            Ok(level) => level,
        };
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
            school_code,
            name: domain::required_text("name", &request.name, 200)?,
            level,
            street_name: domain::required_text("address.street_name", &address.street_name, 120)?,
            house_number: domain::required_text("address.house_number", &address.house_number, 12)?,
            postal_code: postal_code.to_owned(),
            capacity: i32::try_from(request.capacity)
                .map_err(|_| ServiceError::invalid_field("capacity", "is too large"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use sportello_proto::common::v1::Address;

    use super::*;

    fn request() -> RegisterSchoolRequest {
        RegisterSchoolRequest {
            municipality_istat_code: "011015".into(),
            school_code: "spic81000x".into(),
            name: "Istituto Comprensivo 2".into(),
            level: SchoolLevel::Primaria as i32,
            address: Some(Address {
                street_name: "Via Leopardi".into(),
                house_number: "2".into(),
                postal_code: "19124".into(),
                ..Default::default()
            }),
            capacity: 420,
            idempotency_key: String::new(),
        }
    }

    #[test]
    fn a_valid_request_parses() {
        let school = NewSchool::try_from(&request()).unwrap();
        assert_eq!(school.school_code, "SPIC81000X");
        assert_eq!(level_name(school.level), "primaria");
    }

    #[test]
    fn each_bad_field_is_named() {
        sportello_kit::testing::assert_each_bad_field_is_named(
            &request(),
            |r| NewSchool::try_from(r),
            &[
                ("school_code", |r| r.school_code = "SPIC81".into()),
                ("level", |r| r.level = 0),
                ("level", |r| r.level = 99),
                ("address.postal_code", |r| r.address = None),
                ("name", |r| r.name.clear()),
            ],
        );
    }
}
