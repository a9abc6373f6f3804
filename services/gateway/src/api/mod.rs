//! The REST/JSON API under `/api/v1` that the pages use, described by the OpenAPI
//! document at `/api/v1/openapi.json`.
//!
//! Each handler parses its input at the edge, checks role, municipality and department
//! on the server (the UI hiding a button is a convenience, never the check), calls the
//! services with a call context naming the account and the purpose, and maps their
//! errors through the kit's one table, so a field error comes back under its field.
//!
//! Layout: [`board`] and [`kiosk`] (the waiting room), [`console`] and [`cases`] (the
//! counter), [`back_office`] (tier 4: offers, items, the counter's hand-off), [`residence`] (the change of residence: the counter's declaration, the back office's 10-bis steps), [`suap`] (the business desk: guidance, businesses, filings and their receipts), [`education`] (enrolment at the counter: the windows open today, the application and its receipt), [`documents`] (attachments in a JSON body), [`urp`] (the info-desk's knowledge base, ratings tied to cases, the satisfaction report), [`reports`] (reports and complaints: the public page, the counter, the URP's office and its reply), [`access`] (access requests on their terms, the review, the public register as JSON and CSV), [`verify`] (public certificate check), [`admin`], [`live`] (calls as they
//! happen), [`views`] (the JSON shapes), [`body`] and [`input`] (what requests may hold,
//! checked as the document states it).

pub mod access;
pub mod admin;
pub mod appointments;
pub mod back_office;
pub mod board;
pub mod board_hub;
pub mod body;
pub mod cases;
pub mod console;
pub mod documents;
pub mod education;
pub mod input;
pub mod kiosk;
pub mod live;
pub mod reports;
pub mod residence;
pub mod suap;
pub mod urp;
pub mod verify;
pub mod views;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{any, get, post, put},
};
use sportello_kit::{CallContext, ErrorKind, MunicipalityCode, ServiceError};
use sportello_proto::routing::v1::{GetServiceTypeRequest, ListSitesRequest, ServiceType, Site};

use crate::{app::AppState, auth::login};

/// The API routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/session",
            get(login::current)
                .post(login::sign_in)
                .delete(login::sign_out),
        )
        .route("/api/v1/sites", get(board::sites))
        .route("/api/v1/sites/{site}/board", get(board::snapshot))
        .route("/api/v1/sites/{site}/board/events", get(board::events))
        .route("/api/v1/sites/{site}/services", get(kiosk::services))
        .route("/api/v1/sites/{site}/tickets", post(kiosk::issue_ticket))
        .route(
            "/api/v1/sites/{site}/check-in",
            post(appointments::check_in),
        )
        .route("/api/v1/appointments", post(appointments::book))
        .route("/api/v1/appointments/services", get(appointments::services))
        .route("/api/v1/appointments/slots", get(appointments::slots))
        .route("/api/v1/appointments/calendar", get(appointments::calendar))
        .route(
            "/api/v1/appointments/on-behalf",
            post(appointments::book_on_behalf),
        )
        .route(
            "/api/v1/appointments/{code}/move",
            post(appointments::move_booking),
        )
        .route(
            "/api/v1/appointments/{code}/withdraw",
            post(appointments::withdraw),
        )
        .route(
            "/api/v1/appointments/waitlist",
            post(appointments::join_waitlist),
        )
        .route(
            "/api/v1/appointments/waitlist/{id}",
            post(appointments::waitlist_entry),
        )
        .route(
            "/api/v1/appointments/waitlist/{id}/accept",
            post(appointments::accept_offer),
        )
        .route(
            "/api/v1/appointments/{code}/confirm",
            post(appointments::confirm),
        )
        .route(
            "/api/v1/appointments/{code}/cancel",
            post(appointments::cancel),
        )
        .route("/api/v1/console", get(console::overview))
        .route("/api/v1/console/seat", post(console::seat))
        .route("/api/v1/console/presence", post(console::presence))
        .route("/api/v1/console/heartbeat", post(console::heartbeat))
        .route("/api/v1/console/call-next", post(console::call_next))
        .route("/api/v1/console/call-ticket", post(console::call_ticket))
        .route("/api/v1/console/parked", get(console::parked))
        .route("/api/v1/catalogue/groups", get(console::groups))
        .route("/api/v1/cases/{id}", get(cases::card))
        .route("/api/v1/cases/{id}/recall", post(cases::recall))
        .route("/api/v1/cases/{id}/no-show", post(cases::no_show))
        .route("/api/v1/cases/{id}/park", post(cases::park))
        .route("/api/v1/cases/{id}/resume", post(cases::resume))
        .route("/api/v1/cases/{id}/transfer", post(cases::transfer))
        .route("/api/v1/cases/{id}/complete", post(cases::complete))
        .route(
            "/api/v1/cases/{id}/appointment",
            post(cases::to_appointment),
        )
        .route(
            "/api/v1/cases/{id}/requester",
            post(cases::reveal_requester),
        )
        .route(
            "/api/v1/cases/{id}/certificates",
            post(cases::issue_certificate),
        )
        .route("/api/v1/cases/{id}/escalate", post(back_office::escalate))
        .route("/api/v1/cases/{id}/rating", get(urp::case_rating))
        .route("/api/v1/certificates/{id}/pdf", get(cases::certificate_pdf))
        .route("/api/v1/back-office/work", get(back_office::list))
        .route("/api/v1/back-office/work/{id}", get(back_office::get))
        .route(
            "/api/v1/back-office/work/{id}/accept",
            post(back_office::accept),
        )
        .route(
            "/api/v1/back-office/work/{id}/decline",
            post(back_office::decline),
        )
        .route(
            "/api/v1/back-office/work/{id}/complete",
            post(back_office::complete),
        )
        .route("/api/v1/back-office/breaches", get(back_office::breaches))
        .route("/api/v1/back-office/summary", get(back_office::summary))
        .route("/api/v1/back-office/queues", get(back_office::queues))
        .route("/api/v1/back-office/surges", get(back_office::surges))
        .route("/api/v1/back-office/satisfaction", get(urp::report))
        .route("/api/v1/urp/answers", get(urp::search).post(urp::publish))
        .route("/api/v1/ratings/{code}", get(urp::rating).post(urp::rate))
        // A declaration carries its documents: its extractor sets its own body limit.
        .route(
            "/api/v1/residence-changes",
            post(residence::declare).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v1/residence-changes/{id}", get(residence::get))
        .route(
            "/api/v1/residence-changes/{id}/documents/{sha256}",
            get(residence::document),
        )
        .route(
            "/api/v1/residence-changes/{id}/notice",
            post(residence::send_notice),
        )
        .route(
            "/api/v1/residence-changes/{id}/notice-receipt",
            post(residence::notice_receipt),
        )
        .route(
            "/api/v1/residence-changes/{id}/observations",
            post(residence::observations),
        )
        .route(
            "/api/v1/residence-changes/{id}/answer",
            post(residence::answer),
        )
        .route("/api/v1/suap/procedures", get(suap::procedures))
        .route(
            "/api/v1/suap/businesses",
            get(suap::lookup_business).post(suap::register_business),
        )
        .route(
            "/api/v1/suap/businesses/{id}/applications",
            get(suap::business_applications),
        )
        // A filing carries its documents: its extractor sets its own body limit.
        .route(
            "/api/v1/suap/applications",
            post(suap::file).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v1/suap/applications/{id}", get(suap::get))
        .route("/api/v1/education/windows", get(education::windows))
        .route("/api/v1/education/applications", post(education::file))
        .route("/api/v1/education/applications/{id}", get(education::get))
        .route("/api/v1/report-categories", get(reports::categories))
        .route("/api/v1/reports", post(reports::file_public))
        .route("/api/v1/reports/{ref}", get(reports::follow))
        .route(
            "/api/v1/urp/reports",
            get(reports::open).post(reports::file_counter),
        )
        .route("/api/v1/urp/reports/{ref}", get(reports::get))
        .route(
            "/api/v1/urp/reports/{ref}/requester",
            post(reports::requester),
        )
        .route("/api/v1/urp/reports/{ref}/reply", post(reports::reply))
        .route(
            "/api/v1/urp/access-requests",
            get(access::open).post(access::file),
        )
        .route("/api/v1/urp/access-requests/{id}", get(access::get))
        .route(
            "/api/v1/urp/access-requests/{id}/irregular",
            post(access::irregular),
        )
        .route(
            "/api/v1/urp/access-requests/{id}/correction",
            post(access::correction),
        )
        .route(
            "/api/v1/urp/access-requests/{id}/counter-interested",
            post(access::counter_interested),
        )
        .route(
            "/api/v1/urp/access-requests/{id}/objections",
            post(access::objection),
        )
        .route(
            "/api/v1/urp/access-requests/{id}/decision",
            post(access::decide),
        )
        .route(
            "/api/v1/urp/access-requests/{id}/review",
            post(access::request_review),
        )
        .route(
            "/api/v1/urp/access-requests/{id}/garante",
            post(access::garante),
        )
        .route(
            "/api/v1/urp/access-requests/{id}/review-decision",
            post(access::decide_review),
        )
        .route(
            "/api/v1/open-data/registro-accessi",
            get(access::register_json),
        )
        .route(
            "/api/v1/open-data/registro-accessi.csv",
            get(access::register_csv),
        )
        .route("/api/v1/verify/{code}", get(verify::verify))
        .route("/api/v1/admin/operators", get(admin::operators))
        .route("/api/v1/admin/operators/{id}", put(admin::put_operator))
        .route(
            "/api/v1/admin/sites",
            get(admin::sites).post(admin::create_site),
        )
        .route(
            "/api/v1/admin/sites/{site}/appointment-hours",
            put(appointments::set_hours),
        )
        .route(
            "/api/v1/admin/operators/{id}/schedule",
            put(appointments::set_schedule),
        )
        .route(
            "/api/v1/admin/booking-rules",
            get(appointments::rules).put(appointments::set_rules),
        )
        .route(
            "/api/v1/admin/accounts",
            get(admin::accounts).post(admin::create_account),
        )
        .route(
            "/api/v1/admin/accounts/{id}",
            axum::routing::patch(admin::update_account),
        )
        .route(
            "/api/v1/admin/open311-keys",
            get(crate::open311::keys::list).post(crate::open311::keys::issue),
        )
        .route(
            "/api/v1/admin/open311-keys/{id}",
            axum::routing::delete(crate::open311::keys::revoke),
        )
        .route("/api/v1/openapi.json", get(openapi))
        // Whatever else is asked under /api answers in the error table's shape too.
        .route("/api/{*rest}", any(not_found))
        .method_not_allowed_fallback(method_not_allowed)
}

async fn not_found() -> ServiceError {
    ServiceError::new(ErrorKind::NotFound, "no such API path")
}

async fn method_not_allowed() -> Response {
    let mut response = ServiceError::new(
        ErrorKind::InvalidArgument,
        "this path does not take this method",
    )
    .into_response();
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
}

/// The OpenAPI document.
async fn openapi() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI,
    )
}

/// The OpenAPI 3.1 document describing every route above (a test keeps them in step).
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// The sites of `municipality`, by code.
pub async fn sites_of(
    state: &AppState,
    context: &CallContext,
    municipality: MunicipalityCode,
) -> Result<Vec<Site>, ServiceError> {
    Ok(state
        .sites()?
        .list_sites(context.request(ListSitesRequest {
            municipality_istat_code: municipality.to_string(),
        }))
        .await?
        .into_inner()
        .sites)
}

/// The site of `municipality` whose code is `code`; NOT_FOUND otherwise.
pub async fn site_by_code(
    state: &AppState,
    context: &CallContext,
    municipality: MunicipalityCode,
    code: &str,
) -> Result<Site, ServiceError> {
    sites_of(state, context, municipality)
        .await?
        .into_iter()
        .find(|s| s.code == code)
        .ok_or_else(|| ServiceError::new(ErrorKind::NotFound, format!("no site {code:?}")))
}

/// A service's catalogue entry, if the catalogue has it.
pub async fn service_type(
    state: &AppState,
    context: &CallContext,
    code: &str,
) -> Result<Option<ServiceType>, ServiceError> {
    let reply = state
        .catalogue()?
        .get_service_type(context.request(GetServiceTypeRequest {
            municipality_istat_code: context.municipality().to_string(),
            code: code.to_owned(),
        }))
        .await;
    match reply {
        Ok(r) => Ok(r.into_inner().service_type),
        Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
        Err(status) => Err(status.into()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// (method, path) of every `.route(…)` in [`super::router`], read from this file.
    fn routed() -> BTreeSet<(String, String)> {
        let source = include_str!("mod.rs");
        let body = source
            .split("pub fn router()")
            .nth(1)
            .and_then(|s| s.split("\n}\n").next())
            .unwrap_or_default();
        let mut pairs = BTreeSet::new();
        for route in body.split(".route(").skip(1) {
            let path = route.split('"').nth(1).unwrap_or_default().to_owned();
            let handlers = route.split_once(',').map_or("", |(_, rest)| rest);
            let handlers = handlers
                .split("\n        .route(")
                .next()
                .unwrap_or_default();
            for method in ["get", "post", "put", "patch", "delete"] {
                let called = handlers.contains(&format!(" {method}("))
                    || handlers.contains(&format!("({method}("))
                    || handlers.contains(&format!(".{method}("))
                    || handlers.contains(&format!("::{method}("));
                if called {
                    pairs.insert((method.to_owned(), path.clone()));
                }
            }
        }
        pairs
    }

    #[test]
    fn the_openapi_document_describes_every_route_and_no_other() {
        let document: serde_json::Value = serde_json::from_str(super::OPENAPI).unwrap();
        let mut described = BTreeSet::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                described.insert((method.clone(), path.clone()));
            }
        }
        let routed = routed();
        assert!(routed.len() > 30, "the router was read: {routed:?}");
        assert_eq!(described, routed);
    }
}
