//! Cases as routing keeps them, and requests parsed once at the edge.

use jiff::Timestamp;
use sportello_kit::{
    MunicipalityCode, RequesterRef, ServiceError, domain, events::to_proto_timestamp,
};
use sportello_proto::{
    common::v1::Channel,
    routing::v1::{
        Case as CaseMessage, CaseStatus, IssueTicketRequest, OpenCaseRequest, PriorityCategory,
        Tier,
    },
};
use uuid::Uuid;

use crate::domain::{Stored, withheld};

/// A case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// Record id.
    pub id: Uuid,
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// Pseudonymous requester.
    pub requester_ref: Option<RequesterRef>,
    /// Catalogue code.
    pub service_code: String,
    /// Owning department.
    pub department: String,
    /// Tier that handles it.
    pub tier: Tier,
    /// How it arrived.
    pub channel: Channel,
    /// Site, for counter cases.
    pub site_id: Option<Uuid>,
    /// Queue.
    pub group: String,
    /// Priority category.
    pub priority: PriorityCategory,
    /// Status.
    pub status: CaseStatus,
    /// Ticket.
    pub ticket_id: Option<Uuid>,
    /// Ticket label.
    pub ticket_label: Option<String>,
    /// Order within the ticket (0 = the first service).
    pub ticket_position: i16,
    /// Place in the queue.
    pub arrival_at: Timestamp,
    /// Opened.
    pub opened_at: Timestamp,
    /// Holder (called) or parker (parked).
    pub operator_id: Option<String>,
    /// Counter called to.
    pub counter_number: Option<i16>,
    /// Calls made.
    pub call_count: i16,
    /// Last call.
    pub called_at: Option<Timestamp>,
    /// Outcome.
    pub outcome_code: Option<String>,
    /// Closed.
    pub closed_at: Option<Timestamp>,
    /// Record version.
    pub version: i64,
}

impl Case {
    /// Whether this case waits in a counter queue (the dispatcher's concern): at a site,
    /// from the counter or an appointment check-in, for tiers 1-3.
    pub fn at_counter(&self) -> bool {
        self.site_id.is_some()
            && matches!(self.channel, Channel::Counter | Channel::Appointment)
            && self.tier != Tier::BackOffice
    }

    /// As an event carries it: the priority without its ground ([`withheld`]).
    pub fn to_event(&self) -> CaseMessage {
        CaseMessage {
            priority_category: withheld(self.priority) as i32,
            ..self.to_message()
        }
    }

    /// As a message, for staff who may see the priority's ground.
    pub fn to_message(&self) -> CaseMessage {
        CaseMessage {
            id: self.id.to_string(),
            municipality_istat_code: self.municipality.to_string(),
            requester_ref: self
                .requester_ref
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            service_code: self.service_code.clone(),
            department: self.department.clone(),
            tier: self.tier as i32,
            channel: self.channel as i32,
            site_id: self.site_id.map(|s| s.to_string()).unwrap_or_default(),
            service_group: self.group.clone(),
            priority_category: self.priority as i32,
            status: self.status as i32,
            ticket_id: self.ticket_id.map(|t| t.to_string()).unwrap_or_default(),
            ticket_label: self.ticket_label.clone().unwrap_or_default(),
            arrival_time: Some(to_proto_timestamp(self.arrival_at)),
            open_time: Some(to_proto_timestamp(self.opened_at)),
            operator_id: self.operator_id.clone().unwrap_or_default(),
            counter_number: self
                .counter_number
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or_default(),
            call_count: u32::try_from(self.call_count).unwrap_or_default(),
            outcome_code: self.outcome_code.clone().unwrap_or_default(),
            version: u64::try_from(self.version).unwrap_or_default(),
            called_time: self.called_at.map(to_proto_timestamp),
        }
    }
}

impl TryFrom<&CaseMessage> for Case {
    type Error = String;

    /// Reads a case from an event (another replica's write).
    fn try_from(m: &CaseMessage) -> Result<Self, Self::Error> {
        let time = |t: &Option<prost_types::Timestamp>| {
            t.as_ref()
                .and_then(|t| Timestamp::new(t.seconds, t.nanos).ok())
                .ok_or_else(|| "missing time".to_owned())
        };
        let optional = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let id = |s: &str| s.parse::<Uuid>().map_err(|e| e.to_string());
        Ok(Self {
            id: id(&m.id)?,
            municipality: m
                .municipality_istat_code
                .parse()
                .map_err(|e: &str| e.to_owned())?,
            requester_ref: optional(&m.requester_ref)
                .map(|r| r.parse())
                .transpose()
                .map_err(|e: &str| e.to_owned())?,
            service_code: m.service_code.clone(),
            department: m.department.clone(),
            tier: Tier::try_from(m.tier).map_err(|e| e.to_string())?,
            channel: Channel::try_from(m.channel).map_err(|e| e.to_string())?,
            site_id: optional(&m.site_id).map(|s| id(&s)).transpose()?,
            group: m.service_group.clone(),
            priority: PriorityCategory::try_from(m.priority_category).map_err(|e| e.to_string())?,
            status: CaseStatus::try_from(m.status).map_err(|e| e.to_string())?,
            ticket_id: optional(&m.ticket_id).map(|s| id(&s)).transpose()?,
            ticket_label: optional(&m.ticket_label),
            ticket_position: 0,
            arrival_at: time(&m.arrival_time)?,
            opened_at: time(&m.open_time)?,
            operator_id: optional(&m.operator_id),
            counter_number: i16::try_from(m.counter_number).ok().filter(|n| *n > 0),
            call_count: i16::try_from(m.call_count).unwrap_or(i16::MAX),
            called_at: None,
            outcome_code: optional(&m.outcome_code),
            closed_at: None,
            version: i64::try_from(m.version).map_err(|e| e.to_string())?,
        })
    }
}

/// An optional requester reference.
pub fn parse_requester_ref(raw: &str) -> Result<Option<RequesterRef>, ServiceError> {
    if raw.is_empty() {
        Ok(None)
    } else {
        domain::parse_field("requester_ref", raw).map(Some)
    }
}

/// A priority category; unspecified means none. Withheld is what events say, not a
/// ground: whoever opens a case at the counter states the ground they saw.
pub fn parse_priority(raw: i32) -> Result<PriorityCategory, ServiceError> {
    match raw {
        0 => Ok(PriorityCategory::None),
        r if r == PriorityCategory::Withheld as i32 => Err(ServiceError::invalid_field(
            "priority_category",
            "WITHHELD è solo per gli eventi: indicare il motivo della priorità / WITHHELD is \
             for events only: state the priority's ground",
        )),
        _ => PriorityCategory::from_request(raw, "priority_category"),
    }
}

/// An outcome code: 1-40 lowercase letters, digits or '_'.
pub fn parse_outcome(field: &str, raw: &str) -> Result<String, ServiceError> {
    if crate::catalogue::domain::is_code(raw, 40) {
        Ok(raw.to_owned())
    } else if raw.is_empty() {
        Err(ServiceError::invalid_field(field, "is required"))
    } else {
        Err(ServiceError::invalid_field(
            field,
            "must be a lowercase code, e.g. issued",
        ))
    }
}

/// A case to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCase {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// Catalogue code.
    pub service_code: String,
    /// How it arrived.
    pub channel: Channel,
    /// Site.
    pub site_id: Option<Uuid>,
    /// Requester.
    pub requester_ref: Option<RequesterRef>,
    /// Priority.
    pub priority: PriorityCategory,
    /// Tier instead of the service's default.
    pub tier: Option<Tier>,
}

impl TryFrom<&OpenCaseRequest> for NewCase {
    type Error = ServiceError;

    fn try_from(r: &OpenCaseRequest) -> Result<Self, Self::Error> {
        let channel = Channel::from_request(r.channel, "channel")?;
        let site_id = crate::protocol::domain::parse_optional_id("site_id", &r.site_id)?;
        if site_id.is_none() && matches!(channel, Channel::Counter | Channel::Appointment) {
            return Err(ServiceError::invalid_field(
                "site_id",
                "is required for counter and appointment cases",
            ));
        }
        Ok(Self {
            municipality: domain::parse_field(
                "municipality_istat_code",
                &r.municipality_istat_code,
            )?,
            service_code: r.service_code.clone(),
            channel,
            site_id,
            requester_ref: parse_requester_ref(&r.requester_ref)?,
            priority: parse_priority(r.priority_category)?,
            tier: if r.tier == 0 {
                None
            } else {
                Some(Tier::from_request(r.tier, "tier")?)
            },
        })
    }
}

/// A kiosk ticket to issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTicket {
    /// Site.
    pub site_id: Uuid,
    /// One to five distinct service codes, the first deciding the queue.
    pub service_codes: Vec<String>,
    /// Priority.
    pub priority: PriorityCategory,
    /// Requester.
    pub requester_ref: Option<RequesterRef>,
}

impl TryFrom<&IssueTicketRequest> for NewTicket {
    type Error = ServiceError;

    fn try_from(r: &IssueTicketRequest) -> Result<Self, Self::Error> {
        if !(1..=5).contains(&r.service_codes.len()) {
            return Err(ServiceError::invalid_field(
                "service_codes",
                "must name one to five services",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(twice) = r.service_codes.iter().find(|c| !seen.insert(*c)) {
            return Err(ServiceError::invalid_field(
                "service_codes",
                format!("{twice} is named twice"),
            ));
        }
        Ok(Self {
            site_id: domain::parse_field("site_id", &r.site_id)?,
            service_codes: r.service_codes.clone(),
            priority: parse_priority(r.priority_category)?,
            requester_ref: parse_requester_ref(&r.requester_ref)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> OpenCaseRequest {
        OpenCaseRequest {
            municipality_istat_code: "011015".into(),
            service_code: "registry.residence_certificate".into(),
            channel: Channel::Counter as i32,
            site_id: Uuid::now_v7().to_string(),
            requester_ref: String::new(),
            priority_category: 0,
            idempotency_key: String::new(),
            tier: 0,
        }
    }

    #[test]
    fn opening_a_case_names_each_bad_field() {
        sportello_kit::testing::assert_each_bad_field_is_named(
            &open(),
            |r| NewCase::try_from(r),
            &[
                ("channel", |r| r.channel = 0),
                ("site_id", |r| r.site_id.clear()),
                ("site_id", |r| r.site_id = "palazzo".into()),
                ("requester_ref", |r| {
                    r.requester_ref = "RSSMRA80A01E463K".into()
                }),
                ("priority_category", |r| r.priority_category = 77),
                ("tier", |r| r.tier = 9),
                ("municipality_istat_code", |r| {
                    r.municipality_istat_code.clear()
                }),
            ],
        );
    }

    #[test]
    fn a_web_case_needs_no_site() {
        let mut web = open();
        web.channel = Channel::Web as i32;
        web.site_id.clear();
        assert!(NewCase::try_from(&web).unwrap().site_id.is_none());
    }

    #[test]
    fn a_ticket_names_one_to_five_distinct_services() {
        let ticket = |codes: &[&str]| IssueTicketRequest {
            site_id: Uuid::now_v7().to_string(),
            service_codes: codes.iter().map(|c| (*c).to_owned()).collect(),
            ..Default::default()
        };
        assert!(NewTicket::try_from(&ticket(&["a.b"])).is_ok());
        for bad in [&[][..], &["a.b", "a.b"], &["a.b"; 6]] {
            let error = NewTicket::try_from(&ticket(bad)).unwrap_err();
            assert_eq!(error.violations()[0].field, "service_codes");
        }
    }

    #[test]
    fn outcomes_are_required_codes() {
        assert!(parse_outcome("outcome_code", "issued").is_ok());
        assert_eq!(
            parse_outcome("outcome_code", "").unwrap_err().message(),
            "outcome_code: is required"
        );
        assert!(parse_outcome("outcome_code", "Issued!").is_err());
    }
}
