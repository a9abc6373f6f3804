//! What the register holds about a person and a family, as the service reads it, and how
//! a database row becomes one.

use jiff::Timestamp;
use sportello_kit::{MunicipalityCode, RequesterRef, uow::SqlTimestamp};
use sportello_pa::{BelfioreCode, CodiceFiscale, Sex};
use sportello_proto::registry::v1 as pb;
use sqlx::{Row, postgres::PgRow};
use uuid::Uuid;

use crate::domain::{
    Citizenship, Day, FamilyId, HouseNumber, Relationship, ResidenceChangeId, ResidentId,
    ResidentStatus,
};

/// A person: identity, and their state on the day asked about.
#[derive(Debug, Clone)]
pub struct Person {
    /// Record id.
    pub id: ResidentId,
    /// The municipality whose register holds them.
    pub municipality: MunicipalityCode,
    /// Fiscal code, as issued.
    pub fiscal_code: CodiceFiscale,
    /// Pseudonymous reference.
    pub requester_ref: RequesterRef,
    /// Record version (bumped by every change).
    pub version: i64,
    /// The state in force on the day asked about; `None` before their first registration.
    pub state: Option<PersonState>,
}

/// One state of a person's record, with the days it was in force.
#[derive(Debug, Clone)]
pub struct PersonState {
    /// The row's id.
    pub version_id: Uuid,
    /// First day in force.
    pub valid_from: Day,
    /// First day no longer in force; `None` while current.
    pub valid_to: Option<Day>,
    /// When it was recorded.
    pub recorded_at: Timestamp,
    /// Why it was written.
    pub cause: Cause,
    /// The state it follows.
    pub follows: Option<Uuid>,
    /// The change of residence that wrote it.
    pub residence_change_id: Option<ResidenceChangeId>,
    /// Personal data.
    pub data: PersonData,
    /// Status.
    pub status: ResidentStatus,
    /// Family, relationship and address: present exactly while resident.
    pub home: Option<Home>,
    /// Moved away: ISTAT code; AIRE: ISO country code.
    pub destination: Option<String>,
    /// Where the fiscal code and the declared data disagree.
    pub fiscal_code_warnings: Vec<String>,
}

/// A person's personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonData {
    /// Surname(s).
    pub surname: String,
    /// Given name(s).
    pub given_names: String,
    /// Sex.
    pub sex: Sex,
    /// Date of birth.
    pub birth_date: Day,
    /// Belfiore code of the place of birth.
    pub birthplace: BelfioreCode,
    /// Citizenship.
    pub citizenship: Citizenship,
}

/// Where and with whom a resident lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    /// The family record.
    pub family_id: FamilyId,
    /// Relationship to its head.
    pub relationship: Relationship,
    /// The address.
    pub address: Address,
}

/// An address in the municipality.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The street's record id.
    pub street_id: Uuid,
    /// The municipality's code for the street.
    pub street_code: String,
    /// "Via", "Piazza", …
    pub qualifier: String,
    /// The street's name without its qualifier.
    pub street_name: String,
    /// CAP.
    pub postal_code: String,
    /// House number.
    pub house_number: HouseNumber,
}

impl Address {
    /// "Via del Prione 12".
    pub fn line(&self) -> String {
        format!(
            "{} {} {}",
            self.qualifier,
            self.street_name,
            self.house_number.as_str()
        )
    }
}

/// Why a state was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// First registration.
    Registration,
    /// A change of residence was recorded.
    ResidenceChange,
    /// A change of residence was rejected: the previous state restored.
    ResidenceChangeRejected,
    /// The status changed.
    StatusChange,
    /// The family changed around the person.
    FamilyChange,
    /// Synthetic data.
    SyntheticLoad,
}

impl Cause {
    /// The database's word for it.
    pub fn as_db(self) -> &'static str {
        match self {
            Self::Registration => "registration",
            Self::ResidenceChange => "residence_change",
            Self::ResidenceChangeRejected => "residence_change_rejected",
            Self::StatusChange => "status_change",
            Self::FamilyChange => "family_change",
            Self::SyntheticLoad => "synthetic_load",
        }
    }

    fn from_db(raw: &str) -> Option<Self> {
        Some(match raw {
            "registration" => Self::Registration,
            "residence_change" => Self::ResidenceChange,
            "residence_change_rejected" => Self::ResidenceChangeRejected,
            "status_change" => Self::StatusChange,
            "family_change" => Self::FamilyChange,
            "synthetic_load" => Self::SyntheticLoad,
            _ => return None,
        })
    }

    /// The wire enum.
    pub fn to_proto(self) -> pb::ChangeCause {
        match self {
            Self::Registration => pb::ChangeCause::Registration,
            Self::ResidenceChange => pb::ChangeCause::ResidenceChange,
            Self::ResidenceChangeRejected => pb::ChangeCause::ResidenceChangeRejected,
            Self::StatusChange => pb::ChangeCause::StatusChange,
            Self::FamilyChange => pb::ChangeCause::FamilyChange,
            Self::SyntheticLoad => pb::ChangeCause::SyntheticLoad,
        }
    }
}

/// A family record with its members on one day, head first.
#[derive(Debug, Clone)]
pub struct Family {
    /// Record id.
    pub id: FamilyId,
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// The day it is shown as of.
    pub as_of: Day,
    /// The members (each with their state on that day), head first, then oldest first.
    pub members: Vec<Person>,
}

impl Family {
    /// The members' ids.
    pub fn member_ids(&self) -> Vec<ResidentId> {
        self.members.iter().map(|m| m.id).collect()
    }

    /// The family's address (its members share one).
    pub fn address(&self) -> Option<&Address> {
        self.members
            .iter()
            .find_map(|m| m.state.as_ref()?.home.as_ref())
            .map(|h| &h.address)
    }
}

/// The columns [`person_from_row`] reads: `r` is `residents`, `v` the version (left
/// joined: null before the first registration), `s` the street.
pub const PERSON_COLUMNS: &str = "r.id, r.municipality, r.fiscal_code, r.requester_ref, r.version,
     v.id as version_id, v.valid_from, v.valid_to, v.recorded_at, v.cause,
     v.follows_version_id, v.residence_change_id, v.surname, v.given_names, v.sex,
     v.birth_date, v.birthplace_code, v.citizenship, v.status, v.family_id,
     v.relationship, v.house_number, v.destination, v.fiscal_code_warnings,
     s.id as street_id, s.street_code, s.qualifier, s.name as street_name, s.postal_code";

/// A value the registry did not write. It is not echoed: it may be personal data.
fn bad(column: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("unexpected value in column {column}").into())
}

fn parse<T: std::str::FromStr>(column: &str, raw: &str) -> Result<T, sqlx::Error> {
    raw.parse().map_err(|_| bad(column))
}

fn day(row: &PgRow, column: &str) -> Result<Option<Day>, sqlx::Error> {
    Ok(row
        .try_get::<Option<jiff_sqlx::Date>, _>(column)?
        .map(jiff_sqlx::Date::to_jiff))
}

/// Reads a [`Person`] from a row selected with [`PERSON_COLUMNS`].
pub fn person_from_row(row: &PgRow) -> Result<Person, sqlx::Error> {
    let municipality: String = row.try_get("municipality")?;
    let fiscal_code: String = row.try_get("fiscal_code")?;
    let requester_ref: String = row.try_get("requester_ref")?;
    let version_id: Option<Uuid> = row.try_get("version_id")?;
    let state = match version_id {
        Some(version_id) => Some(state_from_row(row, version_id)?),
        None => None,
    };
    Ok(Person {
        id: ResidentId(row.try_get("id")?),
        municipality: parse("municipality", &municipality)?,
        fiscal_code: parse("fiscal_code", &fiscal_code)?,
        requester_ref: parse("requester_ref", &requester_ref)?,
        version: row.try_get("version")?,
        state,
    })
}

fn state_from_row(row: &PgRow, version_id: Uuid) -> Result<PersonState, sqlx::Error> {
    let required = |column: &str, value: Option<Day>| value.ok_or_else(|| bad(column));
    let cause: String = row.try_get("cause")?;
    let sex: String = row.try_get("sex")?;
    let birthplace: String = row.try_get("birthplace_code")?;
    let citizenship: String = row.try_get("citizenship")?;
    let status: String = row.try_get("status")?;
    let status = ResidentStatus::from_db(&status).ok_or_else(|| bad("status"))?;
    let home = match (
        row.try_get::<Option<Uuid>, _>("family_id")?,
        row.try_get::<Option<String>, _>("relationship")?,
        row.try_get::<Option<Uuid>, _>("street_id")?,
    ) {
        (Some(family_id), Some(relationship), Some(street_id)) => Some(Home {
            family_id: FamilyId(family_id),
            relationship: Relationship::from_db(&relationship)
                .ok_or_else(|| bad("relationship"))?,
            address: Address {
                street_id,
                street_code: row.try_get("street_code")?,
                qualifier: row.try_get("qualifier")?,
                street_name: row.try_get("street_name")?,
                postal_code: row.try_get("postal_code")?,
                house_number: HouseNumber::from_db(row.try_get("house_number")?),
            },
        }),
        _ => None,
    };
    Ok(PersonState {
        version_id,
        valid_from: required("valid_from", day(row, "valid_from")?)?,
        valid_to: day(row, "valid_to")?,
        recorded_at: row.try_get::<SqlTimestamp, _>("recorded_at")?.to_jiff(),
        cause: Cause::from_db(&cause).ok_or_else(|| bad("cause"))?,
        follows: row.try_get("follows_version_id")?,
        residence_change_id: row
            .try_get::<Option<Uuid>, _>("residence_change_id")?
            .map(ResidenceChangeId),
        data: PersonData {
            surname: row.try_get("surname")?,
            given_names: row.try_get("given_names")?,
            sex: parse("sex", &sex)?,
            birth_date: required("birth_date", day(row, "birth_date")?)?,
            birthplace: parse("birthplace_code", &birthplace)?,
            citizenship: Citizenship::by_iso(&citizenship).ok_or_else(|| bad("citizenship"))?,
        },
        status,
        home,
        destination: row.try_get("destination")?,
        fiscal_code_warnings: row.try_get("fiscal_code_warnings")?,
    })
}
