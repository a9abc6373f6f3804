//! Access requests (accesso documentale, accesso civico semplice e generalizzato) at the
//! counter and in the URP's office: filing for the citizen, each office step on the
//! statutory terms (irregular request, correction, counter-interested parties and their
//! objections, the decision with its grounds), the review by the transparency officer
//! with the Garante, and the public register of access requests as open data (JSON and
//! CSV) — which URP answers without personal data. URP decides every rule and computes
//! every term; the gateway checks what the document states and maps the shapes.
//!
//! The requester's name and fiscal code go to URP only: never into a log line, a span or
//! an error message; no reply of this module carries them.

use std::{collections::BTreeSet, fmt::Write as _};

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use sportello_kit::{ErrorKind, PeerChannel, ServiceError};
use sportello_proto::{
    common::v1::{Channel, PageRequest},
    routing::v1::{ListWorkRequest, WorkView},
    urp::v1::{
        AccessDecision, AccessKind, AccessRequestRecord, AccessRequester, AccessState,
        ConsultGaranteRequest, DecideAccessRequest, DecideReviewRequest, FileAccessRequest,
        GetAccessRequest, ListAccessRegisterRequest, NotifyCounterInterestedRequest,
        NotifyIrregularRequest, RecordCorrectionRequest, RecordObjectionRequest, RegisterEntry,
        RequestReviewRequest, ReviewBy, ReviewDecision, access_service_client::AccessServiceClient,
    },
};

use super::{
    body::{Body, Path, Query},
    input,
    reports::{URP_DEPARTMENT, channel_name, flat_fields, require_urp_office},
};
use crate::{
    app::AppState,
    auth::{Role, Signed},
};

/// Who files a request, or a request for review, for the citizen at the counter.
const COUNTER: &[Role] = Role::OPERATORS;

/// The most register lines one page asks URP for (its limit).
const REGISTER_PAGE: u32 = 500;
/// The most lines one download holds: decades of a municipality's requests.
const REGISTER_MAX: usize = 50_000;

fn access(state: &AppState) -> Result<AccessServiceClient<PeerChannel>, ServiceError> {
    let channel = state
        .peers
        .channel("urp")
        .ok_or_else(|| ServiceError::new(ErrorKind::Unavailable, "no urp service configured"))?;
    Ok(AccessServiceClient::new(channel))
}

/// The transparency officer: a manager.
fn require_transparency_officer(signed: &Signed) -> Result<(), ServiceError> {
    signed.require(&[Role::Manager]).map(|_| ())
}

fn kind_name(kind: i32) -> &'static str {
    match AccessKind::try_from(kind) {
        Ok(AccessKind::Documents) => "documents",
        Ok(AccessKind::CivicSimple) => "civic_simple",
        Ok(AccessKind::CivicGeneralised) => "civic_generalised",
        _ => "unknown",
    }
}

fn state_name(state: i32) -> &'static str {
    match AccessState::try_from(state) {
        Ok(AccessState::Received) => "received",
        Ok(AccessState::Irregular) => "irregular",
        Ok(AccessState::Decided) => "decided",
        Ok(AccessState::SilentlyRefused) => "silently_refused",
        Ok(AccessState::UnderReview) => "under_review",
        Ok(AccessState::Reviewed) => "reviewed",
        _ => "unknown",
    }
}

fn decision_name(decision: i32) -> Option<&'static str> {
    match AccessDecision::try_from(decision) {
        Ok(AccessDecision::Granted) => Some("granted"),
        Ok(AccessDecision::PartiallyGranted) => Some("partially_granted"),
        Ok(AccessDecision::Refused) => Some("refused"),
        Ok(AccessDecision::Deferred) => Some("deferred"),
        Ok(AccessDecision::Published) => Some("published"),
        _ => None,
    }
}

fn review_decision_name(decision: i32) -> Option<&'static str> {
    match ReviewDecision::try_from(decision) {
        Ok(ReviewDecision::Confirmed) => Some("confirmed"),
        Ok(ReviewDecision::Overturned) => Some("overturned"),
        Ok(ReviewDecision::PartlyOverturned) => Some("partly_overturned"),
        _ => None,
    }
}

fn review_by_name(by: i32) -> Option<&'static str> {
    match ReviewBy::try_from(by) {
        Ok(ReviewBy::Requester) => Some("requester"),
        Ok(ReviewBy::CounterInterested) => Some("counter_interested"),
        _ => None,
    }
}

fn day(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// A request as the office sees it: never the person.
fn record_view(a: &AccessRequestRecord) -> serde_json::Value {
    serde_json::json!({
        "id": a.id,
        "kind": kind_name(a.kind),
        "subject": a.subject,
        "interest": day(&a.interest),
        "channel": channel_name(a.channel),
        "protocol_number": a.protocol_number,
        "receive_time": super::views::time(a.receive_time.as_ref()),
        "state": state_name(a.state),
        "due_date": day(&a.due_date),
        "outcome_on_expiry": day(&a.outcome_on_expiry),
        "irregular_notified_date": day(&a.irregular_notified_date),
        "irregular_reason": day(&a.irregular_reason),
        "corrected_date": day(&a.corrected_date),
        "counter_interested": a.counter_interested,
        "counter_interested_notified_date": day(&a.counter_interested_notified_date),
        "objection_deadline": day(&a.objection_deadline),
        "objections": a.objections.iter().map(|o| serde_json::json!({
            "party": o.party,
            "received_date": o.received_date,
            "reasons": o.reasons,
        })).collect::<Vec<_>>(),
        "decision": decision_name(a.decision),
        "grounds": a.grounds,
        "reasons": day(&a.reasons),
        "remedies": day(&a.remedies),
        "deferred_until": day(&a.deferred_until),
        "copy_pages": a.copy_pages,
        "copy_cost_cents": a.copy_cost_cents,
        "published_url": day(&a.published_url),
        "decision_protocol_number": day(&a.decision_protocol_number),
        "decided_date": day(&a.decided_date),
        "deliver_from_date": day(&a.deliver_from_date),
        "review_deadline": day(&a.review_deadline),
        "review_by": review_by_name(a.review_by),
        "review_requested_date": day(&a.review_requested_date),
        "review_due_date": day(&a.review_due_date),
        "garante_asked_date": day(&a.garante_asked_date),
        "garante_given_date": day(&a.garante_given_date),
        "review_decision": review_decision_name(a.review_decision),
        "review_reasons": day(&a.review_reasons),
        "reviewed_date": day(&a.reviewed_date),
    })
}

fn access_reply(a: Option<AccessRequestRecord>) -> Result<Json<serde_json::Value>, ServiceError> {
    let a = a.ok_or_else(|| ServiceError::internal("URP answered no access request"))?;
    Ok(Json(serde_json::json!({ "access": record_view(&a) })))
}

/// A request as the counter takes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessForm {
    pub kind: String,
    pub subject: String,
    #[serde(default)]
    pub interest: String,
    pub fiscal_code: String,
    pub first_name: String,
    pub last_name: String,
    #[serde(default)]
    pub email: String,
    /// How it arrived: counter (default), email or pec.
    #[serde(default)]
    pub channel: String,
    #[serde(default)]
    pub idempotency_key: String,
}

/// `POST /api/v1/urp/access-requests`: the counter files a formal request for the
/// citizen; it is registered and handed to the office on its term.
pub async fn file(
    State(state): State<AppState>,
    signed: Signed,
    Body(form): Body<AccessForm>,
) -> Result<(StatusCode, Json<serde_json::Value>), ServiceError> {
    signed.require(COUNTER)?;
    let kind = match form.kind.as_str() {
        "documents" => AccessKind::Documents,
        "civic_simple" => AccessKind::CivicSimple,
        "civic_generalised" => AccessKind::CivicGeneralised,
        _ => {
            return Err(ServiceError::invalid_field(
                "kind",
                "documents, civic_simple o civic_generalised / documents, civic_simple or \
                 civic_generalised",
            ));
        }
    };
    let channel = match form.channel.as_str() {
        "" | "counter" => Channel::Counter,
        "email" => Channel::Email,
        "pec" => Channel::Pec,
        _ => {
            return Err(ServiceError::invalid_field(
                "channel",
                "counter, email o pec / counter, email or pec",
            ));
        }
    };
    input::required_text("subject", &form.subject, 4000)?;
    input::text("interest", &form.interest, 4000)?;
    input::required_text("fiscal_code", &form.fiscal_code, 16)?;
    input::required_text("first_name", &form.first_name, 100)?;
    input::required_text("last_name", &form.last_name, 100)?;
    input::text("email", &form.email, 254)?;
    input::optional_uuid("idempotency_key", &form.idempotency_key)?;
    let context = signed.context("urp.access")?;
    let filed = access(&state)?
        .file_access(context.request(FileAccessRequest {
            municipality_istat_code: signed.account().municipality.to_string(),
            kind: kind as i32,
            subject: form.subject,
            interest: form.interest,
            requester: Some(AccessRequester {
                fiscal_code: form.fiscal_code,
                first_name: form.first_name,
                last_name: form.last_name,
                email: form.email,
            }),
            channel: channel as i32,
            idempotency_key: form.idempotency_key,
        }))
        .await
        .map_err(|status| flat_fields(status.into()))?
        .into_inner()
        .access;
    Ok((StatusCode::CREATED, access_reply(filed)?))
}

/// `GET /api/v1/urp/access-requests`: the office's open requests (the decision's work,
/// and the review's), soonest due first. URP has no list of requests for the office:
/// its work in routing names each request, read one by one. A request URP does not
/// show this account (a manager: URP lets only operators read one) is listed by its
/// work alone.
pub async fn open(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<Json<serde_json::Value>, ServiceError> {
    require_urp_office(&signed)?;
    let context = signed.context("urp.access.read")?;
    let work = state
        .back_office()?
        .list_work(context.request(ListWorkRequest {
            municipality_istat_code: signed.account().municipality.to_string(),
            department: URP_DEPARTMENT.to_owned(),
            operator_id: signed.account().id.clone(),
            view: WorkView::Department as i32,
            states: Vec::new(),
            procedure_kind: String::new(),
            page: Some(PageRequest {
                page_size: 200,
                page_token: String::new(),
            }),
        }))
        .await?
        .into_inner()
        .items;
    let mut client = access(&state)?;
    let mut seen = BTreeSet::new();
    let mut open = Vec::new();
    for item in work {
        let Some(origin) = item.origin else { continue };
        let review = match origin.procedure_kind.as_str() {
            "access_request" => false,
            "access_review" => true,
            _ => continue,
        };
        if origin.service != "urp" || !seen.insert(origin.procedure_id.clone()) {
            continue;
        }
        let due = item.clock.map(|c| c.due_date).unwrap_or_default();
        let found = client
            .get_access(context.request(GetAccessRequest {
                access_id: origin.procedure_id.clone(),
            }))
            .await;
        let access = match found {
            Ok(reply) => reply.into_inner().access.map(|a| record_view(&a)),
            Err(status)
                if matches!(
                    status.code(),
                    tonic::Code::PermissionDenied | tonic::Code::NotFound
                ) =>
            {
                None
            }
            Err(status) => return Err(status.into()),
        };
        open.push(serde_json::json!({
            "id": origin.procedure_id,
            "stage": if review { "review" } else { "decision" },
            "work_due_date": day(&due),
            "note": item.context_note,
            "access": access,
        }));
    }
    open.sort_by(|a, b| {
        a["work_due_date"]
            .as_str()
            .unwrap_or("9999")
            .cmp(b["work_due_date"].as_str().unwrap_or("9999"))
    });
    Ok(Json(serde_json::json!({ "requests": open })))
}

/// `GET /api/v1/urp/access-requests/{id}`: one request, with its terms.
pub async fn get(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    signed.require(COUNTER)?;
    let access_id = input::record_id("id", &id)?.to_string();
    let context = signed.context("urp.access.read")?;
    let found = access(&state)?
        .get_access(context.request(GetAccessRequest { access_id }))
        .await?
        .into_inner()
        .access;
    access_reply(found)
}

/// An irregular or incomplete request: why.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IrregularForm {
    pub reason: String,
}

/// `POST /api/v1/urp/access-requests/{id}/irregular`: the requester is told, within 10
/// days of receipt, what is irregular or missing; no term runs until the correction.
pub async fn irregular(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Body(form): Body<IrregularForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    require_urp_office(&signed)?;
    let access_id = input::record_id("id", &id)?.to_string();
    input::required_text("reason", &form.reason, 1000)?;
    let context = signed.context("urp.access.irregular")?;
    let a = access(&state)?
        .notify_irregular(context.request(NotifyIrregularRequest {
            access_id,
            reason: form.reason,
        }))
        .await?
        .into_inner()
        .access;
    access_reply(a)
}

/// `POST /api/v1/urp/access-requests/{id}/correction`: the corrected request arrived
/// today; the term starts again.
pub async fn correction(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    require_urp_office(&signed)?;
    let access_id = input::record_id("id", &id)?.to_string();
    let context = signed.context("urp.access.correction")?;
    let a = access(&state)?
        .record_correction(context.request(RecordCorrectionRequest { access_id }))
        .await?
        .into_inner()
        .access;
    access_reply(a)
}

/// The counter-interested parties notified.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterInterestedForm {
    #[serde(deserialize_with = "input::integer")]
    pub parties: u32,
    #[serde(default)]
    pub received_date: String,
}

fn optional_day(field: &str, raw: &str) -> Result<(), ServiceError> {
    if raw.is_empty() || (raw.len() == 10 && raw.parse::<jiff::civil::Date>().is_ok()) {
        Ok(())
    } else {
        Err(ServiceError::invalid_field(
            field,
            "una data AAAA-MM-GG / a date, YYYY-MM-DD",
        ))
    }
}

/// `POST /api/v1/urp/access-requests/{id}/counter-interested`: how many parties were
/// sent the request and the day they received it; their 10 days to object run.
pub async fn counter_interested(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Body(form): Body<CounterInterestedForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    require_urp_office(&signed)?;
    let access_id = input::record_id("id", &id)?.to_string();
    if !(1..=50).contains(&form.parties) {
        return Err(ServiceError::invalid_field(
            "parties",
            "da 1 a 50 / 1 to 50",
        ));
    }
    optional_day("received_date", &form.received_date)?;
    let context = signed.context("urp.access.counter_interested")?;
    let a = access(&state)?
        .notify_counter_interested(context.request(NotifyCounterInterestedRequest {
            access_id,
            parties: form.parties,
            received_date: form.received_date,
        }))
        .await?
        .into_inner()
        .access;
    access_reply(a)
}

/// A counter-interested party's objection.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectionForm {
    #[serde(deserialize_with = "input::integer")]
    pub party: u32,
    pub reasons: String,
}

/// `POST /api/v1/urp/access-requests/{id}/objections`: a party objected, within its 10
/// days.
pub async fn objection(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Body(form): Body<ObjectionForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    require_urp_office(&signed)?;
    let access_id = input::record_id("id", &id)?.to_string();
    if !(1..=50).contains(&form.party) {
        return Err(ServiceError::invalid_field("party", "da 1 a 50 / 1 to 50"));
    }
    input::required_text("reasons", &form.reasons, 4000)?;
    let context = signed.context("urp.access.objection")?;
    let a = access(&state)?
        .record_objection(context.request(RecordObjectionRequest {
            access_id,
            party: form.party,
            reasons: form.reasons,
        }))
        .await?
        .into_inner()
        .access;
    access_reply(a)
}

/// The office's decision.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionForm {
    pub decision: String,
    #[serde(default)]
    pub grounds: Vec<String>,
    #[serde(default)]
    pub reasons: String,
    #[serde(default)]
    pub deferred_until: String,
    #[serde(default, deserialize_with = "input::integer")]
    pub copy_pages: u32,
    #[serde(default)]
    pub published_url: String,
    #[serde(default)]
    pub idempotency_key: String,
}

/// A ground's code as the document's `AccessGround` states it: `24.1.a` … `5bis.3`.
fn ground(i: usize, raw: &str) -> Result<(), ServiceError> {
    let ok = (2..=10).contains(&raw.len())
        && raw
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.');
    if ok {
        Ok(())
    } else {
        Err(ServiceError::invalid_field(
            format!("grounds[{i}]"),
            "un codice come 5bis.2.a o 24.6.d / a code such as 5bis.2.a or 24.6.d",
        ))
    }
}

/// `POST /api/v1/urp/access-requests/{id}/decision`: the decision, with its grounds and
/// reasons where it limits access; registered as sent, the remedies named.
pub async fn decide(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Body(form): Body<DecisionForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    require_urp_office(&signed)?;
    let access_id = input::record_id("id", &id)?.to_string();
    let decision = match form.decision.as_str() {
        "granted" => AccessDecision::Granted,
        "partially_granted" => AccessDecision::PartiallyGranted,
        "refused" => AccessDecision::Refused,
        "deferred" => AccessDecision::Deferred,
        "published" => AccessDecision::Published,
        _ => {
            return Err(ServiceError::invalid_field(
                "decision",
                "granted, partially_granted, refused, deferred o published / granted, \
                 partially_granted, refused, deferred or published",
            ));
        }
    };
    if form.grounds.len() > 20 {
        return Err(ServiceError::invalid_field(
            "grounds",
            "al massimo 20 / at most 20",
        ));
    }
    for (i, g) in form.grounds.iter().enumerate() {
        ground(i, g)?;
    }
    input::text("reasons", &form.reasons, 8000)?;
    optional_day("deferred_until", &form.deferred_until)?;
    if form.copy_pages > 100_000 {
        return Err(ServiceError::invalid_field(
            "copy_pages",
            "al massimo 100000 / at most 100000",
        ));
    }
    input::text("published_url", &form.published_url, 500)?;
    input::optional_uuid("idempotency_key", &form.idempotency_key)?;
    let context = signed.context("urp.access.decide")?;
    let a = access(&state)?
        .decide_access(context.request(DecideAccessRequest {
            access_id,
            decision: decision as i32,
            grounds: form.grounds,
            reasons: form.reasons,
            deferred_until: form.deferred_until,
            copy_pages: form.copy_pages,
            published_url: form.published_url,
            idempotency_key: form.idempotency_key,
        }))
        .await?
        .into_inner()
        .access;
    access_reply(a)
}

/// A request for review.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequestForm {
    pub by: String,
    pub reasons: String,
}

/// `POST /api/v1/urp/access-requests/{id}/review`: civic access's review asked of the
/// transparency officer, by the requester (after a refusal, a partial grant, a deferral
/// or silence) or by a counter-interested party (after a grant over its objection),
/// taken at the counter.
pub async fn request_review(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Body(form): Body<ReviewRequestForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    signed.require(&[
        Role::InfoDesk,
        Role::Polivalente,
        Role::Tecnico,
        Role::BackOffice,
        Role::Manager,
    ])?;
    let access_id = input::record_id("id", &id)?.to_string();
    let by = match form.by.as_str() {
        "requester" => ReviewBy::Requester,
        "counter_interested" => ReviewBy::CounterInterested,
        _ => {
            return Err(ServiceError::invalid_field(
                "by",
                "requester o counter_interested / requester or counter_interested",
            ));
        }
    };
    input::required_text("reasons", &form.reasons, 4000)?;
    let context = signed.context("urp.access.review")?;
    let a = access(&state)?
        .request_review(context.request(RequestReviewRequest {
            access_id,
            by: by as i32,
            reasons: form.reasons,
        }))
        .await?
        .into_inner()
        .access;
    access_reply(a)
}

/// The Garante consulted, or its opinion arrived.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GaranteForm {
    pub opinion_received: bool,
}

/// `POST /api/v1/urp/access-requests/{id}/garante`: the transparency officer asks the
/// Garante for personal data (the review's term suspended, at most 10 days), or records
/// its opinion arriving today.
pub async fn garante(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Body(form): Body<GaranteForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    require_transparency_officer(&signed)?;
    let access_id = input::record_id("id", &id)?.to_string();
    let context = signed.context("urp.access.garante")?;
    let a = access(&state)?
        .consult_garante(context.request(ConsultGaranteRequest {
            access_id,
            opinion_received: form.opinion_received,
        }))
        .await?
        .into_inner()
        .access;
    access_reply(a)
}

/// The review's decision.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewDecisionForm {
    pub decision: String,
    pub reasons: String,
    #[serde(default)]
    pub idempotency_key: String,
}

/// `POST /api/v1/urp/access-requests/{id}/review-decision`: the transparency officer's
/// decision on the review.
pub async fn decide_review(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Body(form): Body<ReviewDecisionForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    require_transparency_officer(&signed)?;
    let access_id = input::record_id("id", &id)?.to_string();
    let decision = match form.decision.as_str() {
        "confirmed" => ReviewDecision::Confirmed,
        "overturned" => ReviewDecision::Overturned,
        "partly_overturned" => ReviewDecision::PartlyOverturned,
        _ => {
            return Err(ServiceError::invalid_field(
                "decision",
                "confirmed, overturned o partly_overturned / confirmed, overturned or \
                 partly_overturned",
            ));
        }
    };
    input::required_text("reasons", &form.reasons, 8000)?;
    input::optional_uuid("idempotency_key", &form.idempotency_key)?;
    let context = signed.context("urp.access.review_decide")?;
    let a = access(&state)?
        .decide_review(context.request(DecideReviewRequest {
            access_id,
            decision: decision as i32,
            reasons: form.reasons,
            idempotency_key: form.idempotency_key,
        }))
        .await?
        .into_inner()
        .access;
    access_reply(a)
}

/// Which year of the register.
#[derive(Debug, Deserialize)]
pub struct RegisterQuery {
    pub anno: Option<u32>,
}

/// Every line of the public municipality's register (of `year`, or all), oldest first.
async fn register(state: &AppState, year: Option<u32>) -> Result<Vec<RegisterEntry>, ServiceError> {
    let year = match year {
        None => 0,
        Some(y @ 2000..=2200) => y,
        Some(_) => {
            return Err(ServiceError::invalid_field(
                "anno",
                "un anno dal 2000 al 2200 / a year from 2000 to 2200",
            ));
        }
    };
    let context = state.public_context("urp.access.register")?;
    let mut client = access(state)?;
    let mut entries = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_access_register(context.request(ListAccessRegisterRequest {
                municipality_istat_code: state.settings.public_municipality.to_string(),
                year,
                page: Some(PageRequest {
                    page_size: REGISTER_PAGE,
                    page_token: token,
                }),
            }))
            .await?
            .into_inner();
        entries.extend(page.entries);
        token = page.page.map(|p| p.next_page_token).unwrap_or_default();
        if token.is_empty() || entries.len() >= REGISTER_MAX {
            break;
        }
    }
    Ok(entries)
}

/// `GET /api/v1/open-data/registro-accessi`: the register of access requests as open
/// data (JSON). Public; URP's register carries nothing that names anyone.
pub async fn register_json(
    State(state): State<AppState>,
    Query(query): Query<RegisterQuery>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let entries = register(&state, query.anno).await?;
    let entries: Vec<_> = entries
        .iter()
        .map(|e| {
            serde_json::json!({
                "protocol_number": e.protocol_number,
                "kind": kind_name(e.kind),
                "received_date": e.received_date,
                "subject": e.subject,
                "counter_interested": e.counter_interested,
                "decision": decision_name(e.decision),
                "decided_date": day(&e.decided_date),
                "grounds": e.grounds,
                "review_requested": e.review_requested,
                "review_decision": review_decision_name(e.review_decision),
                "reviewed_date": day(&e.reviewed_date),
                "state": state_name(e.state),
            })
        })
        .collect();
    Ok(Json(serde_json::json!({
        "municipality_istat_code": state.settings.public_municipality.to_string(),
        "entries": entries,
    })))
}

/// The CSV's columns, in Italian as the register is published.
const CSV_HEADER: [&str; 12] = [
    "Numero di protocollo",
    "Tipo di accesso",
    "Data di presentazione",
    "Oggetto della richiesta",
    "Controinteressati",
    "Esito",
    "Data della decisione",
    "Motivi del diniego o del differimento",
    "Richiesta di riesame",
    "Esito del riesame",
    "Data del riesame",
    "Stato",
];

fn kind_it(kind: i32) -> &'static str {
    match AccessKind::try_from(kind) {
        Ok(AccessKind::Documents) => "Accesso documentale",
        Ok(AccessKind::CivicSimple) => "Accesso civico semplice",
        Ok(AccessKind::CivicGeneralised) => "Accesso civico generalizzato",
        _ => "",
    }
}

fn decision_it(decision: i32) -> &'static str {
    match AccessDecision::try_from(decision) {
        Ok(AccessDecision::Granted) => "Accolta",
        Ok(AccessDecision::PartiallyGranted) => "Accolta in parte",
        Ok(AccessDecision::Refused) => "Respinta",
        Ok(AccessDecision::Deferred) => "Differita",
        Ok(AccessDecision::Published) => "Dati pubblicati",
        _ => "",
    }
}

fn review_it(decision: i32) -> &'static str {
    match ReviewDecision::try_from(decision) {
        Ok(ReviewDecision::Confirmed) => "Confermata",
        Ok(ReviewDecision::Overturned) => "Riformata",
        Ok(ReviewDecision::PartlyOverturned) => "Riformata in parte",
        _ => "",
    }
}

fn state_it(state: i32) -> &'static str {
    match AccessState::try_from(state) {
        Ok(AccessState::Received) => "In istruttoria",
        Ok(AccessState::Irregular) => "In attesa di regolarizzazione",
        Ok(AccessState::Decided) => "Conclusa",
        Ok(AccessState::SilentlyRefused) => "Silenzio-rigetto",
        Ok(AccessState::UnderReview) => "In riesame",
        Ok(AccessState::Reviewed) => "Riesaminata",
        _ => "",
    }
}

/// One CSV field (RFC 4180): quoted when it holds a separator, a quote or a line break.
/// A text that a spreadsheet would read as a formula (`=`, `+`, `-`, `@` first) gets a
/// leading apostrophe, so an opened download never runs what a requester wrote.
fn csv_field(out: &mut String, raw: &str) {
    let formula = raw.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let value = if formula {
        format!("'{raw}")
    } else {
        raw.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&value);
    }
}

fn csv(entries: &[RegisterEntry]) -> String {
    let mut out = String::new();
    let mut row = |fields: &[&str]| {
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            csv_field(&mut out, f);
        }
        out.push_str("\r\n");
    };
    row(&CSV_HEADER);
    for e in entries {
        let grounds = e.grounds.join("; ");
        row(&[
            &e.protocol_number,
            kind_it(e.kind),
            &e.received_date,
            &e.subject,
            if e.counter_interested { "Sì" } else { "No" },
            decision_it(e.decision),
            &e.decided_date,
            &grounds,
            if e.review_requested { "Sì" } else { "No" },
            review_it(e.review_decision),
            &e.reviewed_date,
            state_it(e.state),
        ]);
    }
    out
}

/// `GET /api/v1/open-data/registro-accessi.csv`: the register as a CSV download, UTF-8,
/// Italian column headers, one line per request. Public.
pub async fn register_csv(
    State(state): State<AppState>,
    Query(query): Query<RegisterQuery>,
) -> Result<Response, ServiceError> {
    let entries = register(&state, query.anno).await?;
    let mut name = String::from("registro-accessi");
    if let Some(year) = query.anno {
        let _ = write!(name, "-{year}");
    }
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}.csv\""))
        .map_err(ServiceError::internal)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        csv(&entries),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_quotes_what_it_must_and_never_runs_a_formula() {
        let entry = RegisterEntry {
            protocol_number: "2026/0000042".into(),
            kind: AccessKind::CivicGeneralised as i32,
            received_date: "2026-04-07".into(),
            subject: "=HYPERLINK(\"x\"), verbali".into(),
            counter_interested: true,
            decision: AccessDecision::Refused as i32,
            decided_date: "2026-04-20".into(),
            grounds: vec!["5bis.2.a".into(), "5bis.1.a".into()],
            state: AccessState::Decided as i32,
            ..Default::default()
        };
        let text = csv(&[entry]);
        let mut lines = text.split("\r\n");
        assert!(
            lines
                .next()
                .is_some_and(|h| h.starts_with("Numero di protocollo,Tipo di accesso"))
        );
        assert_eq!(
            lines.next(),
            Some(
                "2026/0000042,Accesso civico generalizzato,2026-04-07,\"'=HYPERLINK(\"\"x\"\"), \
                 verbali\",Sì,Respinta,2026-04-20,5bis.2.a; 5bis.1.a,No,,,Conclusa"
            )
        );
    }
}
