//! Reports and complaints (segnalazioni e reclami) for the citizen, the counter and the
//! URP's office: the categories, filing (on the public page, anonymous or named; at the
//! counter, for the citizen in front of the operator), following one by its code or its
//! token, the office's open reports, the person behind one (audited) and the reply. URP
//! decides every rule (the category, the place it needs, the text, who reads a complaint
//! by its code); the gateway checks what the document states and maps the shapes.
//!
//! Names, e-mail addresses, phone numbers and fiscal codes go to URP only: never into a
//! log line, a span or an error message.

use std::collections::BTreeSet;

use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use sportello_kit::{ErrorKind, FieldViolation, PeerChannel, ServiceError};
use sportello_proto::{
    common::v1::{Channel, PageRequest},
    routing::v1::{ListWorkRequest, WorkView},
    urp::v1::{
        FileReportRequest, GetReportRequest, GetReportRequesterRequest, ListCategoriesRequest,
        ListReportsRequest, Location, ReplyOutcome, ReplyToReportRequest, Report, ReportKind,
        ReportStatus, Requester, report_service_client::ReportServiceClient,
    },
};

use super::{
    body::{Body, Path},
    input,
    views::time,
};
use crate::{
    app::AppState,
    auth::{Role, Signed},
};

/// Who files a report for the citizen at the counter: whoever serves citizens.
const COUNTER: &[Role] = Role::OPERATORS;

/// The URP's own department: its back office answers reports and complaints.
pub(super) const URP_DEPARTMENT: &str = "urp";

/// The most open reports the office's list shows.
const OPEN_PAGE: u32 = 200;

/// URP's reports.
fn reports(state: &AppState) -> Result<ReportServiceClient<PeerChannel>, ServiceError> {
    let channel = state
        .peers
        .channel("urp")
        .ok_or_else(|| ServiceError::new(ErrorKind::Unavailable, "no urp service configured"))?;
    Ok(ReportServiceClient::new(channel))
}

/// The URP's office: its back office, or a manager. Refuses (403) anyone else, also a
/// back office of another department (URP refuses them the person behind a report too).
pub(super) fn require_urp_office(signed: &Signed) -> Result<(), ServiceError> {
    let account = signed.require(&[Role::BackOffice, Role::Manager])?;
    if account.has_any(&[Role::Manager]) || account.department.as_deref() == Some(URP_DEPARTMENT) {
        Ok(())
    } else {
        Err(ServiceError::new(
            ErrorKind::PermissionDenied,
            "solo l'ufficio URP o un responsabile / only the URP office or a manager",
        ))
    }
}

/// URP names fields as its messages nest them (`requester.email`, `location.latitude`,
/// `location` for a place the category needs); the forms name them flat.
pub(super) fn flat_fields(error: ServiceError) -> ServiceError {
    if error.kind() != ErrorKind::InvalidArgument || error.violations().is_empty() {
        return error;
    }
    ServiceError::invalid_fields(
        error
            .violations()
            .iter()
            .map(|v| FieldViolation {
                field: match v.field.as_str() {
                    "location" => "address".to_owned(),
                    other => other
                        .trim_start_matches("requester.")
                        .trim_start_matches("location.")
                        .to_owned(),
                },
                description: v.description.clone(),
            })
            .collect(),
    )
}

fn kind_name(kind: i32) -> &'static str {
    match ReportKind::try_from(kind) {
        Ok(ReportKind::Complaint) => "complaint",
        _ => "report",
    }
}

fn status_name(status: i32) -> &'static str {
    match ReportStatus::try_from(status) {
        Ok(ReportStatus::InProgress) => "in_progress",
        Ok(ReportStatus::Closed) => "closed",
        _ => "received",
    }
}

fn outcome_name(outcome: i32) -> Option<&'static str> {
    match ReplyOutcome::try_from(outcome) {
        Ok(ReplyOutcome::Resolved) => Some("resolved"),
        Ok(ReplyOutcome::Unfounded) => Some("unfounded"),
        Ok(ReplyOutcome::Forwarded) => Some("forwarded"),
        _ => None,
    }
}

pub(super) fn channel_name(channel: i32) -> &'static str {
    match Channel::try_from(channel) {
        Ok(Channel::Counter) => "counter",
        Ok(Channel::Appointment) => "appointment",
        Ok(Channel::Web) => "web",
        Ok(Channel::Phone) => "phone",
        Ok(Channel::Email) => "email",
        Ok(Channel::Pec) => "pec",
        _ => "unknown",
    }
}

fn empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// A report as URP shows it to anyone: the description masked, no person.
fn report_view(r: &Report) -> serde_json::Value {
    let location = r.location.as_ref().and_then(|l| {
        (l.latitude.is_some() || !l.address.is_empty()).then(|| {
            serde_json::json!({
                "latitude": l.latitude,
                "longitude": l.longitude,
                "address": l.address,
            })
        })
    });
    serde_json::json!({
        "id": r.id,
        "code": r.code,
        "kind": kind_name(r.kind),
        "category_code": r.category_code,
        "category_name": r.category_name,
        "description": r.description,
        "masked": r.masked,
        "location": location,
        "media_url": empty(&r.media_url),
        "attachments": r.attachments.len(),
        "channel": channel_name(r.channel),
        "protocol_number": r.protocol_number,
        "receive_time": time(r.receive_time.as_ref()),
        "due_date": empty(&r.due_date),
        "status": status_name(r.status),
        "office": r.office,
        "reply": empty(&r.reply),
        "outcome": outcome_name(r.outcome),
        "reply_protocol_number": empty(&r.reply_protocol_number),
        "close_time": time(r.close_time.as_ref()),
        "update_time": time(r.update_time.as_ref()),
        "reply_emailed": r.reply_emailed,
    })
}

fn report_reply(report: Option<Report>) -> Result<Json<serde_json::Value>, ServiceError> {
    let report = report.ok_or_else(|| ServiceError::internal("URP answered no report"))?;
    Ok(Json(serde_json::json!({ "report": report_view(&report) })))
}

/// `GET /api/v1/report-categories`: the categories a report may be filed under, by group
/// and name. Public.
pub async fn categories(
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let context = state.public_context("urp.report.read")?;
    let categories = reports(&state)?
        .list_categories(context.request(ListCategoriesRequest {
            municipality_istat_code: state.settings.public_municipality.to_string(),
        }))
        .await?
        .into_inner()
        .categories;
    let categories: Vec<_> = categories
        .iter()
        .map(|c| {
            serde_json::json!({
                "code": c.code,
                "name": c.name,
                "description": c.description,
                "group": c.group,
                "kind": kind_name(c.kind),
                "location_required": c.location_required,
                "reply_days": c.reply_days,
                "office": c.office,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "categories": categories })))
}

/// A report as a form sends it, on the public page or at the counter.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportForm {
    pub category_code: String,
    pub description: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone: String,
    /// At the counter only: the citizen's fiscal code, when they give it.
    #[serde(default)]
    pub fiscal_code: String,
    /// At the counter only: how it arrived (counter, phone, email); empty is counter.
    #[serde(default)]
    pub channel: String,
    #[serde(default)]
    pub idempotency_key: String,
}

/// A category code as the document's `CategoryCode` states it: `^[a-z0-9_.]{2,60}$`.
fn category_code(raw: &str) -> Result<(), ServiceError> {
    input::code(
        "category_code",
        raw,
        60,
        |c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.'),
        "deve essere il codice di una categoria, ad es. strade.buca / must be a category code, \
         e.g. strade.buca",
    )?;
    if raw.len() < 2 {
        return Err(ServiceError::invalid_field(
            "category_code",
            "almeno 2 caratteri / at least 2 characters",
        ));
    }
    Ok(())
}

fn coordinate(field: &str, value: Option<f64>, limit: f64) -> Result<(), ServiceError> {
    match value {
        Some(v) if !(-limit..=limit).contains(&v) => Err(ServiceError::invalid_field(
            field,
            format!("da -{limit} a {limit} gradi WGS84 / -{limit} to {limit} WGS84 degrees"),
        )),
        _ => Ok(()),
    }
}

/// The form as URP's request, once checked as the document states it.
fn filing(
    form: ReportForm,
    channel: Channel,
    municipality: String,
) -> Result<FileReportRequest, ServiceError> {
    category_code(&form.category_code)?;
    input::required_text("description", &form.description, 4000)?;
    coordinate("latitude", form.latitude, 90.0)?;
    coordinate("longitude", form.longitude, 180.0)?;
    input::text("address", &form.address, 300)?;
    input::text("first_name", &form.first_name, 100)?;
    input::text("last_name", &form.last_name, 100)?;
    input::text("email", &form.email, 254)?;
    input::text("phone", &form.phone, 30)?;
    input::text("fiscal_code", &form.fiscal_code, 16)?;
    input::optional_uuid("idempotency_key", &form.idempotency_key)?;
    let located = form.latitude.is_some() || form.longitude.is_some() || !form.address.is_empty();
    let location = if located {
        Some(Location {
            latitude: form.latitude,
            longitude: form.longitude,
            address: form.address,
        })
    } else {
        None
    };
    Ok(FileReportRequest {
        municipality_istat_code: municipality,
        category_code: form.category_code,
        description: form.description,
        location,
        attachments: Vec::new(),
        media_url: String::new(),
        requester: Some(Requester {
            fiscal_code: form.fiscal_code,
            first_name: form.first_name,
            last_name: form.last_name,
            email: form.email,
            phone: form.phone,
        }),
        channel: channel as i32,
        source: String::new(),
        idempotency_key: form.idempotency_key,
    })
}

/// `POST /api/v1/reports`: a citizen files a report or a complaint on the public page,
/// anonymous or named. Public, as the rating page: a JSON body (no form post from
/// another site can send one), the public municipality only, and URP answers a report
/// sent again the same day with the one already filed. The reply names its code and,
/// for following a complaint, its token (the id).
pub async fn file_public(
    State(state): State<AppState>,
    Body(form): Body<ReportForm>,
) -> Result<(StatusCode, Json<serde_json::Value>), ServiceError> {
    if !form.fiscal_code.is_empty() || !form.channel.is_empty() {
        let field = if form.fiscal_code.is_empty() {
            "channel"
        } else {
            "fiscal_code"
        };
        return Err(ServiceError::invalid_field(
            field,
            "solo allo sportello / at the counter only",
        ));
    }
    let municipality = state.settings.public_municipality.to_string();
    let request = filing(form, Channel::Web, municipality)?;
    let context = state.public_context("urp.report")?;
    let report = reports(&state)?
        .file_report(context.request(request))
        .await
        .map_err(|status| flat_fields(status.into()))?
        .into_inner()
        .report;
    Ok((StatusCode::CREATED, report_reply(report)?))
}

/// `POST /api/v1/urp/reports`: the operator files a report or complaint for the citizen
/// at the counter (or one told on the phone, or by e-mail).
pub async fn file_counter(
    State(state): State<AppState>,
    signed: Signed,
    Body(form): Body<ReportForm>,
) -> Result<(StatusCode, Json<serde_json::Value>), ServiceError> {
    signed.require(COUNTER)?;
    let channel = match form.channel.as_str() {
        "" | "counter" => Channel::Counter,
        "phone" => Channel::Phone,
        "email" => Channel::Email,
        _ => {
            return Err(ServiceError::invalid_field(
                "channel",
                "counter, phone o email / counter, phone or email",
            ));
        }
    };
    let municipality = signed.account().municipality.to_string();
    let request = filing(form, channel, municipality)?;
    let context = signed.context("urp.report")?;
    let report = reports(&state)?
        .file_report(context.request(request))
        .await
        .map_err(|status| flat_fields(status.into()))?
        .into_inner()
        .report;
    Ok((StatusCode::CREATED, report_reply(report)?))
}

/// A report's code (`2026-000123`) or its token (the id, a UUID), as the document's
/// `ReportRef` states it.
fn report_ref(raw: &str) -> Result<(), ServiceError> {
    let code = raw.len() == 11
        && raw.as_bytes()[4] == b'-'
        && raw.as_bytes()[..4].iter().all(u8::is_ascii_digit)
        && raw.as_bytes()[5..].iter().all(u8::is_ascii_digit);
    if code && raw.as_bytes()[5..].iter().all(|b| *b == b'0') {
        // Numbers start at 1: a code of the right shape numbered 0 names no report.
        Err(ServiceError::new(
            ErrorKind::NotFound,
            format!("segnalazione {raw} non trovata / report {raw} not found"),
        ))
    } else if code || input::record_id("ref", raw).is_ok() {
        Ok(())
    } else {
        Err(ServiceError::invalid_field(
            "ref",
            "il codice (2026-000123) o il token ricevuto / the code (2026-000123) or the token \
             received",
        ))
    }
}

/// `GET /api/v1/reports/{ref}`: a report followed by its code or its token. Public; a
/// complaint only by its token (URP: its code, being guessable, is not enough).
pub async fn follow(
    State(state): State<AppState>,
    Path(reference): Path<String>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    report_ref(&reference)?;
    let context = state.public_context("urp.report.read")?;
    let report = reports(&state)?
        .get_report(context.request(GetReportRequest {
            municipality_istat_code: state.settings.public_municipality.to_string(),
            code_or_id: reference,
        }))
        .await?
        .into_inner()
        .report;
    report_reply(report)
}

/// `GET /api/v1/urp/reports/{ref}`: a report or complaint by its code or id, for the
/// municipality's operators.
pub async fn get(
    State(state): State<AppState>,
    signed: Signed,
    Path(reference): Path<String>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    signed.require(&[
        Role::InfoDesk,
        Role::Polivalente,
        Role::Tecnico,
        Role::BackOffice,
        Role::Manager,
    ])?;
    report_ref(&reference)?;
    let context = signed.context("urp.report.read")?;
    let report = reports(&state)?
        .get_report(context.request(GetReportRequest {
            municipality_istat_code: signed.account().municipality.to_string(),
            code_or_id: reference,
        }))
        .await?
        .into_inner()
        .report;
    report_reply(report)
}

/// `GET /api/v1/urp/reports`: the office's open reports and complaints, oldest due first.
/// Reports come from URP's list (received or in progress); complaints, which URP never
/// lists, from the office's own work in routing (each `urp.report_reply` item names its
/// report), read one by one by id.
pub async fn open(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<Json<serde_json::Value>, ServiceError> {
    require_urp_office(&signed)?;
    let context = signed.context("urp.report.read")?;
    let municipality = signed.account().municipality.to_string();
    let mut client = reports(&state)?;
    let mut open = client
        .list_reports(context.request(ListReportsRequest {
            municipality_istat_code: municipality.clone(),
            statuses: vec![
                ReportStatus::Received as i32,
                ReportStatus::InProgress as i32,
            ],
            page: Some(PageRequest {
                page_size: OPEN_PAGE,
                page_token: String::new(),
            }),
            ..Default::default()
        }))
        .await?
        .into_inner()
        .reports;
    let listed: BTreeSet<String> = open.iter().map(|r| r.id.clone()).collect();
    let work = state
        .back_office()?
        .list_work(context.request(ListWorkRequest {
            municipality_istat_code: municipality.clone(),
            department: URP_DEPARTMENT.to_owned(),
            operator_id: signed.account().id.clone(),
            view: WorkView::Department as i32,
            states: Vec::new(),
            procedure_kind: "report".to_owned(),
            page: Some(PageRequest {
                page_size: OPEN_PAGE,
                page_token: String::new(),
            }),
        }))
        .await?
        .into_inner()
        .items;
    for item in work {
        let Some(origin) = item.origin else { continue };
        if origin.service != "urp" || listed.contains(&origin.procedure_id) {
            continue;
        }
        let found = client
            .get_report(context.request(GetReportRequest {
                municipality_istat_code: municipality.clone(),
                code_or_id: origin.procedure_id.clone(),
            }))
            .await;
        match found {
            Ok(reply) => {
                if let Some(report) = reply.into_inner().report
                    && report.status != ReportStatus::Closed as i32
                {
                    open.push(report);
                }
            }
            // Work whose report URP no longer shows (another municipality's, say) is
            // left out of the list rather than failing it.
            Err(status) if status.code() == tonic::Code::NotFound => {}
            Err(status) => return Err(status.into()),
        }
    }
    open.sort_by(|a, b| a.due_date.cmp(&b.due_date).then(a.code.cmp(&b.code)));
    let views: Vec<_> = open.iter().map(report_view).collect();
    Ok(Json(serde_json::json!({ "reports": views })))
}

/// Why the office reads the person behind a report.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequesterForm {
    #[serde(default)]
    pub purpose: String,
}

/// `POST /api/v1/urp/reports/{id}/requester`: the person who filed it and the
/// description as written, for the office answering it. URP writes every read to its
/// audit (who, when, why); a POST because it is a recorded act, not a plain read.
pub async fn requester(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Body(form): Body<RequesterForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    require_urp_office(&signed)?;
    let id = input::record_id("ref", &id)?.to_string();
    let purpose = match form.purpose.as_str() {
        "" | "reply" => "urp.report.reply",
        "contact" => "urp.report.contact",
        _ => {
            return Err(ServiceError::invalid_field(
                "purpose",
                "reply o contact / reply or contact",
            ));
        }
    };
    let context = signed.context(purpose)?;
    let reply = reports(&state)?
        .get_report_requester(context.request(GetReportRequesterRequest { report_id: id }))
        .await?
        .into_inner();
    let person = reply.requester.unwrap_or_default();
    Ok(Json(serde_json::json!({
        "requester": {
            "fiscal_code": person.fiscal_code,
            "first_name": person.first_name,
            "last_name": person.last_name,
            "email": person.email,
            "phone": person.phone,
        },
        "description": reply.description,
    })))
}

/// The office's reply.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyForm {
    pub text: String,
    pub outcome: String,
    #[serde(default)]
    pub idempotency_key: String,
}

/// `POST /api/v1/urp/reports/{id}/reply`: the office's reply, registered as sent, kept,
/// e-mailed when the citizen left an address; the report closed.
pub async fn reply(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Body(form): Body<ReplyForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    require_urp_office(&signed)?;
    let id = input::record_id("ref", &id)?.to_string();
    input::required_text("text", &form.text, 8000)?;
    let outcome = match form.outcome.as_str() {
        "resolved" => ReplyOutcome::Resolved,
        "unfounded" => ReplyOutcome::Unfounded,
        "forwarded" => ReplyOutcome::Forwarded,
        _ => {
            return Err(ServiceError::invalid_field(
                "outcome",
                "resolved, unfounded o forwarded / resolved, unfounded or forwarded",
            ));
        }
    };
    input::optional_uuid("idempotency_key", &form.idempotency_key)?;
    let context = signed.context("urp.report.reply")?;
    let report = reports(&state)?
        .reply_to_report(context.request(ReplyToReportRequest {
            report_id: id,
            text: form.text,
            outcome: outcome as i32,
            idempotency_key: form.idempotency_key,
        }))
        .await?
        .into_inner()
        .report;
    report_reply(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_is_followed_by_its_code_or_its_token_only() {
        assert!(report_ref("2026-000123").is_ok());
        assert!(report_ref("0190f5b2-7c4a-7b8e-9d3c-1a2b3c4d5e6f").is_ok());
        assert_eq!(
            report_ref("0000-000000").map_err(|e| e.kind()),
            Err(ErrorKind::NotFound)
        );
        for bad in [
            "2026-12",
            "2026_000123",
            "",
            "x026-000123",
            "２０２６-000123",
        ] {
            assert!(report_ref(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nested_field_names_come_back_flat() {
        let error = ServiceError::invalid_fields(vec![
            FieldViolation {
                field: "requester.email".into(),
                description: "x".into(),
            },
            FieldViolation {
                field: "location".into(),
                description: "y".into(),
            },
            FieldViolation {
                field: "location.latitude".into(),
                description: "z".into(),
            },
        ]);
        let fields: Vec<_> = flat_fields(error)
            .violations()
            .iter()
            .map(|v| v.field.clone())
            .collect();
        assert_eq!(fields, ["email", "address", "latitude"]);
    }
}
