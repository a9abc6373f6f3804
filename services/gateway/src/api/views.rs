//! The JSON the pages read, made from the services' messages: enum values as short
//! lowercase names, times as RFC 3339, no field a page does not need.

use jiff::Timestamp;
use serde::Serialize;
use sportello_proto::routing::v1::{
    Call, Case, Decision, DecisionReason, Operator, Presence, PriorityCategory, QueueStatus,
    RecentCall, ServiceType,
};

/// `PRESENCE_WRAP_UP` → `wrap_up`: a proto enum name without its prefix, lowercase.
pub fn short_name(full: &str, prefix: &str) -> String {
    full.strip_prefix(prefix)
        .unwrap_or(full)
        .to_ascii_lowercase()
}

/// A protobuf timestamp as RFC 3339, when present and valid.
pub fn time(ts: Option<&prost_types::Timestamp>) -> Option<String> {
    let ts = ts?;
    Timestamp::new(ts.seconds, ts.nanos)
        .ok()
        .map(|t| t.to_string())
}

fn seconds_since(ts: Option<&prost_types::Timestamp>, now: Timestamp) -> i64 {
    ts.map_or(0, |ts| (now.as_second() - ts.seconds).max(0))
}

/// A case on the operator's card.
#[derive(Debug, Clone, Serialize)]
pub struct CaseView {
    pub id: String,
    pub ticket_label: String,
    pub service_code: String,
    pub service_name: String,
    pub service_group: String,
    pub department: String,
    pub channel: String,
    pub status: String,
    pub priority_category: String,
    pub arrival_time: Option<String>,
    pub waited_seconds: i64,
    pub call_count: u32,
    pub counter_number: u32,
    pub required_documents: Vec<String>,
    /// Whether the requester is known (their identity can be opened, audited).
    pub has_requester: bool,
    pub outcome_code: String,
    /// The counter budget: the catalogue's expected minutes for the service, in seconds
    /// (0 when the catalogue does not say).
    pub budget_seconds: i64,
    /// Seconds since the case was last called to a counter (0 if never called).
    pub serving_seconds: i64,
    /// The outcomes its catalogue entry lists (e.g. the info desk's `answered`,
    /// `form_given`, `redirected`); empty when it lists none, and the console offers the
    /// general ones.
    pub outcomes: Vec<OutcomeChoice>,
}

/// An outcome a case may be completed with, and its name.
#[derive(Debug, Clone, Serialize)]
pub struct OutcomeChoice {
    pub code: String,
    pub name: String,
}

impl CaseView {
    /// The view of `case`, with its catalogue entry when known.
    pub fn new(case: &Case, service: Option<&ServiceType>, now: Timestamp) -> Self {
        Self {
            id: case.id.clone(),
            ticket_label: case.ticket_label.clone(),
            service_code: case.service_code.clone(),
            service_name: service.map_or_else(|| case.service_code.clone(), |s| s.name.clone()),
            service_group: case.service_group.clone(),
            department: case.department.clone(),
            channel: short_name(case.channel().as_str_name(), "CHANNEL_"),
            status: short_name(case.status().as_str_name(), "CASE_STATUS_"),
            priority_category: short_name(
                case.priority_category().as_str_name(),
                "PRIORITY_CATEGORY_",
            ),
            arrival_time: time(case.arrival_time.as_ref()),
            waited_seconds: seconds_since(case.arrival_time.as_ref(), now),
            call_count: case.call_count,
            counter_number: case.counter_number,
            required_documents: service
                .map(|s| s.required_documents.clone())
                .unwrap_or_default(),
            has_requester: !case.requester_ref.is_empty(),
            outcome_code: case.outcome_code.clone(),
            budget_seconds: service.map_or(0, |s| i64::from(s.expected_minutes) * 60),
            serving_seconds: seconds_since(case.called_time.as_ref(), now),
            outcomes: service
                .map(|s| {
                    s.outcomes
                        .iter()
                        .map(|o| OutcomeChoice {
                            code: o.code.clone(),
                            name: o.name.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// Why a case was called.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionView {
    pub reason: String,
    pub explanation: String,
    pub waited_minutes: u32,
    pub bound_minutes: u32,
}

impl From<&Decision> for DecisionView {
    fn from(d: &Decision) -> Self {
        Self {
            reason: short_name(
                DecisionReason::try_from(d.reason)
                    .unwrap_or_default()
                    .as_str_name(),
                "DECISION_REASON_",
            ),
            explanation: d.explanation.clone(),
            waited_minutes: d.waited_minutes,
            bound_minutes: d.bound_minutes,
        }
    }
}

/// A call: the case, its ticket, the counter and why.
#[derive(Debug, Clone, Serialize)]
pub struct CallView {
    pub case: CaseView,
    pub ticket_label: String,
    pub counter_number: u32,
    pub decision: Option<DecisionView>,
}

impl CallView {
    /// The view of `call`.
    pub fn new(call: &Call, service: Option<&ServiceType>, now: Timestamp) -> Option<Self> {
        let case = call.case.as_ref()?;
        Some(Self {
            case: CaseView::new(case, service, now),
            ticket_label: call
                .ticket
                .as_ref()
                .map_or_else(|| case.ticket_label.clone(), |t| t.label.clone()),
            counter_number: call.counter_number,
            decision: call.decision.as_ref().map(DecisionView::from),
        })
    }
}

/// One queue's state.
#[derive(Debug, Clone, Serialize)]
pub struct QueueView {
    pub service_group: String,
    pub letter: String,
    pub name: String,
    pub waiting: u32,
    pub waiting_priority: u32,
    pub longest_wait_seconds: u32,
    /// A ticket taken now: half are called within this, by the recent pace.
    pub wait_p50_seconds: u32,
    /// Nine in ten are called within this.
    pub wait_p90_seconds: u32,
    /// What the estimate rests on, or why there is none (Italian / English).
    pub wait_basis: String,
}

impl From<&QueueStatus> for QueueView {
    fn from(q: &QueueStatus) -> Self {
        Self {
            service_group: q.service_group.clone(),
            letter: q.letter.clone(),
            name: q.name.clone(),
            waiting: q.waiting,
            waiting_priority: q.waiting_priority,
            longest_wait_seconds: q.longest_wait_seconds,
            wait_p50_seconds: q.wait_p50_seconds,
            wait_p90_seconds: q.wait_p90_seconds,
            wait_basis: q.wait_basis.clone(),
        }
    }
}

/// A call as the board shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BoardCall {
    pub ticket_label: String,
    pub counter_number: u32,
    pub call_time: Option<String>,
    pub call_count: u32,
}

impl From<&RecentCall> for BoardCall {
    fn from(c: &RecentCall) -> Self {
        Self {
            ticket_label: c.ticket_label.clone(),
            counter_number: c.counter_number,
            call_time: time(c.call_time.as_ref()),
            call_count: c.call_count,
        }
    }
}

/// The operator on their console.
#[derive(Debug, Clone, Serialize)]
pub struct OperatorView {
    pub id: String,
    pub display_name: String,
    pub tier: u8,
    pub department: String,
    pub skills: Vec<SkillView>,
    pub site_id: String,
    pub site_code: String,
    pub counter_number: u32,
    pub presence: String,
    pub current_case_id: String,
}

/// A skill with its proficiency.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct SkillView {
    pub skill: String,
    #[serde(deserialize_with = "super::input::integer")]
    pub proficiency: u32,
}

impl OperatorView {
    /// The view of `operator`; `site_code` resolves its site id.
    pub fn new(operator: &Operator, site_code: String) -> Self {
        Self {
            id: operator.id.clone(),
            display_name: operator.display_name.clone(),
            tier: u8::try_from(operator.tier).unwrap_or_default(),
            department: operator.department.clone(),
            skills: operator
                .skills
                .iter()
                .map(|s| SkillView {
                    skill: s.skill.clone(),
                    proficiency: s.proficiency,
                })
                .collect(),
            site_id: operator.site_id.clone(),
            site_code,
            counter_number: operator.counter_number,
            presence: presence_name(operator.presence()),
            current_case_id: operator.current_case_id.clone(),
        }
    }
}

/// `available`, `wrap_up`, …
pub fn presence_name(p: Presence) -> String {
    short_name(p.as_str_name(), "PRESENCE_")
}

/// A priority category from its short name: a ground, or none. `withheld` is what
/// routing's events say in place of a ground, never what a kiosk or a counter asks for.
pub fn parse_priority(name: &str) -> Option<PriorityCategory> {
    if name.is_empty() {
        return Some(PriorityCategory::None);
    }
    if name != name.to_ascii_lowercase() {
        return None;
    }
    PriorityCategory::from_str_name(&format!("PRIORITY_CATEGORY_{}", name.to_ascii_uppercase()))
        .filter(|p| {
            !matches!(
                p,
                PriorityCategory::Unspecified | PriorityCategory::Withheld
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_names_are_short_and_lowercase() {
        assert_eq!(presence_name(Presence::WrapUp), "wrap_up");
        assert_eq!(
            parse_priority("pregnancy"),
            Some(PriorityCategory::Pregnancy)
        );
        assert_eq!(parse_priority(""), Some(PriorityCategory::None));
        assert_eq!(parse_priority("vip"), None);
        assert_eq!(parse_priority("Pregnancy"), None);
        assert_eq!(parse_priority("unspecified"), None);
        assert_eq!(parse_priority("withheld"), None);
    }
}
