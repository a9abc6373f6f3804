//! Requests about changes of residence, parsed once at the edge, and the procedure's
//! vocabulary (statuses, outcomes, the legal clock).

use jiff::civil::Date;
use sportello_kit::{MunicipalityCode, ServiceError, domain as kit};
use sportello_pa::{
    Calendar, ClockOptions, Procedure, Stop,
    clock::{self, ClockError},
};
use sportello_proto::{
    common::v1::Channel,
    registry::v1::{
        CheckOutcome, DeclareResidenceChangeRequest, RecordAddressCheckRequest,
        ResidenceChangeStatus as Wire, SendReasonsAgainstRequest,
    },
};
use uuid::Uuid;

use crate::{
    domain::{FamilyId, Relationship, ResidenceChangeId, ResidentId},
    residents::domain::NewAddress,
};

/// A declaration of change of residence, as received.
#[derive(Debug, Clone)]
pub struct DeclaredChange {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// The family the members belong to.
    pub family_id: FamilyId,
    /// Who declares.
    pub declarant: ResidentId,
    /// Who moves, with their relationship at the new address; exactly one head.
    pub members: Vec<(ResidentId, Relationship)>,
    /// Where to.
    pub address: NewAddress,
    /// How it arrived.
    pub channel: Channel,
    /// Where, for counter and appointment declarations.
    pub site_id: Option<Uuid>,
    /// SHA-256 of the signed form, if given.
    pub document_sha256: Option<[u8; 32]>,
}

/// Parses 64 hex digits.
pub fn parse_sha256(field: &str, raw: &str) -> Result<Option<[u8; 32]>, ServiceError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let bad = || ServiceError::invalid_field(field, "must be 64 hex digits when given");
    if raw.len() != 64 {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(raw.get(2 * i..2 * i + 2).ok_or_else(bad)?, 16)
            .map_err(|_| bad())?;
    }
    Ok(Some(out))
}

impl TryFrom<&DeclareResidenceChangeRequest> for DeclaredChange {
    type Error = ServiceError;

    fn try_from(r: &DeclareResidenceChangeRequest) -> Result<Self, Self::Error> {
        let municipality = kit::parse_field("municipality_istat_code", &r.municipality_istat_code)?;
        let family_id = FamilyId::parse("family_id", &r.family_id)?;
        let declarant = ResidentId::parse("declarant_id", &r.declarant_id)?;
        if r.members.is_empty() {
            return Err(ServiceError::invalid_field(
                "members",
                "name at least one member moving",
            ));
        }
        let mut members = Vec::with_capacity(r.members.len());
        for (i, member) in r.members.iter().enumerate() {
            let id = ResidentId::parse(&format!("members[{i}].resident_id"), &member.resident_id)?;
            if members.iter().any(|(m, _)| *m == id) {
                return Err(ServiceError::invalid_field(
                    format!("members[{i}].resident_id"),
                    "is named twice",
                ));
            }
            let relationship = Relationship::from_proto(member.relationship).ok_or_else(|| {
                ServiceError::invalid_field(format!("members[{i}].relationship"), "is required")
            })?;
            members.push((id, relationship));
        }
        let heads = members
            .iter()
            .filter(|(_, r)| *r == Relationship::Head)
            .count();
        if heads != 1 {
            return Err(ServiceError::invalid_field(
                "members",
                "exactly one member is the HEAD of the family at the new address",
            ));
        }
        if !members.iter().any(|(m, _)| *m == declarant) {
            return Err(ServiceError::invalid_field(
                "declarant_id",
                "must be one of the members moving",
            ));
        }
        let address = r
            .address
            .as_ref()
            .ok_or_else(|| ServiceError::invalid_field("address", "is required"))
            .and_then(|a| NewAddress::parse("address", a))?;
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
            family_id,
            declarant,
            members,
            address,
            channel,
            site_id,
            document_sha256: parse_sha256("document_sha256", &r.document_sha256)?,
        })
    }
}

/// Where a change of residence is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Registered, moved, check open.
    Recorded,
    /// Final.
    Confirmed,
    /// Rejected, previous state restored.
    Rejected,
}

impl Status {
    /// The database's word for it.
    pub fn as_db(self) -> &'static str {
        match self {
            Self::Recorded => "recorded",
            Self::Confirmed => "confirmed",
            Self::Rejected => "rejected",
        }
    }

    /// From the database's word.
    pub fn from_db(raw: &str) -> Option<Self> {
        Some(match raw {
            "recorded" => Self::Recorded,
            "confirmed" => Self::Confirmed,
            "rejected" => Self::Rejected,
            _ => return None,
        })
    }

    /// The wire enum.
    pub fn to_proto(self) -> Wire {
        match self {
            Self::Recorded => Wire::Recorded,
            Self::Confirmed => Wire::Confirmed,
            Self::Rejected => Wire::Rejected,
        }
    }
}

/// What confirmed a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// The address check.
    Check,
    /// Silence-assent.
    SilenceAssent,
}

impl Basis {
    /// The database's word for it.
    pub fn as_db(self) -> &'static str {
        match self {
            Self::Check => "check",
            Self::SilenceAssent => "silence_assent",
        }
    }

    /// From the database's word.
    pub fn from_db(raw: &str) -> Option<Self> {
        match raw {
            "check" => Some(Self::Check),
            "silence_assent" => Some(Self::SilenceAssent),
            _ => None,
        }
    }

    /// The outcome code the check's case is closed with.
    pub fn outcome_code(self) -> &'static str {
        match self {
            Self::Check => "confirmed",
            Self::SilenceAssent => "confirmed_by_silence_assent",
        }
    }
}

/// The outcome code of a rejected change's case.
pub const REJECTED_OUTCOME: &str = "rejected";

/// A check's outcome, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckResult {
    /// Confirmed.
    Confirmed,
    /// Failed, with the reason.
    Failed(String),
}

/// A recorded check, parsed.
#[derive(Debug, Clone)]
pub struct RecordedCheck {
    /// The change.
    pub id: ResidenceChangeId,
    /// Its outcome.
    pub result: CheckResult,
}

impl TryFrom<&RecordAddressCheckRequest> for RecordedCheck {
    type Error = ServiceError;

    fn try_from(r: &RecordAddressCheckRequest) -> Result<Self, Self::Error> {
        let id = ResidenceChangeId::parse("residence_change_id", &r.residence_change_id)?;
        let result = match CheckOutcome::try_from(r.outcome) {
            Ok(CheckOutcome::Confirmed) => CheckResult::Confirmed,
            Ok(CheckOutcome::Failed) => {
                CheckResult::Failed(kit::required_text("reason", &r.reason, 500)?)
            }
            _ => {
                return Err(ServiceError::invalid_field(
                    "outcome",
                    "must be CONFIRMED or FAILED",
                ));
            }
        };
        Ok(Self { id, result })
    }
}

/// A notice of reasons against, parsed.
#[derive(Debug, Clone)]
pub struct Notice {
    /// The change.
    pub id: ResidenceChangeId,
    /// The reasons.
    pub reasons: String,
}

impl TryFrom<&SendReasonsAgainstRequest> for Notice {
    type Error = ServiceError;

    fn try_from(r: &SendReasonsAgainstRequest) -> Result<Self, Self::Error> {
        Ok(Self {
            id: ResidenceChangeId::parse("residence_change_id", &r.residence_change_id)?,
            reasons: kit::required_text("reasons", &r.reasons, 500)?,
        })
    }
}

/// The legal clock of one declaration (DL 5/2012 art. 5 c. 3), from the PA library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegalClock {
    /// The last day to record the move (2 working days).
    pub registration_due: Date,
    /// The last day of the check (45 days, holidays rolled over).
    pub check_due: Date,
    /// The day silence-assent takes effect: the day after the check's term ends, or
    /// `None` once a notice of reasons against was sent.
    pub silence_assent_on: Option<Date>,
}

impl LegalClock {
    /// The clock of a declaration received on `received`, with a notice of reasons
    /// against sent on `notice` if any.
    pub fn of(
        municipality: MunicipalityCode,
        received: Date,
        notice: Option<Date>,
    ) -> Result<Self, ClockError> {
        let calendar = Calendar::for_municipality(municipality.as_str());
        let options = ClockOptions::default();
        let registration = clock::deadline(
            &calendar,
            Procedure::ResidenceRegistration,
            received,
            &[],
            options,
        )?;
        // TODO(issue 11, point 5): a 10-bis notice has the day it was sent (the outgoing
        // protocol date) and the day it was received (PEC receipt, return card, counter),
        // and the 10-day window counts from receipt. The registry records one day today,
        // so it passes it as both until it stores the two.
        let stops: Vec<Stop> = notice
            .map(|day| Stop::ReasonsAgainst {
                sent: day,
                received: Some(day),
                observations: None,
            })
            .into_iter()
            .collect();
        let check = clock::deadline(
            &calendar,
            Procedure::ResidenceCheck,
            received,
            &stops,
            options,
        )?;
        let check_due = check.due.unwrap_or(received);
        let silence_assent_on = match check.outcome_on_expiry {
            sportello_pa::Outcome::SilenceAssent => check_due.tomorrow().ok(),
            _ => None,
        };
        Ok(Self {
            registration_due: registration.due.unwrap_or(received),
            check_due,
            silence_assent_on,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use sportello_proto::registry::v1::{MovingMember, NewAddress as Address};

    fn request() -> DeclareResidenceChangeRequest {
        let a = ResidentId::new().to_string();
        let b = ResidentId::new().to_string();
        DeclareResidenceChangeRequest {
            municipality_istat_code: "011015".into(),
            family_id: FamilyId::new().to_string(),
            declarant_id: a.clone(),
            members: vec![
                MovingMember {
                    resident_id: a,
                    relationship: 1,
                },
                MovingMember {
                    resident_id: b,
                    relationship: 2,
                },
            ],
            address: Some(Address {
                street_code: "CHIODO".into(),
                house_number: "5".into(),
            }),
            channel: Channel::Counter as i32,
            document_sha256: String::new(),
            idempotency_key: String::new(),
            site_id: Uuid::now_v7().to_string(),
        }
    }

    #[test]
    fn each_bad_field_is_named() {
        sportello_kit::testing::assert_each_bad_field_is_named(
            &request(),
            |r| DeclaredChange::try_from(r),
            &[
                ("municipality_istat_code", |r| {
                    r.municipality_istat_code.clear()
                }),
                ("family_id", |r| r.family_id = "x".into()),
                ("declarant_id", |r| {
                    r.declarant_id = ResidentId::new().to_string()
                }),
                ("members", |r| r.members.clear()),
                ("members", |r| r.members[1].relationship = 1),
                ("members[1].resident_id", |r| {
                    r.members[1].resident_id = r.members[0].resident_id.clone()
                }),
                ("members[1].relationship", |r| r.members[1].relationship = 0),
                ("members[0].resident_id", |r| {
                    r.members[0].resident_id = "nope".into()
                }),
                ("address", |r| r.address = None),
                ("address.house_number", |r| {
                    r.address.as_mut().unwrap().house_number = "x".into()
                }),
                ("channel", |r| r.channel = Channel::Phone as i32),
                ("site_id", |r| r.site_id.clear()),
                ("document_sha256", |r| r.document_sha256 = "abc".into()),
            ],
        );
    }

    #[test]
    fn the_clock_follows_dl_5_2012() {
        let spezia: MunicipalityCode = "011015".parse().unwrap();
        // Thursday 26 November 2026: two working days to record; 45 days fall on Sunday
        // 10 January 2027, so the term ends on Monday 11; silence-assent on Tuesday 12.
        let clock = LegalClock::of(spezia, date(2026, 11, 26), None).unwrap();
        assert_eq!(clock.registration_due, date(2026, 11, 30));
        assert_eq!(clock.check_due, date(2027, 1, 11));
        assert_eq!(clock.silence_assent_on, Some(date(2027, 1, 12)));
        let noticed = LegalClock::of(spezia, date(2026, 11, 26), Some(date(2026, 12, 15))).unwrap();
        assert_eq!(
            noticed.silence_assent_on, None,
            "a 10-bis notice removes silence-assent"
        );
        assert!(noticed.check_due > clock.check_due, "and suspends the term");
    }
}
