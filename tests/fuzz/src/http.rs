//! The gateway's JSON request bodies: the bytes go through the gateway's own `Body`
//! extractor (axum's JSON rejection turned into the error table's shape, the field named),
//! then through the checks its handler makes before it calls a service.
//!
//! The first byte picks the request type (modulo the number of types), the rest is the body.

use axum::{body::Body as HttpBody, extract::FromRequest, http::Request};
use serde::de::DeserializeOwned;
use sportello_gateway::api::{
    admin, appointments, body::Body, cases, console, education, input, kiosk, residence, suap,
    views,
};
use sportello_kit::{ErrorKind, ServiceError};
use sportello_proto::registry::v1::CertificateType;

/// The largest document the checks accept (the gateway's default is 10 MiB; the fuzzer's
/// inputs are far smaller, so any limit above them reaches the same code).
const DOCUMENT_MAX_BYTES: u64 = 1 << 20;

/// The request types, by the first byte of the input.
pub const FORMS: &[&str] = &[
    "kiosk ticket",
    "certificate",
    "education application",
    "residence declaration",
    "site",
    "suap filing",
    "documents",
    "booking",
    "console ticket",
    "operator",
];

/// Runs the gateway's `Body<T>` extractor on `json` as a request would carry it.
fn extract<T: DeserializeOwned>(json: &[u8]) -> Result<T, ServiceError> {
    let request = Request::builder()
        .method("POST")
        .uri("/api/v1/fuzz")
        .header("content-type", "application/json")
        .body(HttpBody::from(json.to_vec()))
        .map_err(|e| ServiceError::new(ErrorKind::Internal, e.to_string()))?;
    let Body(value) = futures::executor::block_on(Body::<T>::from_request(request, &()))?;
    Ok(value)
}

/// An error for a body must be the caller's fault, never the gateway's.
fn refused(error: &ServiceError) {
    assert_eq!(
        error.kind(),
        ErrorKind::InvalidArgument,
        "a body was refused as {:?}, not as invalid: {}",
        error.kind(),
        error.message()
    );
}

fn kiosk_ticket(json: &[u8]) -> Result<(), ServiceError> {
    let form: kiosk::TicketForm = extract(json)?;
    input::optional_uuid("idempotency_key", &form.idempotency_key)?;
    let _ = views::parse_priority(&form.priority_category);
    Ok(())
}

fn certificate(json: &[u8]) -> Result<(), ServiceError> {
    let form: cases::CertificateForm = extract(json)?;
    input::optional_uuid("idempotency_key", &form.idempotency_key)?;
    input::text("use", &form.r#use, 120)?;
    let _ = CertificateType::from_str_name(&format!(
        "CERTIFICATE_TYPE_{}",
        form.certificate_type.to_ascii_uppercase()
    ));
    Ok(())
}

fn education_application(json: &[u8]) -> Result<(), ServiceError> {
    education::request(extract(json)?).map(|_| ())
}

fn residence_declaration(json: &[u8]) -> Result<(), ServiceError> {
    residence::checked(&extract(json)?)
}

fn site(json: &[u8]) -> Result<(), ServiceError> {
    extract::<admin::SiteForm>(json)?.check()
}

fn suap_filing(json: &[u8]) -> Result<(), ServiceError> {
    extract::<suap::FilingForm>(json).map(|_| ())
}

/// The documents a filing carries, base64 each, decoded and held to their media type.
fn documents(json: &[u8]) -> Result<(), ServiceError> {
    suap::filed(extract(json)?, DOCUMENT_MAX_BYTES).map(|_| ())
}

fn booking(json: &[u8]) -> Result<(), ServiceError> {
    let form: appointments::BookForm = extract(json)?;
    input::optional_uuid("idempotency_key", &form.idempotency_key)?;
    input::text("fiscal_code", &form.fiscal_code, 16)?;
    input::text("email", &form.email, 254)?;
    appointments::instant("start_time", &form.start_time).map(|_| ())
}

fn console_ticket(json: &[u8]) -> Result<(), ServiceError> {
    let form: console::TicketForm = extract(json)?;
    let _ = console::is_ticket(&form.ticket);
    Ok(())
}

fn operator(json: &[u8]) -> Result<(), ServiceError> {
    let form: admin::OperatorForm = extract(json)?;
    input::required_text("display_name", &form.display_name, 120)
}

/// A JSON body of one of the gateway's request types.
pub fn http_body(data: &[u8]) {
    let Some((&which, json)) = data.split_first() else {
        return;
    };
    let result = match usize::from(which) % FORMS.len() {
        0 => kiosk_ticket(json),
        1 => certificate(json),
        2 => education_application(json),
        3 => residence_declaration(json),
        4 => site(json),
        5 => suap_filing(json),
        6 => documents(json),
        7 => booking(json),
        8 => console_ticket(json),
        _ => operator(json),
    };
    if let Err(error) = result {
        refused(&error);
    }
}
