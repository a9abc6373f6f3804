//! Back-office work as routing keeps it, and the department's request parsed once at the
//! edge (`WorkRequested`, `WorkUpdated`): every field checked, named when wrong.

use std::collections::BTreeMap;

use jiff::{Timestamp, civil::Date};
use serde::{Deserialize, Serialize};
use sportello_kit::{MunicipalityCode, RequesterRef, ServiceError, privacy, trust::policy};
use sportello_proto::routing::v1::{
    ClockSuspension, DocumentRef, EscalationLevel, OutcomeOnExpiry, PriorityCategory,
    StatutoryClock, WorkItem as WorkItemMessage, WorkOrigin, WorkRequested, WorkState,
    WorkUpdateKind, WorkUpdated,
};
use uuid::Uuid;

use crate::domain::Stored;

/// The longest context note.
pub const NOTE_MAX: usize = 2_000;

/// Where a piece of work comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The department service: registry, suap, …
    pub service: String,
    /// The kind of procedure.
    pub procedure_kind: String,
    /// The procedure's id there.
    pub procedure_id: Uuid,
}

/// A suspension of the term.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspension {
    /// Why.
    pub reason: String,
    /// First day.
    pub from: Date,
    /// Last day, once over.
    pub until: Option<Date>,
}

/// The statutory clock, as the department computed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    /// The PA library's rule.
    pub rule: String,
    /// Start of the term.
    pub start: Date,
    /// Due date (none while suspended without an end).
    pub due: Option<Date>,
    /// Warning date.
    pub warning: Option<Date>,
    /// What the due date brings (the proto enum's number).
    pub outcome: i32,
    /// Suspensions so far.
    pub suspensions: Vec<Suspension>,
}

/// A document the work refers to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// SHA-256, hex.
    pub sha256: String,
    /// Media type.
    pub media_type: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Title.
    pub title: String,
}

/// A department's request for work, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkRequest {
    /// The department's id.
    pub work_id: Uuid,
    /// Origin.
    pub origin: Origin,
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// Catalogue code.
    pub service_code: String,
    /// The person concerned.
    pub requester_ref: Option<RequesterRef>,
    /// The clock.
    pub clock: Option<Clock>,
    /// The note for whoever works it.
    pub context_note: String,
    /// Priority.
    pub priority: PriorityCategory,
    /// Documents.
    pub documents: Vec<Document>,
    /// Protocol registration.
    pub protocol_registration_id: Option<Uuid>,
}

/// A department's change to a piece of work, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkChange {
    /// The department's id.
    pub work_id: Uuid,
    /// Origin service.
    pub origin_service: String,
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// What changed.
    pub kind: WorkUpdateKind,
    /// The clock now.
    pub clock: Option<Clock>,
    /// Why.
    pub note: String,
    /// With [`WorkUpdateKind::Decided`]: the department's outcome and result.
    pub decision: Option<Decision>,
}

/// A department's own decision on a piece of work: the outcome and result a specialist
/// would have given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Lowercase code.
    pub outcome_code: String,
    /// Structured result.
    pub result: BTreeMap<String, String>,
}

/// A piece of back-office work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkItem {
    /// Record id.
    pub id: Uuid,
    /// Its case.
    pub case_id: Uuid,
    /// Origin.
    pub origin: Origin,
    /// The department's id.
    pub work_id: Uuid,
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// The department that works it.
    pub department: String,
    /// Catalogue code.
    pub service_code: String,
    /// The person concerned.
    pub requester_ref: Option<RequesterRef>,
    /// The note.
    pub context_note: String,
    /// Priority.
    pub priority: PriorityCategory,
    /// Documents.
    pub documents: Vec<Document>,
    /// Protocol registration.
    pub protocol_registration_id: Option<Uuid>,
    /// The clock.
    pub clock: Option<Clock>,
    /// The substitute's due date, once escalated to them.
    pub substitute_due: Option<Date>,
    /// State.
    pub state: WorkState,
    /// Offered to, while offered.
    pub offered_to: Option<String>,
    /// Offer deadline, while offered.
    pub offer_expires_at: Option<Timestamp>,
    /// When the search for a specialist began.
    pub waiting_since: Timestamp,
    /// Holder, while held.
    pub holder: Option<String>,
    /// Escalation level, 0-3.
    pub escalation: i16,
    /// Arrival.
    pub arrived_at: Timestamp,
    /// Closed.
    pub closed_at: Option<Timestamp>,
    /// Outcome.
    pub outcome_code: Option<String>,
    /// Structured result.
    pub result: BTreeMap<String, String>,
    /// Record version.
    pub version: i64,
}

crate::domain::stored!(WorkState {
    Waiting => "waiting",
    Offered => "offered",
    Held => "held",
    Suspended => "suspended",
    Completed => "completed",
    Cancelled => "cancelled",
});

impl WorkItem {
    /// Its due date, if its clock has one.
    pub fn due(&self) -> Option<Date> {
        self.clock.as_ref().and_then(|c| c.due)
    }

    /// Whether it is still open.
    pub fn is_open(&self) -> bool {
        !matches!(self.state, WorkState::Completed | WorkState::Cancelled)
    }

    /// As an event carries it: the priority without its ground.
    pub fn to_event(&self) -> WorkItemMessage {
        WorkItemMessage {
            priority_category: crate::domain::withheld(self.priority) as i32,
            ..self.to_message()
        }
    }

    /// The message form, for staff who may see the priority's ground.
    pub fn to_message(&self) -> WorkItemMessage {
        let escalation = match self.escalation {
            1 => EscalationLevel::Warned,
            2 => EscalationLevel::Manager,
            3 => EscalationLevel::Substitute,
            _ => EscalationLevel::None,
        };
        WorkItemMessage {
            id: self.id.to_string(),
            case_id: self.case_id.to_string(),
            origin: Some(WorkOrigin {
                service: self.origin.service.clone(),
                procedure_kind: self.origin.procedure_kind.clone(),
                procedure_id: self.origin.procedure_id.to_string(),
            }),
            work_id: self.work_id.to_string(),
            municipality_istat_code: self.municipality.to_string(),
            department: self.department.clone(),
            service_code: self.service_code.clone(),
            requester_ref: self
                .requester_ref
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            context_note: self.context_note.clone(),
            priority_category: self.priority as i32,
            clock: self.clock.as_ref().map(Clock::to_message),
            state: self.state as i32,
            offered_to: self.offered_to.clone().unwrap_or_default(),
            offer_expires_at: self
                .offer_expires_at
                .map(|t| t.to_string())
                .unwrap_or_default(),
            holder: self.holder.clone().unwrap_or_default(),
            escalation_level: escalation as i32,
            substitute_due_date: self
                .substitute_due
                .map(|d| d.to_string())
                .unwrap_or_default(),
            arrived_at: self.arrived_at.to_string(),
            closed_at: self.closed_at.map(|t| t.to_string()).unwrap_or_default(),
            outcome_code: self.outcome_code.clone().unwrap_or_default(),
            result: self.result.clone().into_iter().collect(),
            documents: self.documents.iter().map(Document::to_message).collect(),
            protocol_registration_id: self
                .protocol_registration_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            version: u64::try_from(self.version).unwrap_or_default(),
        }
    }
}

impl Clock {
    /// The message form.
    pub fn to_message(&self) -> StatutoryClock {
        StatutoryClock {
            rule: self.rule.clone(),
            start_date: self.start.to_string(),
            due_date: self.due.map(|d| d.to_string()).unwrap_or_default(),
            warning_date: self.warning.map(|d| d.to_string()).unwrap_or_default(),
            outcome_on_expiry: self.outcome,
            suspensions: self
                .suspensions
                .iter()
                .map(|s| ClockSuspension {
                    reason: s.reason.clone(),
                    from_date: s.from.to_string(),
                    until_date: s.until.map(|d| d.to_string()).unwrap_or_default(),
                })
                .collect(),
        }
    }

    fn parse(prefix: &str, m: &StatutoryClock) -> Result<Self, ServiceError> {
        let field = |name: &str| format!("{prefix}.{name}");
        let rule = token(&field("rule"), &m.rule, 40)?;
        let start = date(&field("start_date"), &m.start_date)?
            .ok_or_else(|| ServiceError::invalid_field(field("start_date"), "is required"))?;
        let due = date(&field("due_date"), &m.due_date)?;
        let warning = date(&field("warning_date"), &m.warning_date)?;
        if let Some(due) = due {
            if due < start {
                return Err(ServiceError::invalid_field(
                    field("due_date"),
                    "must not be before start_date",
                ));
            }
            if warning.is_some_and(|w| w > due) {
                return Err(ServiceError::invalid_field(
                    field("warning_date"),
                    "must not be after due_date",
                ));
            }
        }
        let outcome = OutcomeOnExpiry::try_from(m.outcome_on_expiry)
            .ok()
            .filter(|o| *o != OutcomeOnExpiry::Unspecified)
            .ok_or_else(|| {
                ServiceError::invalid_field(field("outcome_on_expiry"), "is required")
            })?;
        let mut suspensions = Vec::with_capacity(m.suspensions.len());
        for (i, s) in m.suspensions.iter().enumerate() {
            let at = |name: &str| format!("{prefix}.suspensions[{i}].{name}");
            let from = date(&at("from_date"), &s.from_date)?
                .ok_or_else(|| ServiceError::invalid_field(at("from_date"), "is required"))?;
            let until = date(&at("until_date"), &s.until_date)?;
            if until.is_some_and(|u| u < from) {
                return Err(ServiceError::invalid_field(
                    at("until_date"),
                    "must not be before from_date",
                ));
            }
            suspensions.push(Suspension {
                reason: token(&at("reason"), &s.reason, 40)?,
                from,
                until,
            });
        }
        Ok(Self {
            rule,
            start,
            due,
            warning,
            outcome: outcome as i32,
            suspensions,
        })
    }
}

impl Document {
    fn to_message(&self) -> DocumentRef {
        DocumentRef {
            sha256: self.sha256.clone(),
            media_type: self.media_type.clone(),
            size_bytes: self.size_bytes,
            title: self.title.clone(),
        }
    }
}

/// A lowercase code of letters, digits and `_`.
pub(crate) fn token(field: &str, raw: &str, max: usize) -> Result<String, ServiceError> {
    let ok = !raw.is_empty()
        && raw.len() <= max
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(ServiceError::invalid_field(
            field,
            format!("must be 1-{max} lowercase letters, digits or '_'"),
        ))
    }
}

/// An optional `YYYY-MM-DD` date.
fn date(field: &str, raw: &str) -> Result<Option<Date>, ServiceError> {
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse::<Date>()
        .map(Some)
        .map_err(|_| ServiceError::invalid_field(field, "must be a date, YYYY-MM-DD"))
}

fn uuid(field: &str, raw: &str) -> Result<Uuid, ServiceError> {
    Uuid::parse_str(raw).map_err(|_| ServiceError::invalid_field(field, "must be a UUID"))
}

fn origin(m: Option<&WorkOrigin>, stream_service: &str) -> Result<Origin, ServiceError> {
    let m = m.ok_or_else(|| ServiceError::invalid_field("origin", "is required"))?;
    if !policy::DEPARTMENTS.contains(&m.service.as_str()) {
        return Err(ServiceError::invalid_field(
            "origin.service",
            format!("{:?} is not a department service", m.service),
        ));
    }
    if m.service != stream_service {
        return Err(ServiceError::invalid_field(
            "origin.service",
            format!(
                "the request came from {stream_service}'s stream, not {}'s",
                m.service
            ),
        ));
    }
    Ok(Origin {
        service: m.service.clone(),
        procedure_kind: token("origin.procedure_kind", &m.procedure_kind, 40)?,
        procedure_id: uuid("origin.procedure_id", &m.procedure_id)?,
    })
}

fn service_code(raw: &str) -> Result<String, ServiceError> {
    if crate::catalogue::domain::is_service_code(raw) {
        Ok(raw.to_owned())
    } else {
        Err(ServiceError::invalid_field(
            "service_code",
            "must be lowercase dotted words, e.g. registry.residence_check",
        ))
    }
}

fn municipality(raw: &str) -> Result<MunicipalityCode, ServiceError> {
    sportello_kit::domain::parse_field("municipality_istat_code", raw)
}

/// The context note: optional, at most [`NOTE_MAX`] characters, no personal data.
pub fn note(field: &str, raw: &str) -> Result<String, ServiceError> {
    let text = raw.trim();
    if text.is_empty() {
        return Ok(String::new());
    }
    let text = sportello_kit::domain::required_text(field, text, NOTE_MAX)?;
    privacy::ensure_free_of_personal_data(field, &text)?;
    Ok(text)
}

impl WorkRequest {
    /// Parses a request that arrived on `stream_service`'s stream.
    pub fn parse(m: &WorkRequested, stream_service: &str) -> Result<Self, ServiceError> {
        let requester_ref = if m.requester_ref.is_empty() {
            None
        } else {
            Some(sportello_kit::domain::parse_field(
                "requester_ref",
                &m.requester_ref,
            )?)
        };
        let priority = PriorityCategory::try_from(m.priority_category)
            .map_err(|_| ServiceError::invalid_field("priority_category", "is not a category"))?;
        // An event never carries a priority's ground (health data): a department says
        // only whether the work has priority.
        let priority = match priority {
            PriorityCategory::Unspecified | PriorityCategory::None => PriorityCategory::None,
            PriorityCategory::Withheld => PriorityCategory::Withheld,
            _ => {
                return Err(ServiceError::invalid_field(
                    "priority_category",
                    "un evento dice solo NONE o WITHHELD, mai il motivo della priorità / an \
                     event says only NONE or WITHHELD, never the priority's ground",
                ));
            }
        };
        let mut documents = Vec::with_capacity(m.documents.len());
        for (i, d) in m.documents.iter().enumerate() {
            let at = |name: &str| format!("documents[{i}].{name}");
            let hex_ok = d.sha256.len() == 64
                && d.sha256
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
            if !hex_ok {
                return Err(ServiceError::invalid_field(
                    at("sha256"),
                    "must be 64 lowercase hex digits",
                ));
            }
            let media_ok = d.media_type.contains('/')
                && d.media_type.len() <= 100
                && d.media_type.bytes().all(|b| b.is_ascii_graphic());
            if !media_ok {
                return Err(ServiceError::invalid_field(
                    at("media_type"),
                    "must be a media type",
                ));
            }
            documents.push(Document {
                sha256: d.sha256.clone(),
                media_type: d.media_type.clone(),
                size_bytes: d.size_bytes,
                title: note(&at("title"), &d.title)?,
            });
        }
        let protocol_registration_id = if m.protocol_registration_id.is_empty() {
            None
        } else {
            Some(uuid(
                "protocol_registration_id",
                &m.protocol_registration_id,
            )?)
        };
        Ok(Self {
            work_id: uuid("work_id", &m.work_id)?,
            origin: origin(m.origin.as_ref(), stream_service)?,
            municipality: municipality(&m.municipality_istat_code)?,
            service_code: service_code(&m.service_code)?,
            requester_ref,
            clock: m
                .clock
                .as_ref()
                .map(|c| Clock::parse("clock", c))
                .transpose()?,
            context_note: note("context_note", &m.context_note)?,
            priority,
            documents,
            protocol_registration_id,
        })
    }
}

impl WorkChange {
    /// Parses a change that arrived on `stream_service`'s stream.
    pub fn parse(m: &WorkUpdated, stream_service: &str) -> Result<Self, ServiceError> {
        let origin = m
            .origin
            .as_ref()
            .ok_or_else(|| ServiceError::invalid_field("origin", "is required"))?;
        if origin.service != stream_service {
            return Err(ServiceError::invalid_field(
                "origin.service",
                format!("the change came from {stream_service}'s stream"),
            ));
        }
        let kind = WorkUpdateKind::try_from(m.kind)
            .ok()
            .filter(|k| *k != WorkUpdateKind::Unspecified)
            .ok_or_else(|| ServiceError::invalid_field("kind", "is required"))?;
        let clock = m
            .clock
            .as_ref()
            .map(|c| Clock::parse("clock", c))
            .transpose()?;
        let closes = matches!(kind, WorkUpdateKind::Withdrawn | WorkUpdateKind::Decided);
        if clock.is_none() && !closes {
            return Err(ServiceError::invalid_field(
                "clock",
                "is required unless the work is withdrawn or decided",
            ));
        }
        let decision = if kind == WorkUpdateKind::Decided {
            Some(Decision {
                outcome_code: crate::cases::domain::parse_outcome("outcome_code", &m.outcome_code)?,
                result: result(&m.result)?,
            })
        } else if !m.outcome_code.is_empty() || !m.result.is_empty() {
            return Err(ServiceError::invalid_field(
                if m.outcome_code.is_empty() {
                    "result"
                } else {
                    "outcome_code"
                },
                "only a DECIDED update carries an outcome",
            ));
        } else {
            None
        };
        Ok(Self {
            work_id: uuid("work_id", &m.work_id)?,
            origin_service: origin.service.clone(),
            municipality: municipality(&m.municipality_istat_code)?,
            kind,
            clock,
            note: note("note", &m.note)?,
            decision,
        })
    }
}

/// The specialist's structured result: lowercase keys, short values without personal
/// data, at most 20 entries.
pub fn result(
    raw: &std::collections::HashMap<String, String>,
) -> Result<BTreeMap<String, String>, ServiceError> {
    if raw.len() > 20 {
        return Err(ServiceError::invalid_field("result", "at most 20 entries"));
    }
    let mut result = BTreeMap::new();
    for (key, value) in raw {
        let key = token("result", key, 40)?;
        let field = format!("result.{key}");
        let value = sportello_kit::domain::required_text(&field, value, 200)?;
        privacy::ensure_free_of_personal_data(&field, &value)?;
        result.insert(key, value);
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn valid() -> WorkRequested {
        WorkRequested {
            work_id: "0190f5b2-7c4a-7b8e-9d3c-1a2b3c4d5e6f".into(),
            origin: Some(WorkOrigin {
                service: "registry".into(),
                procedure_kind: "residence_change".into(),
                procedure_id: "0190f5b2-7c4a-7b8e-9d3c-1a2b3c4d5e70".into(),
            }),
            municipality_istat_code: "011015".into(),
            service_code: "registry.residence_check".into(),
            requester_ref: String::new(),
            clock: Some(StatutoryClock {
                rule: "residence_check".into(),
                start_date: "2026-12-01".into(),
                due_date: "2027-01-15".into(),
                warning_date: "2027-01-08".into(),
                outcome_on_expiry: OutcomeOnExpiry::SilenceAssent as i32,
                suspensions: vec![],
            }),
            context_note: "Verifica dell'indirizzo dichiarato.".into(),
            priority_category: 0,
            documents: vec![],
            protocol_registration_id: String::new(),
        }
    }

    #[test]
    fn each_bad_field_of_a_work_request_is_named() {
        sportello_kit::testing::assert_each_bad_field_is_named(
            &valid(),
            |m| WorkRequest::parse(m, "registry"),
            &[
                ("work_id", |m| m.work_id = "x".into()),
                ("origin.service", |m| {
                    m.origin.as_mut().unwrap().service = "routing".into()
                }),
                ("origin.procedure_id", |m| {
                    m.origin.as_mut().unwrap().procedure_id = "1".into()
                }),
                ("municipality_istat_code", |m| {
                    m.municipality_istat_code = "11015".into()
                }),
                ("service_code", |m| m.service_code = "Residenza".into()),
                ("clock.due_date", |m| {
                    m.clock.as_mut().unwrap().due_date = "2026-11-30".into()
                }),
                ("clock.outcome_on_expiry", |m| {
                    m.clock.as_mut().unwrap().outcome_on_expiry = 0
                }),
                ("context_note", |m| {
                    m.context_note = "CF RSSMRA80A01E463K".into()
                }),
                ("priority_category", |m| {
                    m.priority_category = PriorityCategory::Disability as i32
                }),
            ],
        );
    }

    #[test]
    fn priority_work_says_withheld_and_its_events_never_the_ground() {
        let mut m = valid();
        m.priority_category = PriorityCategory::Withheld as i32;
        let request = WorkRequest::parse(&m, "registry").unwrap();
        assert_eq!(request.priority, PriorityCategory::Withheld);
        assert!(crate::domain::is_priority(request.priority));
        for ground in [PriorityCategory::Disability, PriorityCategory::Pregnancy] {
            assert_eq!(crate::domain::withheld(ground), PriorityCategory::Withheld);
        }
        assert_eq!(
            crate::domain::withheld(PriorityCategory::None),
            PriorityCategory::None
        );
    }

    #[test]
    fn a_request_must_come_from_its_own_departments_stream() {
        let err = WorkRequest::parse(&valid(), "suap").unwrap_err();
        assert_eq!(err.violations()[0].field, "origin.service");
    }
}
