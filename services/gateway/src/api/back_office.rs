//! The back office (tier 4) in the console: the specialist's offers, their items and
//! their department's, accept / decline / complete; the front desk's hand-off of a
//! counter case with its printed receipt; the manager's breaches by procedure. Routing
//! decides every step (who an offer is for, who holds an item, which municipality and
//! department may see it); the gateway checks roles first for the user's convenience.

use axum::{Json, extract::State};
use jiff::{Timestamp, civil::Date};
use serde::{Deserialize, Serialize};
use sportello_kit::{CallContext, ErrorKind, ServiceError};
use sportello_proto::{
    common::v1::PageRequest,
    routing::v1::{
        AcceptOfferRequest, CompleteWorkRequest, DeclineOfferRequest, EscalateCaseRequest,
        EscalationLevel, GetWorkRequest, ListBreachesRequest, ListSurgesRequest, ListWorkRequest,
        OutcomeOnExpiry, SummariseWorkRequest, WorkItem, WorkState, WorkTally, WorkView as View,
    },
};

use super::{
    board,
    body::{Body, Path, Query},
    input, sites_of,
};
use crate::{
    app::AppState,
    auth::{Role, Signed},
};

/// Who works the back office's items.
const SPECIALISTS: &[Role] = &[Role::BackOffice, Role::Tecnico];

/// An item as the inbox shows it.
#[derive(Debug, Serialize)]
pub struct WorkItemView {
    pub id: String,
    pub case_id: String,
    pub department: String,
    pub service_code: String,
    /// "suap", "registry", … or "routing" for a counter's hand-off.
    pub origin: String,
    pub procedure_kind: String,
    /// The department's procedure (e.g. the registry's change of residence), so the
    /// item view can show its steps.
    pub procedure_id: String,
    pub state: &'static str,
    /// Offered to the signed-in specialist, waiting for their answer.
    pub offered_to_me: bool,
    pub offer_expires_at: Option<String>,
    /// Seconds left to answer the offer (0 when it lapsed).
    pub offer_seconds_left: Option<i64>,
    pub held_by_me: bool,
    /// Someone holds it (never who: the inbox shows no per-person figures).
    pub held: bool,
    pub due_date: Option<String>,
    pub warning_date: Option<String>,
    pub substitute_due_date: Option<String>,
    /// "on_time", "warning" (the warning date passed), "due" (due today or tomorrow),
    /// "breached" (the due date passed), "none" (no statutory clock).
    pub traffic_light: &'static str,
    /// "none", "warned", "manager", "substitute".
    pub escalation: &'static str,
    /// What happens when the term lapses: "silence_assent", "silence_rejection",
    /// "decision_due", "rule_defined".
    pub outcome_on_expiry: Option<&'static str>,
    pub context_note: String,
    pub documents: usize,
    /// The documents' references (never their bytes): a residence change's are read at
    /// `/api/v1/residence-changes/{procedure_id}/documents/{sha256}`.
    pub document_refs: Vec<DocumentRefView>,
    pub protocol_registration_id: Option<String>,
    pub arrived_at: String,
    pub outcome_code: Option<String>,
    pub version: u64,
    /// The outcomes the item may be completed with, from its service's catalogue entry;
    /// empty when the service lists none and the general ones apply (approved, rejected,
    /// informed, which the page names itself). Only in the single-item view: a list
    /// would ask the catalogue once per row for a choice made on one item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcomes: Option<Vec<OutcomeView>>,
}

/// An outcome an item may be completed with.
#[derive(Debug, Serialize)]
pub struct OutcomeView {
    /// What CompleteWork takes as `outcome_code`.
    pub code: String,
    /// The catalogue's name for the operator (Italian).
    pub name: String,
}

/// A document the item refers to: what it is, not whose.
#[derive(Debug, Serialize)]
pub struct DocumentRefView {
    pub sha256: String,
    pub media_type: String,
    pub size_bytes: u64,
    pub title: String,
}

fn optional(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

fn state_name(state: WorkState) -> &'static str {
    match state {
        WorkState::Waiting => "waiting",
        WorkState::Offered => "offered",
        WorkState::Held => "held",
        WorkState::Suspended => "suspended",
        WorkState::Completed => "completed",
        WorkState::Cancelled => "cancelled",
        WorkState::Unspecified => "unknown",
    }
}

/// The traffic light of a clock on `today`.
fn light(due: Option<Date>, warning: Option<Date>, today: Date) -> &'static str {
    match due {
        None => "none",
        Some(due) if due < today => "breached",
        Some(due) if due <= today.tomorrow().unwrap_or(today) => "due",
        Some(_) if warning.is_some_and(|w| w <= today) => "warning",
        Some(_) => "on_time",
    }
}

impl WorkItemView {
    /// The view of `item` for the account `me`, at `now`.
    pub fn new(item: &WorkItem, me: &str, now: Timestamp) -> Self {
        let clock = item.clock.clone().unwrap_or_default();
        let due: Option<Date> = clock.due_date.parse().ok();
        let warning: Option<Date> = clock.warning_date.parse().ok();
        let today = now
            .in_tz("Europe/Rome")
            .map(|z| z.date())
            .unwrap_or_default();
        let expires: Option<Timestamp> = item.offer_expires_at.parse().ok();
        let offered_to_me = item.state() == WorkState::Offered && item.offered_to == me;
        let origin = item.origin.clone().unwrap_or_default();
        Self {
            id: item.id.clone(),
            case_id: item.case_id.clone(),
            department: item.department.clone(),
            service_code: item.service_code.clone(),
            origin: origin.service,
            procedure_kind: origin.procedure_kind,
            procedure_id: origin.procedure_id,
            state: state_name(item.state()),
            offered_to_me,
            offer_expires_at: optional(&item.offer_expires_at),
            offer_seconds_left: offered_to_me
                .then(|| expires.map(|e| e.duration_since(now).as_secs().max(0)))
                .flatten(),
            held_by_me: item.state() == WorkState::Held && item.holder == me,
            held: item.state() == WorkState::Held,
            due_date: optional(&clock.due_date),
            warning_date: optional(&clock.warning_date),
            substitute_due_date: optional(&item.substitute_due_date),
            traffic_light: light(due, warning, today),
            escalation: match item.escalation_level() {
                EscalationLevel::Warned => "warned",
                EscalationLevel::Manager => "manager",
                EscalationLevel::Substitute => "substitute",
                EscalationLevel::None | EscalationLevel::Unspecified => "none",
            },
            outcome_on_expiry: item.clock.as_ref().map(|c| match c.outcome_on_expiry() {
                OutcomeOnExpiry::SilenceAssent => "silence_assent",
                OutcomeOnExpiry::SilenceRejection => "silence_rejection",
                OutcomeOnExpiry::DecisionDue => "decision_due",
                OutcomeOnExpiry::RuleDefined => "rule_defined",
                OutcomeOnExpiry::Unspecified => "none",
            }),
            context_note: item.context_note.clone(),
            documents: item.documents.len(),
            document_refs: item
                .documents
                .iter()
                .map(|d| DocumentRefView {
                    sha256: d.sha256.clone(),
                    media_type: d.media_type.clone(),
                    size_bytes: d.size_bytes,
                    title: d.title.clone(),
                })
                .collect(),
            protocol_registration_id: optional(&item.protocol_registration_id),
            arrived_at: item.arrived_at.clone(),
            outcome_code: optional(&item.outcome_code),
            version: item.version,
            outcomes: None,
        }
    }
}

/// `{"item": …}`: an item as it now is, seen by the signed-in account.
fn item_reply(state: &AppState, signed: &Signed, item: &WorkItem) -> Json<serde_json::Value> {
    let now = state.db.clock().now();
    Json(serde_json::json!({ "item": WorkItemView::new(item, &signed.account().id, now) }))
}

fn context(signed: &Signed, purpose: &str) -> Result<CallContext, ServiceError> {
    signed.require(SPECIALISTS)?;
    signed.context(purpose)
}

fn me(signed: &Signed) -> String {
    signed.account().id.clone()
}

/// Routing hides what the account may not see as not found: on an item id it was shown,
/// both mean the same — not an item it may touch.
fn refusal(status: tonic::Status) -> ServiceError {
    match status.code() {
        tonic::Code::NotFound => ServiceError::new(
            ErrorKind::PermissionDenied,
            "nessuna pratica del tuo ufficio ha questo id / no item of your office has this id",
        ),
        _ => status.into(),
    }
}

/// Which items the inbox lists.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// "offered", "mine" or "department".
    pub view: String,
}

/// `GET /api/v1/back-office/work?view=…`.
pub async fn list(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<ListQuery>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let view = match query.view.as_str() {
        "offered" => View::OfferedToMe,
        "mine" => View::Mine,
        "department" => View::Department,
        _ => {
            return Err(ServiceError::invalid_field(
                "view",
                "one of offered, mine, department",
            ));
        }
    };
    let context = context(&signed, "work.read")?;
    let account = signed.account();
    let department = account.department.clone().unwrap_or_default();
    let reply = state
        .back_office()?
        .list_work(context.request(ListWorkRequest {
            municipality_istat_code: account.municipality.to_string(),
            department,
            operator_id: account.id.clone(),
            view: view as i32,
            states: Vec::new(),
            procedure_kind: String::new(),
            page: Some(PageRequest {
                page_size: 200,
                page_token: String::new(),
            }),
        }))
        .await?
        .into_inner();
    let now = state.db.clock().now();
    let items: Vec<WorkItemView> = reply
        .items
        .iter()
        .map(|i| WorkItemView::new(i, &account.id, now))
        .collect();
    Ok(Json(serde_json::json!({ "items": items })))
}

/// `GET /api/v1/back-office/work/{id}`: the item and its case's history.
pub async fn get(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let id = input::record_id("id", &id)?.to_string();
    let context = context(&signed, "work.read")?;
    let item = state
        .back_office()?
        .get_work(context.request(GetWorkRequest { item_id: id }))
        .await
        .map_err(refusal)?
        .into_inner()
        .item
        .unwrap_or_default();
    let (_, history, _) = super::cases::load(&state, &signed, &context, &item.case_id).await?;
    // The choice of outcome is the catalogue's: a service it does not know (never the
    // case for an item routing made) leaves the general outcomes, as an empty list does.
    let outcomes = super::service_type(&state, &context, &item.service_code)
        .await?
        .map(|s| s.outcomes)
        .unwrap_or_default()
        .into_iter()
        .map(|o| OutcomeView {
            code: o.code,
            name: o.name,
        })
        .collect();
    let now = state.db.clock().now();
    let mut view = WorkItemView::new(&item, &signed.account().id, now);
    view.outcomes = Some(outcomes);
    Ok(Json(serde_json::json!({
        "item": view,
        "history": history,
    })))
}

/// `POST /api/v1/back-office/work/{id}/accept`.
pub async fn accept(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let id = input::record_id("id", &id)?.to_string();
    let context = context(&signed, "work.serve")?;
    let item = state
        .back_office()?
        .accept_offer(context.request(AcceptOfferRequest {
            item_id: id,
            operator_id: me(&signed),
        }))
        .await
        .map_err(refusal)?
        .into_inner()
        .item
        .unwrap_or_default();
    Ok(item_reply(&state, &signed, &item))
}

/// Why an offer is declined.
#[derive(Debug, Deserialize)]
pub struct DeclineForm {
    #[serde(default)]
    pub reason: String,
}

/// `POST /api/v1/back-office/work/{id}/decline`.
pub async fn decline(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Body(form): Body<DeclineForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let id = input::record_id("id", &id)?.to_string();
    input::text("reason", &form.reason, 500)?;
    let context = context(&signed, "work.serve")?;
    let item = state
        .back_office()?
        .decline_offer(context.request(DeclineOfferRequest {
            item_id: id,
            operator_id: me(&signed),
            reason: form.reason,
        }))
        .await
        .map_err(refusal)?
        .into_inner()
        .item
        .unwrap_or_default();
    Ok(item_reply(&state, &signed, &item))
}

/// The outcome of an item.
#[derive(Debug, Deserialize)]
pub struct CompleteWorkForm {
    pub outcome_code: String,
    #[serde(default)]
    pub result: std::collections::BTreeMap<String, String>,
}

/// `POST /api/v1/back-office/work/{id}/complete`.
pub async fn complete(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Body(form): Body<CompleteWorkForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let id = input::record_id("id", &id)?.to_string();
    let context = context(&signed, "work.serve")?;
    let item = state
        .back_office()?
        .complete_work(context.request(CompleteWorkRequest {
            item_id: id,
            operator_id: me(&signed),
            outcome_code: form.outcome_code,
            result: form.result.into_iter().collect(),
        }))
        .await
        .map_err(refusal)?
        .into_inner()
        .item
        .unwrap_or_default();
    Ok(item_reply(&state, &signed, &item))
}

/// The front desk's hand-off.
#[derive(Debug, Deserialize)]
pub struct EscalateForm {
    /// What was asked, which documents were seen, what was promised.
    pub context_note: String,
}

/// `POST /api/v1/cases/{id}/escalate`: the case at the operator's counter goes to the
/// back office; the answer is what the citizen's printed receipt says.
pub async fn escalate(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Body(form): Body<EscalateForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let case_id = input::record_id("id", &id)?.to_string();
    input::required_text("context_note", &form.context_note, 2000)?;
    signed.require(Role::OPERATORS)?;
    let context = signed.context("case.serve")?;
    let reply = state
        .back_office()?
        .escalate_case(context.request(EscalateCaseRequest {
            case_id,
            operator_id: me(&signed),
            context_note: form.context_note,
        }))
        .await
        .map_err(|status| match status.code() {
            tonic::Code::NotFound => ServiceError::new(
                ErrorKind::PermissionDenied,
                "nessun caso del tuo comune ha questo id / no case of your municipality has this id",
            ),
            _ => status.into(),
        })?
        .into_inner();
    let item = reply.item.unwrap_or_default();
    let now = state.db.clock().now();
    Ok(Json(serde_json::json!({
        "item": WorkItemView::new(&item, &signed.account().id, now),
        "receipt": {
            "case_id": item.case_id,
            "protocol_registration_id": optional(&item.protocol_registration_id),
            "answer_by": reply.answer_by,
            "department": item.department,
            "service_code": item.service_code,
        },
    })))
}

/// Which year's breaches.
#[derive(Debug, Deserialize)]
pub struct BreachesQuery {
    pub year: u32,
}

/// `GET /api/v1/back-office/breaches?year=…`: for the yearly report on terms not kept
/// (L. 241/1990 art. 2 c.9-quater), by procedure.
pub async fn breaches(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<BreachesQuery>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    signed.require(&[Role::Manager, Role::Admin])?;
    if !(2000..=2100).contains(&query.year) {
        return Err(ServiceError::invalid_field(
            "year",
            "must be a year, 2000-2100",
        ));
    }
    let context = signed.context("work.report")?;
    let reply = state
        .back_office()?
        .list_breaches(context.request(ListBreachesRequest {
            municipality_istat_code: signed.account().municipality.to_string(),
            year: query.year,
        }))
        .await?
        .into_inner();
    let procedures: Vec<serde_json::Value> = reply
        .procedures
        .iter()
        .map(|p| {
            serde_json::json!({
                "service_code": p.service_code,
                "breached": p.breached,
                "decided": p.decided,
            })
        })
        .collect();
    Ok(Json(
        serde_json::json!({ "year": query.year, "procedures": procedures }),
    ))
}

/// `GET /api/v1/back-office/summary?department=…&due_soon_days=…`.
#[derive(Debug, Deserialize)]
pub struct SummaryQuery {
    #[serde(default)]
    pub department: String,
    #[serde(default)]
    pub due_soon_days: u32,
}

fn tally(t: &WorkTally) -> serde_json::Value {
    serde_json::json!({
        "key": t.key,
        "open": t.open,
        "waiting": t.waiting,
        "offered": t.offered,
        "held": t.held,
        "suspended": t.suspended,
        "due_soon": t.due_soon,
        "breached": t.breached,
    })
}

/// `GET /api/v1/back-office/summary`: the manager's page — a department's open items by
/// procedure and by assignee (work to organise, never anyone's performance).
pub async fn summary(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<SummaryQuery>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    signed.require(&[Role::Manager, Role::Admin])?;
    let context = signed.context("work.report")?;
    let reply = state
        .back_office()?
        .summarise_work(context.request(SummariseWorkRequest {
            municipality_istat_code: signed.account().municipality.to_string(),
            department: query.department,
            due_soon_days: query.due_soon_days,
        }))
        .await?
        .into_inner();
    Ok(Json(serde_json::json!({
        "day": reply.day,
        "due_soon_days": reply.due_soon_days,
        "total": tally(&reply.total.unwrap_or_default()),
        "by_procedure": reply.by_procedure.iter().map(tally).collect::<Vec<_>>(),
        "by_assignee": reply.by_assignee.iter().map(tally).collect::<Vec<_>>(),
    })))
}

/// `GET /api/v1/back-office/queues`: the manager's page — the counter queues of every
/// site of the manager's municipality, with their waiting counts and the wait estimate a
/// ticket taken now has (P50 and P90, and what they rest on: never a blank figure).
pub async fn queues(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<Json<serde_json::Value>, ServiceError> {
    signed.require(&[Role::Manager, Role::Admin])?;
    let context = signed.context("work.report")?;
    let sites = sites_of(&state, &context, signed.account().municipality).await?;
    let mut reply = Vec::with_capacity(sites.len());
    for site in sites {
        let queues = board::queues(&state, &context, &site.id).await?;
        reply.push(serde_json::json!({
            "code": site.code,
            "name": site.name,
            "queues": queues,
        }));
    }
    Ok(Json(serde_json::json!({ "sites": reply })))
}

/// `GET /api/v1/back-office/surges`: the manager's page — the peaks at the counter: each
/// enrolment window's surge (scheduled, active, ended) with the operators it re-skilled,
/// and every day of the window with the applications filed against the counters'
/// capacity (routing's `ListSurges`).
pub async fn surges(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<Json<serde_json::Value>, ServiceError> {
    signed.require(&[Role::Manager, Role::Admin])?;
    let context = signed.context("work.report")?;
    let surges = state
        .surges()?
        .list_surges(context.request(ListSurgesRequest {
            municipality_istat_code: signed.account().municipality.to_string(),
        }))
        .await?
        .into_inner()
        .surges;
    let views: Vec<serde_json::Value> = surges
        .iter()
        .filter_map(|overview| {
            let s = overview.surge.as_ref()?;
            let status = match s.status() {
                sportello_proto::routing::v1::SurgeStatus::Scheduled => "scheduled",
                sportello_proto::routing::v1::SurgeStatus::Active => "active",
                sportello_proto::routing::v1::SurgeStatus::Ended => "ended",
                sportello_proto::routing::v1::SurgeStatus::Unspecified => "unknown",
            };
            Some(serde_json::json!({
                "id": s.id,
                "window_id": s.window_id,
                "level": s.level,
                "school_year": s.school_year,
                "skill": s.skill,
                "opens_on": s.opens_on,
                "closes_on": s.closes_on,
                "status": status,
                "operators": s.operators.iter().map(|o| serde_json::json!({
                    "operator_id": o.operator_id,
                    "prior_proficiency": o.prior_proficiency,
                    "granted_proficiency": o.granted_proficiency,
                    "changed": o.changed,
                    "restored": o.restored,
                })).collect::<Vec<_>>(),
                "applications": overview.applications,
                "days": overview.days.iter().map(|d| serde_json::json!({
                    "date": d.date,
                    "applications": d.applications,
                    "capacity": d.capacity,
                })).collect::<Vec<_>>(),
            }))
        })
        .collect();
    Ok(Json(serde_json::json!({ "surges": views })))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_traffic_light_reads_the_clock_on_the_day() {
        let d = |s: &str| s.parse::<Date>().unwrap();
        let today = d("2027-01-10");
        assert_eq!(light(None, None, today), "none");
        assert_eq!(
            light(Some(d("2027-02-01")), Some(d("2027-01-20")), today),
            "on_time"
        );
        assert_eq!(
            light(Some(d("2027-02-01")), Some(d("2027-01-10")), today),
            "warning"
        );
        assert_eq!(light(Some(d("2027-01-11")), None, today), "due");
        assert_eq!(light(Some(d("2027-01-10")), None, today), "due");
        assert_eq!(light(Some(d("2027-01-09")), None, today), "breached");
    }
}
