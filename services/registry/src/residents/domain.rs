//! Requests about residents, parsed once at the edge.

use sportello_kit::{MunicipalityCode, ServiceError, domain as kit};
use sportello_pa::{
    BelfioreCode, CodiceFiscale,
    fiscal_code::{Declared, Mismatch},
};
use sportello_proto::registry::v1::{
    ChangeResidentStatusRequest, NewAddress as NewAddressMessage, RegisterResidentRequest,
    RegistrationGround,
};

use crate::{
    domain::{
        Citizenship, Day, FamilyId, HouseNumber, Relationship, ResidentId, ResidentStatus,
        day::parse_required_day, parse_day, sex_from_proto,
    },
    records::PersonData,
};

/// An address to live at: a street of the gazetteer and a house number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAddress {
    /// The street's code in the municipality's gazetteer.
    pub street_code: String,
    /// The house number.
    pub house_number: HouseNumber,
}

impl NewAddress {
    /// Parses an address message found at `field` (`address`).
    pub fn parse(field: &str, message: &NewAddressMessage) -> Result<Self, ServiceError> {
        let street_code = message.street_code.trim().to_ascii_uppercase();
        if street_code.is_empty() {
            return Err(ServiceError::invalid_field(
                format!("{field}.street_code"),
                "is required",
            ));
        }
        Ok(Self {
            street_code,
            house_number: HouseNumber::parse(
                &format!("{field}.house_number"),
                &message.house_number,
            )?,
        })
    }
}

/// Which family a new resident joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Joining {
    /// A new family, with the person as its head, at this address.
    NewFamily(NewAddress),
    /// An existing family, with this relationship to its head.
    Family(FamilyId, Relationship),
}

/// A person to register.
#[derive(Debug, Clone)]
pub struct NewResident {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// Fiscal code.
    pub fiscal_code: CodiceFiscale,
    /// Personal data.
    pub data: PersonData,
    /// Family and address.
    pub joining: Joining,
    /// The day the registration takes effect.
    pub effective_date: Day,
    /// Where the fiscal code and the declared data disagree (warnings, not errors).
    pub warnings: Vec<String>,
    /// The legal ground, as stored: `birth`, `data_load` or `immigration`.
    pub ground: &'static str,
}

/// Parses a fiscal code field.
pub fn parse_fiscal_code(field: &str, raw: &str) -> Result<CodiceFiscale, ServiceError> {
    raw.trim()
        .to_ascii_uppercase()
        .parse::<CodiceFiscale>()
        .map_err(|e| ServiceError::invalid_field(field, e.to_string()))
}

/// A mismatch between the code and the declared data, in words.
fn mismatch_words(m: &Mismatch) -> String {
    format!(
        "{}: the fiscal code has {}, the declared data give {}",
        m.field, m.in_code, m.declared
    )
}

impl NewResident {
    /// Parses a registration; `today` is the Europe/Rome day of the request.
    pub fn parse(request: &RegisterResidentRequest, today: Day) -> Result<Self, ServiceError> {
        let municipality =
            kit::parse_field("municipality_istat_code", &request.municipality_istat_code)?;
        let fiscal_code = parse_fiscal_code("fiscal_code", &request.fiscal_code)?;
        let surname = kit::required_text("surname", &request.surname, 100)?;
        let given_names = kit::required_text("given_names", &request.given_names, 100)?;
        let sex = sex_from_proto("sex", request.sex)?;
        let birth_date = parse_required_day("birth_date", &request.birth_date)?;
        if birth_date > today {
            return Err(ServiceError::invalid_field(
                "birth_date",
                "is in the future",
            ));
        }
        let birthplace: BelfioreCode =
            kit::parse_field("birthplace_code", &request.birthplace_code)?;
        if sportello_pa::birthplace::by_code(birthplace).is_empty() {
            return Err(ServiceError::invalid_field(
                "birthplace_code",
                "is not the Belfiore code of a municipality or country",
            ));
        }
        let citizenship = Citizenship::parse("citizenship", &request.citizenship)?;
        let relationship = Relationship::from_proto(request.relationship);
        let joining = if request.family_id.trim().is_empty() {
            if relationship.is_some_and(|r| r != Relationship::Head) {
                return Err(ServiceError::invalid_field(
                    "relationship",
                    "a person starting a new family is its head: leave it empty or HEAD",
                ));
            }
            let address = request.address.as_ref().ok_or_else(|| {
                ServiceError::invalid_field("address", "is required for a new family")
            })?;
            Joining::NewFamily(NewAddress::parse("address", address)?)
        } else {
            let family = FamilyId::parse("family_id", &request.family_id)?;
            let relationship = match relationship {
                None => {
                    return Err(ServiceError::invalid_field(
                        "relationship",
                        "is required to join a family",
                    ));
                }
                Some(Relationship::Head) => {
                    return Err(ServiceError::invalid_field(
                        "relationship",
                        "the family has a head already: give the relationship to the head",
                    ));
                }
                Some(r) => r,
            };
            let address_given = request.address.as_ref().is_some_and(|a| {
                !a.street_code.trim().is_empty() || !a.house_number.trim().is_empty()
            });
            if address_given {
                return Err(ServiceError::invalid_field(
                    "address",
                    "a person joining a family lives at the family's address: leave it empty",
                ));
            }
            Joining::Family(family, relationship)
        };
        let effective_date = parse_day("effective_date", &request.effective_date, today)?;
        if effective_date > today {
            return Err(ServiceError::invalid_field(
                "effective_date",
                "is in the future",
            ));
        }
        if effective_date < birth_date {
            return Err(ServiceError::invalid_field(
                "effective_date",
                "is before the birth date",
            ));
        }

        let declared = Declared {
            surname: Some(&surname),
            name: Some(&given_names),
            sex: Some(sex),
            birth_date: Some(birth_date),
            birthplace: Some(birthplace),
        };
        let mut warnings: Vec<String> = fiscal_code
            .compare(&declared)
            .iter()
            .map(mismatch_words)
            .collect();
        // The declared birth date settles the century the code's two digits leave open.
        warnings.extend(fiscal_code.warnings_with(today, &declared));
        Ok(Self {
            municipality,
            fiscal_code,
            data: PersonData {
                surname,
                given_names,
                sex,
                birth_date,
                birthplace,
                citizenship,
            },
            joining,
            effective_date,
            warnings,
            ground: match RegistrationGround::try_from(request.ground) {
                Ok(RegistrationGround::Birth) => {
                    if effective_date != birth_date {
                        return Err(ServiceError::invalid_field(
                            "effective_date",
                            "a birth is registered from the day of birth (DPR 223/1989 art. 7)",
                        ));
                    }
                    "birth"
                }
                Ok(RegistrationGround::DataLoad) => "data_load",
                _ => {
                    return Err(ServiceError::invalid_field(
                        "ground",
                        "is required: BIRTH or DATA_LOAD; a move into the municipality is \
                         DeclareImmigration, on the declaration's procedure (DL 5/2012 art. 5)",
                    ));
                }
            },
        })
    }
}

/// Where a person went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Departure {
    /// To another municipality (ISTAT code).
    MovedAway(String),
    /// Died.
    Deceased,
    /// Abroad, registered in AIRE (country).
    Aire(Citizenship),
}

impl Departure {
    /// The status it leads to.
    pub fn status(&self) -> ResidentStatus {
        match self {
            Self::MovedAway(_) => ResidentStatus::MovedAway,
            Self::Deceased => ResidentStatus::Deceased,
            Self::Aire(_) => ResidentStatus::Aire,
        }
    }

    /// What the record keeps as destination.
    pub fn destination(&self) -> Option<String> {
        match self {
            Self::MovedAway(istat) => Some(istat.clone()),
            Self::Deceased => None,
            Self::Aire(country) => Some(country.iso().to_owned()),
        }
    }
}

/// A status change to record.
#[derive(Debug, Clone)]
pub struct StatusChange {
    /// The person.
    pub resident_id: ResidentId,
    /// Where they went.
    pub departure: Departure,
    /// The day it takes effect.
    pub effective_date: Day,
    /// The family's new head, when the head leaves others behind.
    pub new_head_id: Option<ResidentId>,
}

impl StatusChange {
    /// Parses a status change; `municipality` is the caller's, `today` the request's day.
    pub fn parse(
        request: &ChangeResidentStatusRequest,
        municipality: MunicipalityCode,
        today: Day,
    ) -> Result<Self, ServiceError> {
        let resident_id = ResidentId::parse("resident_id", &request.resident_id)?;
        let status = ResidentStatus::from_proto("status", request.status)?;
        let destination = request.destination.trim();
        let departure = match status {
            ResidentStatus::Resident => {
                return Err(ServiceError::invalid_field(
                    "status",
                    "must be MOVED_AWAY, DECEASED or AIRE: residents are registered with RegisterResident",
                ));
            }
            ResidentStatus::MovedAway => {
                let known = sportello_pa::birthplace::by_istat(destination).is_some();
                if !known || destination == municipality.as_str() {
                    return Err(ServiceError::invalid_field(
                        "destination",
                        "must be the ISTAT code of another existing municipality",
                    ));
                }
                Departure::MovedAway(destination.to_owned())
            }
            ResidentStatus::Deceased => {
                if !destination.is_empty() {
                    return Err(ServiceError::invalid_field(
                        "destination",
                        "must be empty for DECEASED",
                    ));
                }
                Departure::Deceased
            }
            ResidentStatus::Aire => {
                let country = Citizenship::parse("destination", destination)?;
                if country.is_italian() {
                    return Err(ServiceError::invalid_field(
                        "destination",
                        "must be a country other than Italy",
                    ));
                }
                Departure::Aire(country)
            }
        };
        let effective_date = parse_day("effective_date", &request.effective_date, today)?;
        if effective_date > today {
            return Err(ServiceError::invalid_field(
                "effective_date",
                "is in the future",
            ));
        }
        let new_head_id = match request.new_head_id.trim() {
            "" => None,
            raw => Some(ResidentId::parse("new_head_id", raw)?),
        };
        if new_head_id == Some(resident_id) {
            return Err(ServiceError::invalid_field(
                "new_head_id",
                "must be another member of the family",
            ));
        }
        Ok(Self {
            resident_id,
            departure,
            effective_date,
            new_head_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use sportello_proto::registry::v1::{ResidentStatus as WireStatus, Sex as WireSex};

    fn today() -> Day {
        date(2026, 11, 26)
    }

    fn request() -> RegisterResidentRequest {
        RegisterResidentRequest {
            municipality_istat_code: "011015".into(),
            fiscal_code: "RSSMRA90C59E463G".into(),
            surname: "Rossi".into(),
            given_names: "Maria".into(),
            sex: WireSex::Female as i32,
            birth_date: "1990-03-19".into(),
            birthplace_code: "E463".into(),
            citizenship: "IT".into(),
            address: Some(NewAddressMessage {
                street_code: "prione".into(),
                house_number: "12".into(),
            }),
            family_id: String::new(),
            relationship: 0,
            effective_date: String::new(),
            idempotency_key: String::new(),
            ground: RegistrationGround::DataLoad as i32,
        }
    }

    #[test]
    fn a_registration_parses_without_warnings_when_the_code_matches() {
        let resident = NewResident::parse(&request(), today()).unwrap();
        assert!(resident.warnings.is_empty(), "{:?}", resident.warnings);
        assert_eq!(resident.effective_date, today());
        assert!(matches!(resident.joining, Joining::NewFamily(ref a) if a.street_code == "PRIONE"));
    }

    #[test]
    fn a_mismatch_is_a_warning_not_an_error() {
        let mut r = request();
        r.given_names = "Marta".into();
        let resident = NewResident::parse(&r, today()).unwrap();
        assert_eq!(resident.warnings.len(), 1);
        assert!(
            resident.warnings[0].starts_with("name:"),
            "{:?}",
            resident.warnings
        );
    }

    #[test]
    fn each_bad_field_is_named() {
        let parse = |r: &RegisterResidentRequest| NewResident::parse(r, today());
        sportello_kit::testing::assert_each_bad_field_is_named(
            &request(),
            parse,
            &[
                ("ground", |r| r.ground = 0),
                // DPR 223/1989 art. 7: a birth is registered from the day of birth.
                ("effective_date", |r| {
                    r.ground = RegistrationGround::Birth as i32;
                    r.effective_date = "2026-11-20".into();
                }),
                ("municipality_istat_code", |r| {
                    r.municipality_istat_code = "11015".into()
                }),
                ("fiscal_code", |r| r.fiscal_code = "RSSMRA90C59E463X".into()),
                ("surname", |r| r.surname = " ".into()),
                ("given_names", |r| r.given_names = "x".repeat(101)),
                ("sex", |r| r.sex = 0),
                ("birth_date", |r| r.birth_date = "1990-02-30".into()),
                ("birth_date", |r| r.birth_date = "2027-01-01".into()),
                ("birthplace_code", |r| r.birthplace_code = "E46".into()),
                ("birthplace_code", |r| r.birthplace_code = "Y999".into()),
                ("citizenship", |r| r.citizenship = "Italia".into()),
                ("address", |r| r.address = None),
                ("address.street_code", |r| {
                    r.address = Some(NewAddressMessage {
                        street_code: " ".into(),
                        house_number: "1".into(),
                    })
                }),
                ("address.house_number", |r| {
                    r.address = Some(NewAddressMessage {
                        street_code: "X".into(),
                        house_number: "0".into(),
                    })
                }),
                ("relationship", |r| r.relationship = 5),
                ("family_id", |r| r.family_id = "nope".into()),
                ("effective_date", |r| r.effective_date = "1980-01-01".into()),
            ],
        );
    }

    #[test]
    fn joining_a_family_needs_a_relationship_and_no_address() {
        let mut r = request();
        r.family_id = FamilyId::new().to_string();
        r.address = None;
        let error = NewResident::parse(&r, today()).unwrap_err();
        assert_eq!(error.violations()[0].field, "relationship");
        r.relationship = 1;
        assert_eq!(
            NewResident::parse(&r, today()).unwrap_err().violations()[0].field,
            "relationship"
        );
        r.relationship = 5;
        assert!(matches!(
            NewResident::parse(&r, today()).unwrap().joining,
            Joining::Family(_, Relationship::Child)
        ));
        r.address = request().address;
        assert_eq!(
            NewResident::parse(&r, today()).unwrap_err().violations()[0].field,
            "address"
        );
    }

    #[test]
    fn status_changes_check_their_destination() {
        let spezia: MunicipalityCode = "011015".parse().unwrap();
        let base = ChangeResidentStatusRequest {
            resident_id: ResidentId::new().to_string(),
            status: WireStatus::MovedAway as i32,
            destination: "010025".into(),
            ..Default::default()
        };
        let change = StatusChange::parse(&base, spezia, today()).unwrap();
        assert_eq!(change.departure, Departure::MovedAway("010025".into()));
        for (spoil, field) in [
            (
                ChangeResidentStatusRequest {
                    destination: "011015".into(),
                    ..base.clone()
                },
                "destination",
            ),
            (
                ChangeResidentStatusRequest {
                    status: WireStatus::Resident as i32,
                    ..base.clone()
                },
                "status",
            ),
            (
                ChangeResidentStatusRequest {
                    status: WireStatus::Aire as i32,
                    destination: "IT".into(),
                    ..base.clone()
                },
                "destination",
            ),
            (
                ChangeResidentStatusRequest {
                    status: WireStatus::Deceased as i32,
                    ..base.clone()
                },
                "destination",
            ),
            (
                ChangeResidentStatusRequest {
                    effective_date: "2030-01-01".into(),
                    ..base.clone()
                },
                "effective_date",
            ),
            (
                ChangeResidentStatusRequest {
                    new_head_id: base.resident_id.clone(),
                    ..base.clone()
                },
                "new_head_id",
            ),
        ] {
            let error = StatusChange::parse(&spoil, spezia, today()).unwrap_err();
            assert_eq!(error.violations()[0].field, field, "{error}");
        }
    }
}
