//! Enrolment at the counter (*iscrizione al nido e alla scuola dell'infanzia*): the
//! windows open today in the operator's municipality, the application taken at the
//! counter and its receipt. Education owns every rule (the window open today, the
//! child's age read from the fiscal code, residence asked of the registry, one
//! application per child, the protocol register); the gateway checks what the document
//! states and turns education's answer into JSON.
//!
//! Minors' data: the fiscal codes go to education in the request and come back in no
//! reply (education keeps only pseudonymous references); the L. 104/1992 certification is
//! health data — it is sent, scores, and is never answered, nor is the total score, which
//! would reveal it.

use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use sportello_kit::{ErrorKind, ServiceError};
use sportello_proto::{
    common::v1::Channel,
    education::v1::{
        Application, Criteria, Entry, FileApplicationRequest, GetApplicationRequest,
        GetWindowRequest, ListWindowsRequest, OfferStatus, SchoolLevel, Window,
    },
};

use super::{
    body::{Body, Path},
    input, service_type,
    views::time,
};
use crate::{
    app::AppState,
    auth::{Role, Signed},
};

/// The department that owns enrolment, as routing's catalogue names it.
pub const DEPARTMENT: &str = "servizi_educativi";

/// The catalogue's service of an enrolment: its checklist of documents.
const SERVICE: &str = "education.school_enrolment";

/// Who takes an application: the multi-purpose counter (enrolment is a tier-2 peak), and
/// the education department's own technical and back-office operators.
pub const FILERS: &[Role] = &[Role::Polivalente, Role::Tecnico, Role::BackOffice];

/// Who reads an application: whoever files, and the managers.
const READERS: &[Role] = &[
    Role::Polivalente,
    Role::Tecnico,
    Role::BackOffice,
    Role::Manager,
];

/// The most siblings attending a family may declare (education caps the points anyway).
const MAX_SIBLINGS: u32 = 20;

/// The largest ISEE value taken, in cents (ten million euro: anything above is a typo).
const MAX_ISEE_CENTS: i64 = 1_000_000_000;

/// `roles`, and for a departmental account the education department.
fn authorise(signed: &Signed, roles: &[Role]) -> Result<(), ServiceError> {
    let account = signed.require(roles)?;
    if account.roles.contains(&Role::Manager) || account.may_serve_department(DEPARTMENT) {
        Ok(())
    } else {
        Err(ServiceError::new(
            ErrorKind::PermissionDenied,
            format!("enrolment is the {DEPARTMENT} department's work, not yours"),
        ))
    }
}

fn level_name(level: i32) -> &'static str {
    match SchoolLevel::try_from(level).unwrap_or(SchoolLevel::Unspecified) {
        SchoolLevel::Nido => "nido",
        SchoolLevel::Infanzia => "infanzia",
        _ => "unspecified",
    }
}

fn criteria_view(c: Option<&Criteria>) -> serde_json::Value {
    let Some(c) = c else {
        return serde_json::Value::Null;
    };
    serde_json::json!({
        "version": c.version,
        "resident_points": c.resident_points,
        "working_parents_points": c.working_parents_points,
        "sibling_points": c.sibling_points,
        "max_siblings": c.max_siblings,
        "disability_points": c.disability_points,
        "income_bands": c.income_bands.iter().map(|b| serde_json::json!({
            "up_to_cents": b.up_to_cents,
            "points": b.points,
        })).collect::<Vec<_>>(),
    })
}

fn window_view(w: &Window) -> serde_json::Value {
    serde_json::json!({
        "id": w.id,
        "level": level_name(w.level),
        "school_year": w.school_year,
        "opens_on": w.opens_on,
        "closes_on": w.closes_on,
        "starts_on": w.starts_on,
        "places": w.places,
        "criteria": criteria_view(w.criteria.as_ref()),
    })
}

/// Where an application stands: filed, then the offer of a place.
fn status_name(a: &Application) -> &'static str {
    match OfferStatus::try_from(a.offer_status).unwrap_or(OfferStatus::Unspecified) {
        OfferStatus::Unspecified => "filed",
        OfferStatus::Offered => "offered",
        OfferStatus::Accepted => "accepted",
        OfferStatus::Refused => "refused",
        OfferStatus::Lapsed => "lapsed",
    }
}

fn optional(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// An application as the receipt shows it: never the L. 104 declaration, nor the score.
fn application_view(a: &Application) -> serde_json::Value {
    serde_json::json!({
        "id": a.id,
        "window_id": a.window_id,
        "code": a.code,
        "protocol_number": a.protocol_number,
        "file_time": time(a.file_time.as_ref()),
        "status": status_name(a),
        "entry": match Entry::try_from(a.entry).unwrap_or(Entry::Unspecified) {
            Entry::Early => "early",
            _ => "regular",
        },
        "resident": a.resident,
        "channel": match Channel::try_from(a.channel).unwrap_or(Channel::Unspecified) {
            Channel::Counter => "counter",
            _ => "system",
        },
        "declared": {
            "working_parents": a.working_parents,
            "siblings_enrolled": a.siblings_enrolled,
            "isee_value_cents": a.isee_value_cents,
            "dsu_protocol": optional(&a.dsu_protocol),
        },
        "offer_last_day": optional(&a.offer_last_day),
    })
}

/// `GET /api/v1/education/windows`: the enrolment windows taking applications today in
/// the operator's municipality, and the documents the catalogue asks the family for.
pub async fn windows(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<Json<serde_json::Value>, ServiceError> {
    authorise(&signed, FILERS)?;
    let context = signed.context("enrolment.windows")?;
    let windows = state
        .enrolment()?
        .list_windows(context.request(ListWindowsRequest {
            municipality_istat_code: signed.account().municipality.to_string(),
            open_today: true,
        }))
        .await?
        .into_inner()
        .windows;
    let documents = service_type(&state, &context, SERVICE)
        .await?
        .map(|s| s.required_documents)
        .unwrap_or_default();
    Ok(Json(serde_json::json!({
        "windows": windows.iter().map(window_view).collect::<Vec<_>>(),
        "documents": documents,
    })))
}

/// An application taken at the counter.
#[derive(Deserialize)]
pub struct ApplicationForm {
    window_id: String,
    child_fiscal_code: String,
    applicant_fiscal_code: String,
    #[serde(default)]
    applicant_name: String,
    #[serde(deserialize_with = "input::integer")]
    working_parents: u32,
    #[serde(default, deserialize_with = "input::integer")]
    siblings_enrolled: u32,
    #[serde(default)]
    disability_certified: bool,
    #[serde(default, deserialize_with = "optional_integer")]
    isee_value_cents: Option<i64>,
    #[serde(default)]
    dsu_protocol: String,
    #[serde(default)]
    idempotency_key: String,
}

impl std::fmt::Debug for ApplicationForm {
    // Fiscal codes, a name and a health declaration: none of them in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApplicationForm")
            .field("window_id", &self.window_id)
            .finish_non_exhaustive()
    }
}

fn optional_integer<'de, D>(deserializer: D) -> Result<Option<i64>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    struct Integer(#[serde(deserialize_with = "input::integer")] i64);
    Ok(Option::<Integer>::deserialize(deserializer)?.map(|Integer(v)| v))
}

/// A fiscal code as the document states it: 16 letters and digits, any case (education
/// checks its check character, and reads the child's age from it, naming the field).
fn fiscal_code(field: &str, raw: &str) -> Result<String, ServiceError> {
    if raw.len() == 16 && raw.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(raw.to_ascii_uppercase())
    } else {
        Err(ServiceError::invalid_field(
            field,
            "dev'essere un codice fiscale: 16 lettere e cifre / must be a fiscal code: 16 \
             letters and digits",
        ))
    }
}

/// The form checked as the document states it; education checks the rest.
pub fn request(form: ApplicationForm) -> Result<FileApplicationRequest, ServiceError> {
    let window_id = input::record_id("window_id", &form.window_id)?.to_string();
    let child = fiscal_code("child_fiscal_code", &form.child_fiscal_code)?;
    let applicant = fiscal_code("applicant_fiscal_code", &form.applicant_fiscal_code)?;
    input::text("applicant_name", &form.applicant_name, 200)?;
    if form.working_parents > 2 {
        return Err(ServiceError::invalid_field(
            "working_parents",
            "0, 1 o 2 / 0, 1 or 2",
        ));
    }
    if form.siblings_enrolled > MAX_SIBLINGS {
        return Err(ServiceError::invalid_field(
            "siblings_enrolled",
            format!("da 0 a {MAX_SIBLINGS} / from 0 to {MAX_SIBLINGS}"),
        ));
    }
    if let Some(cents) = form.isee_value_cents
        && !(0..=MAX_ISEE_CENTS).contains(&cents)
    {
        return Err(ServiceError::invalid_field(
            "isee_value_cents",
            "da 0 a 10.000.000 euro, in centesimi / from 0 to 10,000,000 euro, in cents",
        ));
    }
    input::text("dsu_protocol", &form.dsu_protocol, 60)?;
    input::optional_uuid("idempotency_key", &form.idempotency_key)?;
    Ok(FileApplicationRequest {
        window_id,
        child_fiscal_code: child,
        applicant_fiscal_code: applicant,
        applicant_name: form.applicant_name,
        working_parents: form.working_parents,
        siblings_enrolled: form.siblings_enrolled,
        disability_certified: form.disability_certified,
        isee_value_cents: form.isee_value_cents,
        dsu_protocol: form.dsu_protocol,
        channel: Channel::Counter as i32,
        idempotency_key: form.idempotency_key,
    })
}

/// `POST /api/v1/education/applications`: the counter files an enrolment application;
/// the reply is what the receipt prints.
pub async fn file(
    State(state): State<AppState>,
    signed: Signed,
    Body(form): Body<ApplicationForm>,
) -> Result<(StatusCode, Json<serde_json::Value>), ServiceError> {
    let request = request(form)?;
    authorise(&signed, FILERS)?;
    let context = signed.context("enrolment.apply")?;
    let application = state
        .enrolment()?
        .file_application(context.request(request))
        .await?
        .into_inner()
        .application
        .ok_or_else(|| ServiceError::internal("education answered without the application"))?;
    tracing::info!(application_id = %application.id, window_id = %application.window_id,
        "enrolment application filed at the counter");
    let reply = receipt(&state, &signed, &application).await?;
    Ok((StatusCode::CREATED, Json(reply)))
}

/// `GET /api/v1/education/applications/{id}`: an application and its window: what its
/// receipt prints, again.
pub async fn get(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let id = input::record_id("id", &id)?.to_string();
    authorise(&signed, READERS)?;
    let context = signed.context("enrolment.read")?;
    let application = state
        .enrolment()?
        .get_application(context.request(GetApplicationRequest { application_id: id }))
        .await?
        .into_inner()
        .application
        .ok_or_else(|| ServiceError::new(ErrorKind::NotFound, "no such application"))?;
    Ok(Json(receipt(&state, &signed, &application).await?))
}

/// An application and its window, as the receipt shows them.
async fn receipt(
    state: &AppState,
    signed: &Signed,
    application: &Application,
) -> Result<serde_json::Value, ServiceError> {
    let context = signed.context("enrolment.read")?;
    let window = state
        .enrolment()?
        .get_window(context.request(GetWindowRequest {
            window_id: application.window_id.clone(),
        }))
        .await?
        .into_inner()
        .window;
    Ok(serde_json::json!({
        "application": application_view(application),
        "window": window.as_ref().map(window_view),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(body: serde_json::Value) -> Result<FileApplicationRequest, ServiceError> {
        request(serde_json::from_value(body).map_err(|e| ServiceError::internal(e.to_string()))?)
    }

    fn base() -> serde_json::Value {
        serde_json::json!({
            "window_id": "0195f3a0-0000-7000-8000-000000000001",
            "child_fiscal_code": "rssluc25e10e463x",
            "applicant_fiscal_code": "RSSMRA88C02E463Y",
            "working_parents": 2,
        })
    }

    #[test]
    fn the_form_is_checked_naming_the_field() {
        let request = form(base()).unwrap();
        assert_eq!(request.child_fiscal_code, "RSSLUC25E10E463X");
        assert_eq!(request.channel, Channel::Counter as i32);
        assert_eq!(request.isee_value_cents, None);
        let field = |patch: serde_json::Value| {
            let mut body = base();
            for (k, v) in patch.as_object().unwrap() {
                body[k] = v.clone();
            }
            form(body).unwrap_err().violations()[0].field.clone()
        };
        assert_eq!(
            field(serde_json::json!({"child_fiscal_code": "RSSLUC25E10E463"})),
            "child_fiscal_code"
        );
        assert_eq!(
            field(serde_json::json!({"applicant_fiscal_code": " RSSMRA88C02E463"})),
            "applicant_fiscal_code"
        );
        assert_eq!(
            field(serde_json::json!({"working_parents": 3})),
            "working_parents"
        );
        assert_eq!(
            field(serde_json::json!({"isee_value_cents": -1})),
            "isee_value_cents"
        );
        assert_eq!(field(serde_json::json!({"window_id": "x"})), "window_id");
    }

    #[test]
    fn the_receipt_never_shows_the_health_declaration_nor_the_score() {
        let view = application_view(&Application {
            code: "NIDO27-00012".into(),
            score: 30,
            isee_value_cents: Some(700_000),
            ..Application::default()
        });
        let text = view.to_string();
        assert!(!text.contains("score") && !text.contains("30"), "{text}");
        assert!(!text.contains("disab") && !text.contains("104"), "{text}");
        assert_eq!(view["status"], "filed");
        assert_eq!(view["declared"]["isee_value_cents"], 700_000);
    }
}
