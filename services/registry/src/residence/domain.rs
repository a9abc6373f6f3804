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
        AnswerObservationsRequest, CheckOutcome, DeclareResidenceChangeRequest, NoticeDelivery,
        ObservationsOutcome, RecordAddressCheckRequest, RecordNoticeReceiptRequest,
        RecordObservationsRequest, ResidenceChangeStatus as Wire, SendReasonsAgainstRequest,
    },
};
use uuid::Uuid;

use crate::{
    domain::{FamilyId, Relationship, ResidenceChangeId, ResidentId, day::parse_required_day},
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
    /// Who becomes head of the family left behind, when its head moves alone (DPR
    /// 223/1989 art. 6).
    pub remaining_head: Option<ResidentId>,
    /// Who represents an under-age declarant.
    pub representative: Option<ResidentId>,
}

fn optional_id(field: &str, raw: &str) -> Result<Option<ResidentId>, ServiceError> {
    match raw.trim() {
        "" => Ok(None),
        raw => ResidentId::parse(field, raw).map(Some),
    }
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
        let remaining_head = optional_id("remaining_head_id", &r.remaining_head_id)?;
        if remaining_head.is_some_and(|h| members.iter().any(|(m, _)| *m == h)) {
            return Err(ServiceError::invalid_field(
                "remaining_head_id",
                "must be a member who stays, not one who moves",
            ));
        }
        let representative = optional_id("representative_id", &r.representative_id)?;
        if representative == Some(declarant) {
            return Err(ServiceError::invalid_field(
                "representative_id",
                "must be someone other than the declarant",
            ));
        }
        Ok(Self {
            municipality,
            family_id,
            declarant,
            members,
            address,
            channel,
            site_id,
            document_sha256: parse_sha256("document_sha256", &r.document_sha256)?,
            remaining_head,
            representative,
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
    /// Its outgoing protocol number (DPR 445/2000 art. 53 c. 5), when the operator
    /// registered it elsewhere; `None` and the registry registers it itself.
    pub protocol_number: Option<String>,
    /// The day it was sent: its outgoing protocol date. `None` only with no number: the
    /// day the registry registers it.
    pub sent_on: Option<Date>,
}

impl TryFrom<&SendReasonsAgainstRequest> for Notice {
    type Error = ServiceError;

    fn try_from(r: &SendReasonsAgainstRequest) -> Result<Self, Self::Error> {
        Ok(Self {
            id: ResidenceChangeId::parse("residence_change_id", &r.residence_change_id)?,
            reasons: kit::required_text("reasons", &r.reasons, 500)?,
            // Kept for department systems that register the notice themselves; without
            // it the registry registers the outgoing entry (art. 53 c. 5).
            protocol_number: if r.outgoing_protocol_number.trim().is_empty() {
                None
            } else {
                Some(kit::required_text(
                    "outgoing_protocol_number",
                    &r.outgoing_protocol_number,
                    40,
                )?)
            },
            sent_on: if r.sent_date.trim().is_empty()
                && r.outgoing_protocol_number.trim().is_empty()
            {
                None
            } else {
                Some(parse_required_day("sent_date", &r.sent_date)?)
            },
        })
    }
}

/// How a notice reached the citizen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// PEC delivery receipt.
    PecReceipt,
    /// Return card of registered post.
    ReturnCard,
    /// Handed over at the counter.
    Counter,
}

impl Delivery {
    /// The database's word for it.
    pub fn as_db(self) -> &'static str {
        match self {
            Self::PecReceipt => "pec_receipt",
            Self::ReturnCard => "return_card",
            Self::Counter => "counter",
        }
    }

    /// From the database's word.
    pub fn from_db(raw: &str) -> Option<Self> {
        Some(match raw {
            "pec_receipt" => Self::PecReceipt,
            "return_card" => Self::ReturnCard,
            "counter" => Self::Counter,
            _ => return None,
        })
    }

    /// The wire enum.
    pub fn to_proto(self) -> NoticeDelivery {
        match self {
            Self::PecReceipt => NoticeDelivery::PecReceipt,
            Self::ReturnCard => NoticeDelivery::ReturnCard,
            Self::Counter => NoticeDelivery::Counter,
        }
    }
}

/// The receipt of a notice, parsed.
#[derive(Debug, Clone)]
pub struct Receipt {
    /// The change.
    pub id: ResidenceChangeId,
    /// How it was delivered.
    pub delivery: Delivery,
    /// The day it was received.
    pub received_on: Date,
}

impl TryFrom<&RecordNoticeReceiptRequest> for Receipt {
    type Error = ServiceError;

    fn try_from(r: &RecordNoticeReceiptRequest) -> Result<Self, Self::Error> {
        let delivery = match NoticeDelivery::try_from(r.delivery) {
            Ok(NoticeDelivery::PecReceipt) => Delivery::PecReceipt,
            Ok(NoticeDelivery::ReturnCard) => Delivery::ReturnCard,
            Ok(NoticeDelivery::Counter) => Delivery::Counter,
            _ => {
                return Err(ServiceError::invalid_field(
                    "delivery",
                    "must be PEC_RECEIPT, RETURN_CARD or COUNTER",
                ));
            }
        };
        Ok(Self {
            id: ResidenceChangeId::parse("residence_change_id", &r.residence_change_id)?,
            delivery,
            received_on: parse_required_day("received_date", &r.received_date)?,
        })
    }
}

/// The citizen's observations, parsed.
#[derive(Debug, Clone)]
pub struct Observations {
    /// The change.
    pub id: ResidenceChangeId,
    /// The day they arrived.
    pub received_on: Date,
    /// What they say (kept in the registry only).
    pub text: String,
}

impl TryFrom<&RecordObservationsRequest> for Observations {
    type Error = ServiceError;

    fn try_from(r: &RecordObservationsRequest) -> Result<Self, Self::Error> {
        Ok(Self {
            id: ResidenceChangeId::parse("residence_change_id", &r.residence_change_id)?,
            received_on: parse_required_day("received_date", &r.received_date)?,
            text: kit::required_text("observations", &r.observations, 2000)?,
        })
    }
}

/// The answer to the observations, parsed.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The change.
    pub id: ResidenceChangeId,
    /// Accepted (`true`) or rejected.
    pub accepted: bool,
    /// Its reasons.
    pub reasons: String,
}

impl TryFrom<&AnswerObservationsRequest> for Answer {
    type Error = ServiceError;

    fn try_from(r: &AnswerObservationsRequest) -> Result<Self, Self::Error> {
        let accepted = match ObservationsOutcome::try_from(r.outcome) {
            Ok(ObservationsOutcome::Accepted) => true,
            Ok(ObservationsOutcome::Rejected) => false,
            _ => {
                return Err(ServiceError::invalid_field(
                    "outcome",
                    "must be ACCEPTED or REJECTED",
                ));
            }
        };
        Ok(Self {
            id: ResidenceChangeId::parse("residence_change_id", &r.residence_change_id)?,
            accepted,
            reasons: kit::required_text("reasons", &r.reasons, 500)?,
        })
    }
}

/// The appeal a rejection states (DPR 223/1989 art. 36), Italian then English.
pub const APPEAL: &str = "Contro il rigetto è ammesso ricorso al Prefetto entro 30 giorni \
    (DPR 223/1989 art. 36). / The rejection may be appealed to the Prefect within 30 days \
    (DPR 223/1989 art. 36).";

/// Who a rejection must be communicated to (DL 5/2012 art. 5 c. 4): the public-security
/// authority always; the municipality of origin for a move from another municipality.
pub const COMMUNICATIONS: &[&str] = &["public_security_authority"];

/// The dates of a 10-bis notice as the clock needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoticeDates {
    /// Sent (the outgoing protocol date).
    pub sent: Date,
    /// Received, once recorded.
    pub received: Option<Date>,
    /// The observations' day, once they arrived.
    pub observations: Option<Date>,
}

/// The legal clock of one declaration, from the PA library: registration within 2
/// working days (DL 5/2012 art. 5 c. 3), the 45-day check with silence-assent (DPR
/// 223/1989 art. 18-bis c. 1; DL 5/2012 art. 5 c. 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegalClock {
    /// The last day to record the move (2 working days).
    pub registration_due: Date,
    /// The last day of the check (45 days, holidays rolled over).
    pub check_due: Date,
    /// The day silence-assent takes effect: the day after the check's term ends, or
    /// `None` once a notice of reasons against was sent.
    pub silence_assent_on: Option<Date>,
    /// The last day for observations on a notice received (L. 241/1990 art. 10-bis).
    pub observations_window_end: Option<Date>,
}

impl LegalClock {
    /// The clock of a declaration received on `received`, with a notice of reasons
    /// against if any: its sent day must fall within the 45 days (DPR 223/1989 art.
    /// 18-bis c. 1) and the 10-day window counts from its receipt.
    pub fn of(
        municipality: MunicipalityCode,
        received: Date,
        notice: Option<NoticeDates>,
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
        let stops: Vec<Stop> = notice
            .map(|n| Stop::ReasonsAgainst {
                sent: n.sent,
                received: n.received,
                observations: n.observations,
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
        // While the notice's receipt is not recorded the term stays suspended with no end
        // yet: the day shown is the term as it stood without the notice.
        let check_due = match check.due {
            Some(due) => due,
            None => clock::deadline(&calendar, Procedure::ResidenceCheck, received, &[], options)?
                .due
                .unwrap_or(received),
        };
        let silence_assent_on = match check.outcome_on_expiry {
            sportello_pa::Outcome::SilenceAssent => check_due.tomorrow().ok(),
            _ => None,
        };
        Ok(Self {
            registration_due: registration.due.unwrap_or(received),
            check_due,
            silence_assent_on,
            observations_window_end: check.observation_window.and_then(|w| w.ends),
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
            documents: Vec::new(),
            remaining_head_id: String::new(),
            representative_id: String::new(),
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
                ("remaining_head_id", |r| r.remaining_head_id = "x".into()),
                ("remaining_head_id", |r| {
                    r.remaining_head_id = r.members[1].resident_id.clone()
                }),
                ("representative_id", |r| {
                    r.representative_id = r.declarant_id.clone()
                }),
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
        let sent = NoticeDates {
            sent: date(2026, 12, 15),
            received: None,
            observations: None,
        };
        let noticed = LegalClock::of(spezia, date(2026, 11, 26), Some(sent)).unwrap();
        assert_eq!(
            noticed.silence_assent_on, None,
            "a 10-bis notice removes silence-assent"
        );
        assert_eq!(
            noticed.check_due, clock.check_due,
            "suspended with no end yet until the receipt is recorded"
        );
        assert_eq!(
            noticed.observations_window_end, None,
            "no window before receipt"
        );
    }

    /// L. 241/1990 art. 10-bis and DPR 223/1989 art. 18-bis c. 1 (issue 11, point 5): the
    /// notice has two dates; the sent one falls within the 45 days, and the citizen's
    /// 10 days count from the received one, not from the day the office records it.
    #[test]
    fn the_10_bis_window_counts_from_receipt_art_10_bis() {
        let spezia: MunicipalityCode = "011015".parse().unwrap();
        let declared = date(2026, 11, 26);
        let received = NoticeDates {
            sent: date(2026, 12, 15),
            received: Some(date(2026, 12, 18)),
            observations: None,
        };
        let clock = LegalClock::of(spezia, declared, Some(received)).unwrap();
        assert_eq!(clock.observations_window_end, Some(date(2026, 12, 28)));
        let plain = LegalClock::of(spezia, declared, None).unwrap();
        assert!(
            clock.check_due > plain.check_due,
            "the notice suspends the term"
        );
        // Sent after the 45 days: refused, citing art. 18-bis c. 1.
        let late = NoticeDates {
            sent: date(2027, 1, 20),
            received: None,
            observations: None,
        };
        let error = LegalClock::of(spezia, declared, Some(late)).unwrap_err();
        assert!(error.to_string().contains("18-bis"), "{error}");
    }
}
