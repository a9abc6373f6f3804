//! The case card and what an operator does with it: recall, no-show, park, resume,
//! transfer, complete; open the requester's identity (an audited read with a purpose);
//! issue a registry certificate for the case and print its PDF.

use crate::api::body::{Body, Path, Query};
use axum::{
    Json,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use sportello_kit::{CallContext, ErrorKind, ServiceError};
use sportello_proto::{
    registry::v1::{
        CertificateType, GetCertificateRequest, GetResidentByRequesterRefRequest,
        IssueCertificateRequest, issue_certificate_request::Person,
    },
    routing::v1::{
        AppointmentHandOff, Call, Case, CaseStatus, CompleteRequest, GetCaseRequest,
        MarkNoShowRequest, ParkRequest, RecallRequest, ResumeRequest, TransferRequest,
    },
};

use super::{
    input,
    views::{CallView, CaseView, short_name},
};
use crate::{
    app::AppState,
    auth::{Role, Signed},
};

/// A case's history step.
#[derive(Debug, Serialize)]
pub struct HistoryView {
    pub status: String,
    pub time: Option<String>,
    pub actor: String,
    pub reason: String,
}

/// Reads a case the account may see: of its municipality and, for departmental roles,
/// of its department.
pub async fn load(
    state: &AppState,
    signed: &Signed,
    context: &CallContext,
    case_id: &str,
) -> Result<(CaseView, Vec<HistoryView>, Case), ServiceError> {
    signed.require(&[
        Role::InfoDesk,
        Role::Polivalente,
        Role::Tecnico,
        Role::BackOffice,
        Role::Manager,
    ])?;
    // Routing hides another municipality's cases as not found; to the account both
    // mean the same: not a case it may touch.
    let reply = state
        .cases()?
        .get_case(context.request(GetCaseRequest {
            case_id: case_id.to_owned(),
        }))
        .await
        .map_err(refusal)?
        .into_inner();
    let case = reply
        .case
        .ok_or_else(|| ServiceError::new(ErrorKind::NotFound, "no such case"))?;
    signed.same_municipality(&case.municipality_istat_code)?;
    if !signed.account().roles.contains(&Role::Manager) {
        signed.may_serve_department(&case.department)?;
    }
    let service = super::service_type(state, context, &case.service_code).await?;
    let view = CaseView::new(&case, service.as_ref(), state.db.clock().now());
    let history = reply
        .history
        .into_iter()
        .map(|h| HistoryView {
            status: short_name(h.status().as_str_name(), "CASE_STATUS_"),
            time: super::views::time(h.time.as_ref()),
            actor: h.actor,
            reason: h.reason,
        })
        .collect();
    Ok((view, history, case))
}

/// A call with its catalogue entry looked up.
pub async fn call_view(
    state: &AppState,
    context: &CallContext,
    call: &Call,
) -> Result<Option<CallView>, ServiceError> {
    let service = match &call.case {
        Some(case) => super::service_type(state, context, &case.service_code).await?,
        None => None,
    };
    Ok(CallView::new(
        call,
        service.as_ref(),
        state.db.clock().now(),
    ))
}

/// Routing hides another municipality's cases as not found: to the account, on a case
/// id it holds, both mean the same — not a case it may touch.
fn refusal(status: tonic::Status) -> ServiceError {
    match status.code() {
        tonic::Code::NotFound => ServiceError::new(
            ErrorKind::PermissionDenied,
            "no case of your municipality has this id",
        ),
        _ => status.into(),
    }
}

/// The context and case id of a counter action: one click, one RPC — routing checks
/// that the operator holds the case, of their municipality and department.
fn for_action(
    signed: &Signed,
    purpose: &str,
    case_id: &str,
) -> Result<(CallContext, String), ServiceError> {
    signed.require(Role::OPERATORS)?;
    let case_id = input::record_id("id", case_id)?.to_string();
    Ok((signed.context(purpose)?, case_id))
}

/// Loads a case for an operator about to use what it holds (its requester, its service).
async fn for_reading(
    state: &AppState,
    signed: &Signed,
    purpose: &str,
    case_id: &str,
) -> Result<(CallContext, Case), ServiceError> {
    let (context, case_id) = for_action(signed, purpose, case_id)?;
    let (_, _, case) = load(state, signed, &context, &case_id).await?;
    Ok((context, case))
}

/// `GET /api/v1/cases/{id}`.
pub async fn card(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let id = input::record_id("id", &id)?.to_string();
    let context = signed.context("case.serve")?;
    let (case, history, _) = load(&state, &signed, &context, &id).await?;
    Ok(Json(
        serde_json::json!({ "case": case, "history": history }),
    ))
}

fn me(signed: &Signed) -> String {
    signed.account().id.clone()
}

/// `POST /api/v1/cases/{id}/recall`.
pub async fn recall(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let (context, case_id) = for_action(&signed, "case.serve", &id)?;
    let call = state
        .cases()?
        .recall(context.request(RecallRequest {
            operator_id: me(&signed),
            case_id: case_id.clone(),
        }))
        .await
        .map_err(refusal)?
        .into_inner()
        .call
        .unwrap_or_default();
    Ok(Json(
        serde_json::json!({ "call": call_view(&state, &context, &call).await? }),
    ))
}

async fn case_reply(state: &AppState, case: Option<Case>) -> Json<serde_json::Value> {
    let now = state.db.clock().now();
    let case = case.map(|c| CaseView::new(&c, None, now));
    Json(serde_json::json!({ "case": case }))
}

/// `POST /api/v1/cases/{id}/no-show`.
pub async fn no_show(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let (context, case_id) = for_action(&signed, "case.serve", &id)?;
    let reply = state
        .cases()?
        .mark_no_show(context.request(MarkNoShowRequest {
            operator_id: me(&signed),
            case_id: case_id.clone(),
        }))
        .await
        .map_err(refusal)?
        .into_inner();
    Ok(case_reply(&state, reply.case).await)
}

/// Why, for park and transfer.
#[derive(Debug, Deserialize)]
pub struct ReasonForm {
    #[serde(default)]
    pub reason: String,
}

/// `POST /api/v1/cases/{id}/park`.
pub async fn park(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Body(form): Body<ReasonForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    input::text("reason", &form.reason, 200)?;
    let (context, case_id) = for_action(&signed, "case.serve", &id)?;
    let reply = state
        .cases()?
        .park(context.request(ParkRequest {
            operator_id: me(&signed),
            case_id: case_id.clone(),
            reason: form.reason,
        }))
        .await
        .map_err(refusal)?
        .into_inner();
    Ok(case_reply(&state, reply.case).await)
}

/// `POST /api/v1/cases/{id}/resume`.
pub async fn resume(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let (context, case_id) = for_action(&signed, "case.serve", &id)?;
    let call = state
        .cases()?
        .resume(context.request(ResumeRequest {
            operator_id: me(&signed),
            case_id: case_id.clone(),
        }))
        .await
        .map_err(refusal)?
        .into_inner()
        .call
        .unwrap_or_default();
    Ok(Json(
        serde_json::json!({ "call": call_view(&state, &context, &call).await? }),
    ))
}

/// Where to transfer.
#[derive(Debug, Deserialize)]
pub struct TransferForm {
    pub to_service_group: String,
    #[serde(default)]
    pub to_service_code: String,
    #[serde(default)]
    pub reason: String,
}

/// `POST /api/v1/cases/{id}/transfer`: to another queue, keeping the ticket's place.
pub async fn transfer(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Body(form): Body<TransferForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    input::text("reason", &form.reason, 200)?;
    let (context, case_id) = for_action(&signed, "case.serve", &id)?;
    let reply = state
        .cases()?
        .transfer(context.request(TransferRequest {
            operator_id: me(&signed),
            case_id: case_id.clone(),
            to_service_group: form.to_service_group,
            to_service_code: form.to_service_code,
            reason: form.reason,
        }))
        .await
        .map_err(refusal)?
        .into_inner();
    Ok(case_reply(&state, reply.case).await)
}

/// The outcome.
#[derive(Debug, Deserialize)]
pub struct CompleteForm {
    #[serde(default)]
    pub outcome_code: String,
}

/// `POST /api/v1/cases/{id}/complete`.
pub async fn complete(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Body(form): Body<CompleteForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    completed(&state, &signed, &id, form.outcome_code, None).await
}

/// The hand-off to an appointment.
#[derive(Debug, Deserialize)]
pub struct AppointmentForm {
    #[serde(default)]
    pub context_note: String,
}

/// `POST /api/v1/cases/{id}/appointment`: the case held at the counter continues by
/// appointment — it completes with outcome `appointment_requested` and routing emits
/// `case.appointment_requested` with the note, for the booking to pick up.
pub async fn to_appointment(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Body(form): Body<AppointmentForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    // Checked here as routing checks it, so a refusal names the body's own field.
    input::required_text("context_note", &form.context_note, 2000)?;
    let note = form.context_note.trim().to_owned();
    sportello_kit::privacy::ensure_free_of_personal_data("context_note", &note)?;
    let handoff = AppointmentHandOff { context_note: note };
    completed(&state, &signed, &id, String::new(), Some(handoff)).await
}

async fn completed(
    state: &AppState,
    signed: &Signed,
    id: &str,
    outcome_code: String,
    appointment: Option<AppointmentHandOff>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let (context, case_id) = for_action(signed, "case.serve", id)?;
    let reply = state
        .cases()?
        .complete(context.request(CompleteRequest {
            operator_id: me(signed),
            case_id: case_id.clone(),
            outcome_code,
            appointment,
        }))
        .await
        .map_err(refusal)?
        .into_inner();
    let next_call = match &reply.next_call {
        Some(call) => call_view(state, &context, call).await?,
        None => None,
    };
    let now = state.db.clock().now();
    Ok(Json(serde_json::json!({
        "case": reply.case.map(|c| CaseView::new(&c, None, now)),
        "next_call": next_call,
    })))
}

/// Why the identity is opened.
#[derive(Debug, Deserialize)]
pub struct RevealForm {
    #[serde(default)]
    pub purpose: String,
}

/// `POST /api/v1/cases/{id}/requester`: the requester's identity, for the operator
/// holding the case, with a declared purpose the registry writes into its audit log.
pub async fn reveal_requester(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Body(form): Body<RevealForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let purpose = match form.purpose.as_str() {
        "certificate" => "requester.identify.certificate",
        "case_check" => "requester.identify.case-check",
        "other" => "requester.identify.other",
        _ => {
            return Err(ServiceError::invalid_field(
                "purpose",
                "one of certificate, case_check, other",
            ));
        }
    };
    let (context, case) = for_reading(&state, &signed, purpose, &id).await?;
    holds(&signed, &case)?;
    if case.requester_ref.is_empty() {
        return Err(ServiceError::new(
            ErrorKind::FailedPrecondition,
            "this ticket was taken anonymously: ask the citizen for an identity document",
        ));
    }
    let resident = state
        .residents()?
        .get_resident_by_requester_ref(context.request(GetResidentByRequesterRefRequest {
            requester_ref: case.requester_ref,
        }))
        .await?
        .into_inner()
        .resident
        .unwrap_or_default();
    Ok(Json(serde_json::json!({
        "display_name": format!("{} {}", resident.given_names, resident.surname),
        "fiscal_code": resident.fiscal_code,
        "birth_date": resident.birth_date,
    })))
}

/// Refuses an action on a case the operator is not holding at their counter.
fn holds(signed: &Signed, case: &Case) -> Result<(), ServiceError> {
    if case.status() == CaseStatus::Called && case.operator_id == signed.account().id {
        Ok(())
    } else {
        Err(ServiceError::new(
            ErrorKind::FailedPrecondition,
            "only the operator who called this case can do this, while it is at their counter",
        ))
    }
}

/// A certificate to issue.
#[derive(Debug, Deserialize)]
pub struct CertificateForm {
    #[serde(default)]
    pub fiscal_code: String,
    #[serde(rename = "type", default)]
    pub certificate_type: String,
    #[serde(default)]
    pub r#use: String,
    #[serde(default)]
    pub exemption_code: String,
    #[serde(default)]
    pub idempotency_key: String,
}

/// `POST /api/v1/cases/{id}/certificates`: issues a registry certificate for the case
/// the operator holds.
pub async fn issue_certificate(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Body(form): Body<CertificateForm>,
) -> Result<(StatusCode, Json<serde_json::Value>), ServiceError> {
    input::optional_uuid("idempotency_key", &form.idempotency_key)?;
    input::text("use", &form.r#use, 120)?;
    // The registry knows the codes (and trims them): the document lists them as they are.
    if form.exemption_code.trim() != form.exemption_code {
        return Err(ServiceError::invalid_field(
            "exemption_code",
            "is not a stamp-duty exemption the registry knows",
        ));
    }
    let (context, case) = for_reading(&state, &signed, "certificate.issue", &id).await?;
    holds(&signed, &case)?;
    if !case.service_code.starts_with("registry.") {
        return Err(ServiceError::new(
            ErrorKind::FailedPrecondition,
            "certificates are issued for registry cases only",
        ));
    }
    let certificate_type = CertificateType::from_str_name(&format!(
        "CERTIFICATE_TYPE_{}",
        form.certificate_type.to_ascii_uppercase()
    ))
    .filter(|t| *t != CertificateType::Unspecified)
    // The names are lowercase, as the document lists them.
    .filter(|_| form.certificate_type == form.certificate_type.to_ascii_lowercase())
    .ok_or_else(|| {
        ServiceError::invalid_field(
            "type",
            "one of residence, family_status, birth, citizenship, existence, residence_family",
        )
    })?;
    let reply = state
        .certificates()?
        .issue_certificate(context.request(IssueCertificateRequest {
            municipality_istat_code: signed.account().municipality.to_string(),
            person: Some(Person::FiscalCode(form.fiscal_code.to_ascii_uppercase())),
            r#type: certificate_type as i32,
            r#use: form.r#use,
            exemption_code: form.exemption_code,
            idempotency_key: form.idempotency_key,
            // The operator issues as delegated registry officer, named on the
            // certificate (D.Lgs 39/1993 art. 3 c. 2).
            responsible_official: signed.account().display_name.clone(),
            // Who asked, and in which case: the registry issues residence and family
            // status to anyone (DPR 223/1989 art. 33 c. 1), records the applicant and
            // flags the read when it is not the person certified; the case lets this
            // operator print it again.
            case_id: case.id.clone(),
            applicant_ref: case.requester_ref.clone(),
            // The municipality's virtual payment, when configured in the registry.
            ..Default::default()
        }))
        .await?
        .into_inner();
    let certificate = reply.certificate.unwrap_or_default();
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "certificate": {
                "id": certificate.id,
                "type": short_name(certificate.r#type().as_str_name(), "CERTIFICATE_TYPE_"),
                "verification_code": certificate.verification_code,
                "verification_url": certificate.verification_url,
                "issue_time": super::views::time(certificate.issue_time.as_ref()),
                "valid_until": certificate.valid_until,
                "content_sha256": certificate.content_sha256,
            },
            "pdf_url": format!("/api/v1/certificates/{}/pdf?case={}", certificate.id, case.id),
        })),
    ))
}

/// Which case a certificate is printed for.
#[derive(Debug, Deserialize)]
pub struct PdfQuery {
    /// The counter case it was issued in.
    #[serde(default)]
    pub case: String,
}

/// `GET /api/v1/certificates/{id}/pdf[?case=<case id>]`: the certificate as issued (an
/// audited read) — for the registry office's back office, or for the operator who served
/// the counter case it was issued in (the registry checks the certificate was issued in
/// that case; here, that the operator served it).
pub async fn certificate_pdf(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Query(query): Query<PdfQuery>,
) -> Result<Response, ServiceError> {
    signed.require(&[
        Role::InfoDesk,
        Role::Polivalente,
        Role::Tecnico,
        Role::BackOffice,
    ])?;
    let certificate_id = input::record_id("id", &id)?.to_string();
    let context = signed.context("certificate.print")?;
    let case_id = match query.case.as_str() {
        "" => String::new(),
        raw => {
            let case_id = input::record_id("case", raw)?.to_string();
            let (_, _, case) = load(&state, &signed, &context, &case_id).await?;
            if case.operator_id != signed.account().id {
                return Err(ServiceError::new(
                    ErrorKind::PermissionDenied,
                    "case: il certificato si ristampa solo da chi ha servito la pratica / \
                     only the operator who served the case prints its certificate again",
                ));
            }
            case_id
        }
    };
    let reply = state
        .certificates()?
        .get_certificate(context.request(GetCertificateRequest {
            certificate_id,
            case_id,
        }))
        .await?
        .into_inner();
    let certificate = reply.certificate.unwrap_or_default();
    signed.same_municipality(&certificate.municipality_istat_code)?;
    let disposition = format!(
        "inline; filename=\"certificato-{}.pdf\"",
        certificate.verification_code
    );
    let mut response = reply.pdf.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
