//! The operator's console: seat, presence, heartbeat, the queues I may serve, "call
//! next" and "call this ticket". The operator acting is always the signed-in account:
//! no request names another.

use crate::api::body::Body;
use axum::{Json, extract::State};
use serde::{Deserialize, Serialize};
use sportello_kit::{CallContext, ErrorKind, ServiceError};
use sportello_proto::routing::v1::{
    CallNextRequest, CallTicketRequest, CaseStatus, GetOperatorRequest, HeartbeatRequest,
    ListCasesRequest, ListQueuesRequest, ListServiceGroupsRequest, Operator, Presence,
    SetPresenceRequest, SitAtCounterRequest,
};

use super::{
    input, site_by_code, sites_of,
    views::{CallView, CaseView, DecisionView, OperatorView, QueueView},
};
use crate::{
    app::AppState,
    auth::{Role, Signed},
};

/// The operator behind the session, checked to be of the account's municipality.
pub async fn operator(
    state: &AppState,
    signed: &Signed,
    context: &CallContext,
) -> Result<Operator, ServiceError> {
    signed.require(Role::OPERATORS)?;
    let reply = state
        .operators()?
        .get_operator(context.request(GetOperatorRequest {
            operator_id: signed.account().id.clone(),
        }))
        .await;
    let operator = match reply {
        Ok(r) => r.into_inner().operator.unwrap_or_default(),
        Err(status) if status.code() == tonic::Code::NotFound => {
            return Err(ServiceError::new(
                ErrorKind::FailedPrecondition,
                "this account has no operator profile yet: ask an administrator",
            ));
        }
        Err(status) => return Err(status.into()),
    };
    signed.same_municipality(&operator.municipality_istat_code)?;
    Ok(operator)
}

async fn view(
    state: &AppState,
    signed: &Signed,
    context: &CallContext,
    operator: &Operator,
) -> Result<OperatorView, ServiceError> {
    let mut code = String::new();
    if !operator.site_id.is_empty() {
        let sites = sites_of(state, context, signed.account().municipality).await?;
        if let Some(site) = sites.into_iter().find(|s| s.id == operator.site_id) {
            code = site.code;
        }
    }
    Ok(OperatorView::new(operator, code))
}

async fn my_queues(
    state: &AppState,
    context: &CallContext,
    operator: &Operator,
) -> Result<Vec<QueueView>, ServiceError> {
    if operator.site_id.is_empty() {
        return Ok(Vec::new());
    }
    Ok(state
        .cases()?
        .list_queues(context.request(ListQueuesRequest {
            site_id: operator.site_id.clone(),
            operator_id: operator.id.clone(),
        }))
        .await?
        .into_inner()
        .queues
        .iter()
        .map(QueueView::from)
        .collect())
}

/// The console's state.
#[derive(Debug, Serialize)]
pub struct Overview {
    pub operator: OperatorView,
    pub queues: Vec<QueueView>,
    /// The case the operator holds, if any.
    pub current_case: Option<CaseView>,
}

/// `GET /api/v1/console`.
pub async fn overview(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<Json<Overview>, ServiceError> {
    let context = signed.context("case.serve")?;
    let operator = operator(&state, &signed, &context).await?;
    let queues = my_queues(&state, &context, &operator).await?;
    let current_case = if operator.current_case_id.is_empty() {
        None
    } else {
        Some(
            super::cases::load(&state, &signed, &context, &operator.current_case_id)
                .await?
                .0,
        )
    };
    Ok(Json(Overview {
        operator: view(&state, &signed, &context, &operator).await?,
        queues,
        current_case,
    }))
}

/// Where to sit.
#[derive(Debug, Deserialize)]
pub struct SeatForm {
    pub site_code: String,
    #[serde(deserialize_with = "input::integer")]
    pub counter_number: u32,
}

/// `POST /api/v1/console/seat`.
pub async fn seat(
    State(state): State<AppState>,
    signed: Signed,
    Body(form): Body<SeatForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let context = signed.context("operator.presence")?;
    operator(&state, &signed, &context).await?;
    let site = site_by_code(
        &state,
        &context,
        signed.account().municipality,
        &form.site_code,
    )
    .await?;
    let operator = state
        .operators()?
        .sit_at_counter(context.request(SitAtCounterRequest {
            operator_id: signed.account().id.clone(),
            site_id: site.id,
            counter_number: form.counter_number,
        }))
        .await?
        .into_inner()
        .operator
        .unwrap_or_default();
    Ok(Json(
        serde_json::json!({ "operator": view(&state, &signed, &context, &operator).await? }),
    ))
}

/// A presence the operator may choose.
#[derive(Debug, Deserialize)]
pub struct PresenceForm {
    pub presence: String,
}

/// `POST /api/v1/console/presence`.
pub async fn presence(
    State(state): State<AppState>,
    signed: Signed,
    Body(form): Body<PresenceForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let presence = match form.presence.as_str() {
        "available" => Presence::Available,
        "break" => Presence::Break,
        "back_office" => Presence::BackOffice,
        "offline" => Presence::Offline,
        _ => {
            return Err(ServiceError::invalid_field(
                "presence",
                "one of available, break, back_office, offline",
            ));
        }
    };
    let context = signed.context("operator.presence")?;
    operator(&state, &signed, &context).await?;
    let operator = state
        .operators()?
        .set_presence(context.request(SetPresenceRequest {
            operator_id: signed.account().id.clone(),
            presence: presence as i32,
        }))
        .await?
        .into_inner()
        .operator
        .unwrap_or_default();
    Ok(Json(
        serde_json::json!({ "operator": view(&state, &signed, &context, &operator).await? }),
    ))
}

/// `POST /api/v1/console/heartbeat`.
pub async fn heartbeat(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<Json<serde_json::Value>, ServiceError> {
    signed.require(Role::OPERATORS)?;
    let context = signed.context("operator.presence")?;
    let reply = state
        .operators()?
        .heartbeat(context.request(HeartbeatRequest {
            operator_id: signed.account().id.clone(),
        }))
        .await?
        .into_inner();
    Ok(Json(serde_json::json!({
        "presence": super::views::presence_name(reply.presence()),
        "next_within_seconds": reply.next_within_seconds,
    })))
}

/// A call as the console shows it.
#[derive(Debug, Serialize)]
pub struct CallReply {
    pub call: Option<CallView>,
    pub decision: Option<DecisionView>,
}

/// `POST /api/v1/console/call-next`: the next case, and why it was chosen.
pub async fn call_next(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<Json<CallReply>, ServiceError> {
    signed.require(Role::OPERATORS)?;
    let context = signed.context("case.serve")?;
    let reply = state
        .cases()?
        .call_next(context.request(CallNextRequest {
            operator_id: signed.account().id.clone(),
        }))
        .await?
        .into_inner();
    let call = match &reply.call {
        Some(call) => super::cases::call_view(&state, &context, call).await?,
        None => None,
    };
    Ok(Json(CallReply {
        call,
        decision: reply.decision.as_ref().map(DecisionView::from),
    }))
}

/// A ticket to call by its label.
#[derive(Debug, Deserialize)]
pub struct TicketForm {
    pub ticket: String,
}

/// `POST /api/v1/console/call-ticket`.
pub async fn call_ticket(
    State(state): State<AppState>,
    signed: Signed,
    Body(form): Body<TicketForm>,
) -> Result<Json<CallReply>, ServiceError> {
    signed.require(Role::OPERATORS)?;
    if !is_ticket(&form.ticket) {
        return Err(ServiceError::invalid_field(
            "ticket",
            "must be a ticket label such as B017, or a ticket id",
        ));
    }
    let context = signed.context("case.serve")?;
    let reply = state
        .cases()?
        .call_ticket(context.request(CallTicketRequest {
            operator_id: signed.account().id.clone(),
            ticket: form.ticket.to_ascii_uppercase(),
        }))
        .await?
        .into_inner();
    let call = match &reply.call {
        Some(call) => super::cases::call_view(&state, &context, call).await?,
        None => None,
    };
    let decision = call.as_ref().and_then(|c| c.decision.clone());
    Ok(Json(CallReply { call, decision }))
}

/// A ticket label (`^[A-Za-z][0-9]{3}$`) or a ticket id (a UUID with its dashes).
pub fn is_ticket(raw: &str) -> bool {
    let label = raw.len() == 4
        && raw.starts_with(|c: char| c.is_ascii_alphabetic())
        && raw[1..].chars().all(|c| c.is_ascii_digit());
    label || input::record_id("ticket", raw).is_ok()
}

/// `GET /api/v1/console/parked`: the cases I parked, to resume.
pub async fn parked(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let context = signed.context("case.serve")?;
    let operator = operator(&state, &signed, &context).await?;
    if operator.site_id.is_empty() {
        return Ok(Json(serde_json::json!({ "cases": [] })));
    }
    let cases = state
        .cases()?
        .list_cases(context.request(ListCasesRequest {
            site_id: operator.site_id.clone(),
            statuses: vec![CaseStatus::Parked as i32],
            page: None,
        }))
        .await?
        .into_inner()
        .cases;
    let now = state.db.clock().now();
    let mine: Vec<CaseView> = cases
        .iter()
        .filter(|c| c.operator_id == operator.id)
        .map(|c| CaseView::new(c, None, now))
        .collect();
    Ok(Json(serde_json::json!({ "cases": mine })))
}

/// `GET /api/v1/catalogue/groups`: the queues of my municipality (to transfer to).
pub async fn groups(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<Json<serde_json::Value>, ServiceError> {
    signed.require(&[
        Role::InfoDesk,
        Role::Polivalente,
        Role::Tecnico,
        Role::BackOffice,
        Role::Manager,
        Role::Admin,
    ])?;
    let context = signed.context("catalogue.read")?;
    let groups = state
        .catalogue()?
        .list_service_groups(context.request(ListServiceGroupsRequest {
            municipality_istat_code: signed.account().municipality.to_string(),
        }))
        .await?
        .into_inner()
        .service_groups;
    let groups: Vec<_> = groups
        .into_iter()
        .map(|g| serde_json::json!({ "code": g.code, "letter": g.letter, "name": g.name }))
        .collect();
    Ok(Json(serde_json::json!({ "groups": groups })))
}
