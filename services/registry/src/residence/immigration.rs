//! A move into the municipality, from another municipality or from abroad (DL 5/2012
//! art. 5; issue 11, point 2), parsed once at the edge: the members' data as for a
//! registration, and the requirements the law adds — the title to occupy the dwelling
//! for everyone (DL 47/2014 art. 5), a non-EU citizen's residence permit, an EU
//! citizen's ground of residence (D.Lgs 30/2007 art. 9).

use jiff::civil::Date;
use sportello_kit::{MunicipalityCode, ServiceError, domain as kit};
use sportello_proto::{
    common::v1::Channel,
    registry::v1::{
        DeclareImmigrationRequest, DwellingTitle, EuResidenceGround, RegistrationGround,
    },
};
use uuid::Uuid;

use super::domain::parse_sha256;
use crate::{
    domain::{Relationship, day::parse_required_day},
    residents::domain::{NewAddress, NewResident},
};

/// Member states of the EU (Italy aside), the EEA and Switzerland, whose citizens reside
/// under D.Lgs 30/2007 rather than with a residence permit.
const EU_EEA_CH: &[&str] = &[
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "LT",
    "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "IS", "LI", "NO", "CH",
];

/// What a member's citizenship requires, as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// An Italian citizen.
    Italian,
    /// An EU, EEA or Swiss citizen, with their ground (as stored).
    Eu(&'static str),
    /// A non-EU citizen, with their residence permit and its expiry.
    Permit(String, Date),
}

/// A member moving in.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Their data, as for a registration.
    pub person: NewResident,
    /// Relationship to the head at the new address.
    pub relationship: Relationship,
    /// What their citizenship requires.
    pub status: Status,
}

/// Where the members come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Another municipality, by ISTAT code.
    Municipality(MunicipalityCode),
    /// Abroad, by ISO country code.
    Country(String),
}

/// A declaration of a move into the municipality, parsed.
#[derive(Debug, Clone)]
pub struct DeclaredImmigration {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// Who moves in.
    pub members: Vec<Incoming>,
    /// The declarant's index into `members`.
    pub declarant: usize,
    /// Where to.
    pub address: NewAddress,
    /// Where from.
    pub origin: Origin,
    /// The title to occupy the dwelling, as stored, and its reference.
    pub dwelling: (&'static str, String),
    /// How it arrived.
    pub channel: Channel,
    /// Where, for counter and appointment declarations.
    pub site_id: Option<Uuid>,
    /// SHA-256 of the signed form, if given.
    pub document_sha256: Option<[u8; 32]>,
}

fn eu_ground(raw: i32) -> Option<&'static str> {
    Some(match EuResidenceGround::try_from(raw).ok()? {
        EuResidenceGround::Worker => "worker",
        EuResidenceGround::SelfEmployed => "self_employed",
        EuResidenceGround::SufficientResources => "sufficient_resources",
        EuResidenceGround::Student => "student",
        EuResidenceGround::FamilyMember => "family_member",
        EuResidenceGround::Unspecified => return None,
    })
}

impl DeclaredImmigration {
    /// Parses a declaration received on `today`.
    pub fn parse(r: &DeclareImmigrationRequest, today: Date) -> Result<Self, ServiceError> {
        let municipality: MunicipalityCode =
            kit::parse_field("municipality_istat_code", &r.municipality_istat_code)?;
        if r.members.is_empty() {
            return Err(ServiceError::invalid_field(
                "members",
                "name at least one member moving in",
            ));
        }
        let address = r
            .address
            .as_ref()
            .ok_or_else(|| ServiceError::invalid_field("address", "is required"))
            .and_then(|a| NewAddress::parse("address", a))?;
        let mut members: Vec<Incoming> = Vec::with_capacity(r.members.len());
        for (i, member) in r.members.iter().enumerate() {
            let field = |name: &str| format!("members[{i}].{name}");
            let mut person = member
                .person
                .clone()
                .ok_or_else(|| ServiceError::invalid_field(field("person"), "is required"))?;
            // The declaration gives the address, the family and the day.
            person.municipality_istat_code = r.municipality_istat_code.clone();
            person.address = r.address.clone();
            person.family_id.clear();
            person.relationship = 0;
            person.effective_date.clear();
            person.ground = RegistrationGround::DataLoad as i32;
            let mut person = NewResident::parse(&person, today).map_err(|e| {
                let why = e
                    .violations()
                    .first()
                    .map(|v| format!("{}: {}", v.field, v.description))
                    .unwrap_or_else(|| e.to_string());
                ServiceError::invalid_field(field("person"), why)
            })?;
            person.ground = "immigration";
            if members
                .iter()
                .any(|m| m.person.fiscal_code == person.fiscal_code)
            {
                return Err(ServiceError::invalid_field(
                    field("person.fiscal_code"),
                    "is named twice",
                ));
            }
            let relationship = Relationship::from_proto(member.relationship)
                .ok_or_else(|| ServiceError::invalid_field(field("relationship"), "is required"))?;
            let citizenship = person.data.citizenship;
            let status = if citizenship.is_italian() {
                Status::Italian
            } else if EU_EEA_CH.contains(&citizenship.iso()) {
                Status::Eu(eu_ground(member.eu_ground).ok_or_else(|| {
                    ServiceError::invalid_field(
                        field("eu_ground"),
                        "un cittadino UE indica il titolo del soggiorno (D.Lgs 30/2007 art. 9) / \
                         an EU citizen states their ground of residence (D.Lgs 30/2007 art. 9)",
                    )
                })?)
            } else {
                let permit = kit::required_text(
                    &field("residence_permit"),
                    &member.residence_permit,
                    40,
                )
                .map_err(|_| {
                    ServiceError::invalid_field(
                        field("residence_permit"),
                        "un cittadino non UE presenta il permesso di soggiorno (DL 5/2012 art. 5 \
                         c. 3) / a non-EU citizen presents their residence permit",
                    )
                })?;
                let expiry = parse_required_day(
                    &field("residence_permit_expiry"),
                    &member.residence_permit_expiry,
                )?;
                if expiry < today {
                    return Err(ServiceError::invalid_field(
                        field("residence_permit_expiry"),
                        "the residence permit has expired",
                    ));
                }
                Status::Permit(permit, expiry)
            };
            members.push(Incoming {
                person,
                relationship,
                status,
            });
        }
        if members
            .iter()
            .filter(|m| m.relationship == Relationship::Head)
            .count()
            != 1
        {
            return Err(ServiceError::invalid_field(
                "members",
                "exactly one member is the HEAD of the family at the new address",
            ));
        }
        let declarant = usize::try_from(r.declarant_index).unwrap_or(usize::MAX);
        let adult = members
            .get(declarant)
            .is_some_and(|m| super::store::is_adult(m.person.data.birth_date, today));
        if !adult {
            return Err(ServiceError::invalid_field(
                "declarant_index",
                "must name an adult among the members",
            ));
        }
        let origin = match (
            r.origin_municipality_istat_code.trim(),
            r.origin_country.trim(),
        ) {
            (code, "") if !code.is_empty() => {
                let code: MunicipalityCode =
                    kit::parse_field("origin_municipality_istat_code", code)?;
                if code == municipality {
                    return Err(ServiceError::invalid_field(
                        "origin_municipality_istat_code",
                        "is this municipality: a move within it is DeclareResidenceChange",
                    ));
                }
                Origin::Municipality(code)
            }
            ("", country) if country.len() == 2 && country != "IT" => {
                Origin::Country(country.to_ascii_uppercase())
            }
            _ => {
                return Err(ServiceError::invalid_field(
                    "origin_municipality_istat_code",
                    "give the municipality of origin, or the country for a move from abroad \
                     (origin_country, ISO alpha-2), not both",
                ));
            }
        };
        let title = match DwellingTitle::try_from(r.dwelling_title) {
            Ok(DwellingTitle::Owner) => "owner",
            Ok(DwellingTitle::Tenant) => "tenant",
            Ok(DwellingTitle::Loan) => "loan",
            Ok(DwellingTitle::Other) => "other",
            _ => {
                return Err(ServiceError::invalid_field(
                    "dwelling_title",
                    "il titolo di occupazione dell'abitazione è richiesto (DL 47/2014 art. 5) / \
                     the title to occupy the dwelling is required (DL 47/2014 art. 5)",
                ));
            }
        };
        let reference =
            kit::required_text("dwelling_title_reference", &r.dwelling_title_reference, 100)?;
        let channel = match Channel::try_from(r.channel) {
            Ok(
                c @ (Channel::Counter
                | Channel::Appointment
                | Channel::Web
                | Channel::Email
                | Channel::Pec),
            ) => c,
            _ => {
                return Err(ServiceError::invalid_field(
                    "channel",
                    "must be COUNTER, APPOINTMENT, WEB, EMAIL or PEC",
                ));
            }
        };
        let site_id = match r.site_id.trim() {
            "" if matches!(channel, Channel::Counter | Channel::Appointment) => {
                return Err(ServiceError::invalid_field(
                    "site_id",
                    "is required for counter and appointment declarations",
                ));
            }
            "" => None,
            raw => Some(Uuid::parse_str(raw).map_err(|_| {
                ServiceError::invalid_field("site_id", "must be a record id (UUID)")
            })?),
        };
        Ok(Self {
            municipality,
            members,
            declarant,
            address,
            origin,
            dwelling: (title, reference),
            channel,
            site_id,
            document_sha256: parse_sha256("document_sha256", &r.document_sha256)?,
        })
    }
}
