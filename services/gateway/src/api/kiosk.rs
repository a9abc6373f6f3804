//! The ticket kiosk (totem): the services a citizen may queue for at a site, and the
//! ticket. Listing is public; issuing needs a kiosk device's session.

use crate::api::body::{Body, Path};
use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use sportello_kit::ServiceError;
use sportello_proto::{
    common::v1::Channel,
    routing::v1::{IssueTicketRequest, ListServiceGroupsRequest, ListServiceTypesRequest, Tier},
};

use super::{input, site_by_code, views::parse_priority};
use crate::{
    app::AppState,
    auth::{Role, Signed},
};

/// A service on the kiosk.
#[derive(Debug, Serialize)]
pub struct KioskService {
    pub code: String,
    pub name: String,
    pub service_group: String,
    pub letter: String,
    pub group_name: String,
}

/// `GET /api/v1/sites/{site}/services`: what can be queued for at the site's counters
/// without an appointment, by queue: services of the front tiers (info-desk and
/// polivalente) open to the counter channel. Technical services are by appointment and
/// back-office work never waits at a counter.
pub async fn services(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let municipality = state.settings.public_municipality;
    let context = state.public_context("kiosk.show")?;
    let site = site_by_code(&state, &context, municipality, &code).await?;
    let mut catalogue = state.catalogue()?;
    let types = catalogue
        .list_service_types(context.request(ListServiceTypesRequest {
            municipality_istat_code: municipality.to_string(),
            active_only: true,
        }))
        .await?
        .into_inner()
        .service_types;
    let groups = catalogue
        .list_service_groups(context.request(ListServiceGroupsRequest {
            municipality_istat_code: municipality.to_string(),
        }))
        .await?
        .into_inner()
        .service_groups;
    let served = site.settings.map(|s| s.service_groups).unwrap_or_default();
    let mut services: Vec<KioskService> = types
        .into_iter()
        .filter(|t| {
            !t.appointment_required && t.allowed_channels.contains(&(Channel::Counter as i32))
        })
        .filter(|t| matches!(t.default_tier(), Tier::InfoDesk | Tier::Polivalente))
        .filter(|t| served.is_empty() || served.contains(&t.service_group))
        .filter_map(|t| {
            let group = groups.iter().find(|g| g.code == t.service_group)?;
            Some(KioskService {
                code: t.code,
                name: t.name,
                service_group: t.service_group,
                letter: group.letter.clone(),
                group_name: group.name.clone(),
            })
        })
        .collect();
    services.sort_by(|a, b| (&a.letter, &a.name).cmp(&(&b.letter, &b.name)));
    Ok(Json(serde_json::json!({ "services": services })))
}

/// A ticket request.
#[derive(Debug, Deserialize)]
pub struct TicketForm {
    pub service_codes: Vec<String>,
    #[serde(default)]
    pub priority_category: String,
    #[serde(default)]
    pub idempotency_key: String,
}

/// `POST /api/v1/sites/{site}/tickets` (kiosk devices).
pub async fn issue_ticket(
    State(state): State<AppState>,
    signed: Signed,
    Path(code): Path<String>,
    Body(form): Body<TicketForm>,
) -> Result<(StatusCode, Json<serde_json::Value>), ServiceError> {
    let account = signed.require(&[Role::Kiosk])?;
    input::optional_uuid("idempotency_key", &form.idempotency_key)?;
    let priority = parse_priority(&form.priority_category).ok_or_else(|| {
        ServiceError::invalid_field(
            "priority_category",
            "one of none, disability, pregnancy, elderly, small_children",
        )
    })?;
    let context = signed.context("ticket.issue")?;
    let site = site_by_code(&state, &context, account.municipality, &code).await?;
    let reply = state
        .cases()?
        .issue_ticket(context.request(IssueTicketRequest {
            site_id: site.id,
            service_codes: form.service_codes,
            priority_category: priority as i32,
            requester_ref: String::new(),
            idempotency_key: form.idempotency_key,
        }))
        .await?
        .into_inner();
    let ticket = reply.ticket.unwrap_or_default();
    let mut names = Vec::new();
    for case in &reply.cases {
        let name = super::service_type(&state, &context, &case.service_code)
            .await?
            .map_or_else(|| case.service_code.clone(), |s| s.name);
        names.push(serde_json::json!({ "code": case.service_code, "name": name }));
    }
    let issue_time = super::views::time(ticket.issue_time.as_ref());
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "ticket": { "id": ticket.id, "label": ticket.label, "issue_time": issue_time },
            "people_ahead": reply.people_ahead,
            "services": names,
        })),
    ))
}
