//! The URP behind the counter and the citizen: the info-desk's knowledge base (search
//! at the counter, publish from the office), satisfaction tied to cases (the code the
//! counter prints, the public rating page, the kiosk) and the manager's report of
//! satisfaction next to waits, handling times and outcomes. URP decides every rule (one
//! rating per case, the 30 days to rate, who reads what); the gateway checks what the
//! document states and turns URP's answers into JSON.
//!
//! A rating names the service, the site and the tier, never the operator: nothing here
//! passes an operator to URP with a rating, and the report is per service.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode, header},
};
use jiff::{ToSpan, tz::TimeZone};
use serde::Deserialize;
use sportello_kit::{ErrorKind, PeerChannel, ServiceError};
use sportello_proto::urp::v1::{
    Answer, GetRateableCaseRequest, GetSatisfactionReportRequest, PublishAnswerRequest,
    RateableCase, RateableKind, RatingChannel, SearchAnswersRequest, SubmitFeedbackRequest,
    feedback_service_client::FeedbackServiceClient,
    knowledge_service_client::KnowledgeServiceClient,
};

use super::{
    body::{Body, Path, Query},
    input, sites_of,
    views::time,
};
use crate::{
    app::AppState,
    auth::{Role, Signed},
};

/// Who searches the knowledge base: whoever serves citizens, and those who run the office.
const SEARCHERS: &[Role] = &[
    Role::InfoDesk,
    Role::Polivalente,
    Role::Tecnico,
    Role::BackOffice,
    Role::Manager,
    Role::Admin,
];

/// Who writes the answers: the back office, a manager, an administrator (URP checks the
/// same).
const PUBLISHERS: &[Role] = &[Role::BackOffice, Role::Manager, Role::Admin];

/// Who reads the satisfaction report.
const REPORT_READERS: &[Role] = &[Role::Manager, Role::Admin];

/// The longest report, in days (URP's limit).
const MAX_REPORT_DAYS: i32 = 366;

fn channel(state: &AppState) -> Result<PeerChannel, ServiceError> {
    state
        .peers
        .channel("urp")
        .ok_or_else(|| ServiceError::new(ErrorKind::Unavailable, "no urp service configured"))
}

fn knowledge(state: &AppState) -> Result<KnowledgeServiceClient<PeerChannel>, ServiceError> {
    Ok(KnowledgeServiceClient::new(channel(state)?))
}

fn feedback(state: &AppState) -> Result<FeedbackServiceClient<PeerChannel>, ServiceError> {
    Ok(FeedbackServiceClient::new(channel(state)?))
}

fn answer_view(a: &Answer) -> serde_json::Value {
    serde_json::json!({
        "id": a.id,
        "service_code": a.service_code,
        "title": a.title,
        "body": a.body,
        "what_to_bring": a.what_to_bring,
        "where_to_go": a.where_to_go,
        "cost": a.cost,
        "duration": a.duration,
        "keywords": a.keywords,
        "version": a.version,
        "update_time": time(a.update_time.as_ref()),
    })
}

/// A question typed at the counter.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    pub q: String,
    pub limit: Option<u32>,
}

/// `GET /api/v1/urp/answers?q=…`: the answers that match, best first.
pub async fn search(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<SearchQuery>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    signed.require(SEARCHERS)?;
    input::text("q", &query.q, 200)?;
    if query.q.trim().chars().count() < 2 {
        return Err(ServiceError::invalid_field(
            "q",
            "scrivere almeno 2 caratteri / type at least 2 characters",
        ));
    }
    let limit = query.limit.unwrap_or(10);
    if !(1..=20).contains(&limit) {
        return Err(ServiceError::invalid_field(
            "limit",
            "da 1 a 20 / must be 1 to 20",
        ));
    }
    let context = signed.context("knowledge.search")?;
    let matches = knowledge(&state)?
        .search_answers(context.request(SearchAnswersRequest {
            municipality_istat_code: signed.account().municipality.to_string(),
            query: query.q,
            limit,
        }))
        .await?
        .into_inner()
        .matches;
    let answers: Vec<_> = matches
        .iter()
        .filter_map(|m| {
            let mut view = answer_view(m.answer.as_ref()?);
            view["score"] = serde_json::json!(m.score);
            Some(view)
        })
        .collect();
    Ok(Json(serde_json::json!({ "answers": answers })))
}

/// An answer to publish.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerForm {
    pub service_code: String,
    pub title: String,
    pub body: String,
    #[serde(default)]
    pub what_to_bring: String,
    #[serde(default)]
    pub where_to_go: String,
    #[serde(default)]
    pub cost: String,
    #[serde(default)]
    pub duration: String,
    #[serde(default)]
    pub keywords: String,
}

/// `POST /api/v1/urp/answers`: publishes the answer of a catalogue service (a new version
/// replaces the last).
pub async fn publish(
    State(state): State<AppState>,
    signed: Signed,
    Body(form): Body<AnswerForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    signed.require(PUBLISHERS)?;
    service_code(&form.service_code)?;
    input::required_text("title", &form.title, 200)?;
    input::required_text("body", &form.body, 4000)?;
    input::text("what_to_bring", &form.what_to_bring, 1000)?;
    input::text("where_to_go", &form.where_to_go, 500)?;
    input::text("cost", &form.cost, 200)?;
    input::text("duration", &form.duration, 200)?;
    input::text("keywords", &form.keywords, 500)?;
    let context = signed.context("knowledge.publish")?;
    let municipality = signed.account().municipality.to_string();
    let published = knowledge(&state)?
        .publish_answer(context.request(PublishAnswerRequest {
            answer: Some(Answer {
                municipality_istat_code: municipality,
                service_code: form.service_code,
                title: form.title,
                body: form.body,
                what_to_bring: form.what_to_bring,
                where_to_go: form.where_to_go,
                cost: form.cost,
                duration: form.duration,
                keywords: form.keywords,
                ..Default::default()
            }),
        }))
        .await
        // URP names the answer's fields `answer.<field>`; the form names them bare.
        .map_err(|status| unprefixed(status.into(), "answer."))?
        .into_inner()
        .answer
        .unwrap_or_default();
    Ok(Json(
        serde_json::json!({ "answer": answer_view(&published) }),
    ))
}

/// A catalogue code as the document's `ServiceCode` states it:
/// `^[a-z]+(\.[a-z0-9_]+)+$`, at most 64 characters.
fn service_code(raw: &str) -> Result<(), ServiceError> {
    let mut parts = raw.split('.');
    let first = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()));
    let mut rest = parts.peekable();
    let more = rest.peek().is_some();
    let rest_ok = rest.all(|p| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    });
    if first && more && rest_ok && raw.len() <= 64 {
        Ok(())
    } else {
        Err(ServiceError::invalid_field(
            "service_code",
            "deve essere un codice del catalogo, ad es. registry.residence_certificate / must \
             be a catalogue code, e.g. registry.residence_certificate",
        ))
    }
}

fn unprefixed(error: ServiceError, prefix: &str) -> ServiceError {
    if error.kind() != ErrorKind::InvalidArgument || error.violations().is_empty() {
        return error;
    }
    ServiceError::invalid_fields(
        error
            .violations()
            .iter()
            .map(|v| sportello_kit::FieldViolation {
                field: v.field.trim_start_matches(prefix).to_owned(),
                description: v.description.clone(),
            })
            .collect(),
    )
}

fn kind_name(kind: i32) -> &'static str {
    match RateableKind::try_from(kind) {
        Ok(RateableKind::Appointment) => "appointment",
        _ => "counter",
    }
}

/// The page a rating code opens.
fn rating_path(code: &str) -> String {
    format!("/valuta/{code}")
}

/// Where the operator's page was loaded from, for the printed QR's absolute address;
/// anything but a plain host (and port) is left out, and the QR holds the path alone.
fn origin(state: &AppState, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        });
    match host {
        Some(host) => {
            let scheme = if state.settings.cookie_secure {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{host}")
        }
        None => String::new(),
    }
}

fn qr_svg(text: &str) -> Result<String, ServiceError> {
    let qr = qrcode::QrCode::new(text.as_bytes()).map_err(ServiceError::internal)?;
    Ok(qr
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(140, 140)
        .quiet_zone(true)
        .build())
}

/// `GET /api/v1/cases/{id}/rating`: the rating code of a case just completed at the
/// counter, with its QR, to print for the citizen. URP learns of the completion from
/// routing's events a moment later: until then (and for a case not served in person, or
/// rated already) `rating` is null, and the console asks again.
pub async fn case_rating(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    signed.require(Role::OPERATORS)?;
    let case_id = input::record_id("id", &id)?.to_string();
    let context = signed.context("feedback.print_code")?;
    let reply = feedback(&state)?
        .get_rateable_case(context.request(GetRateableCaseRequest {
            municipality_istat_code: signed.account().municipality.to_string(),
            code: String::new(),
            case_id,
        }))
        .await;
    let rateable = match reply {
        Ok(reply) => reply.into_inner().rateable_case.unwrap_or_default(),
        // Not (yet) known to URP: a state the console waits out, not an error.
        Err(status) if status.code() == tonic::Code::NotFound => {
            return Ok(Json(serde_json::json!({ "rating": null })));
        }
        Err(status) => return Err(status.into()),
    };
    let path = rating_path(&rateable.code);
    // The QR says it was scanned, so the rating counts as left through it.
    let url = format!("{}{path}?da=qr", origin(&state, &headers));
    Ok(Json(serde_json::json!({
        "rating": {
            "code": rateable.code,
            "path": path,
            "qr_svg": qr_svg(&url)?,
            "rate_by": time(rateable.rate_by_time.as_ref()),
            "service_code": rateable.service_code,
            "outcome_code": rateable.outcome_code,
            "handling_seconds": rateable.handling_seconds,
            "waited_seconds": rateable.waited_seconds,
        }
    })))
}

/// A rating code as printed: five characters, an optional dash, five more, of Crockford's
/// base32 in either case (O, I and L are read as 0, 1 and 1). The document's pattern says
/// the same.
fn rating_code(raw: &str) -> Result<(), ServiceError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() && !matches!(c, 'u' | 'U');
    let chars: Vec<char> = raw.chars().collect();
    let ok = match chars.len() {
        10 => chars.iter().all(|c| allowed(*c)),
        11 => {
            chars[5] == '-'
                && chars[..5].iter().all(|c| allowed(*c))
                && chars[6..].iter().all(|c| allowed(*c))
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(ServiceError::invalid_field(
            "code",
            "deve essere il codice di valutazione stampato, come K7QP3-MZXR2 / must be the \
             printed rating code, like K7QP3-MZXR2",
        ))
    }
}

async fn rateable_view(
    state: &AppState,
    context: &sportello_kit::CallContext,
    r: &RateableCase,
) -> Result<serde_json::Value, ServiceError> {
    let service = super::service_type(state, context, &r.service_code).await?;
    let municipality = state.settings.public_municipality;
    let sites = sites_of(state, context, municipality).await?;
    let site = sites.iter().find(|s| s.id == r.site_id);
    Ok(serde_json::json!({
        "code": r.code,
        "service_code": r.service_code,
        "service_name": service.map_or_else(|| r.service_code.clone(), |s| s.name),
        "site_name": site.map(|s| s.name.clone()),
        "tier": r.tier,
        "kind": kind_name(r.kind),
        "complete_time": time(r.complete_time.as_ref()),
        "rate_by": time(r.rate_by_time.as_ref()),
        "rated": r.rated,
    }))
}

/// `GET /api/v1/ratings/{code}`: what a rating code rates (the service, the site, when),
/// whether it was rated and until when it may be. Public: the code is the key.
pub async fn rating(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    rating_code(&code)?;
    let context = state.public_context("feedback.read")?;
    let rateable = feedback(&state)?
        .get_rateable_case(context.request(GetRateableCaseRequest {
            municipality_istat_code: state.settings.public_municipality.to_string(),
            code,
            case_id: String::new(),
        }))
        .await?
        .into_inner()
        .rateable_case
        .unwrap_or_default();
    Ok(Json(serde_json::json!({
        "rating": rateable_view(&state, &context, &rateable).await?,
    })))
}

/// A citizen's rating.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateForm {
    #[serde(deserialize_with = "input::integer")]
    pub rating: u32,
    #[serde(default)]
    pub comment: String,
    #[serde(default)]
    pub rated_via: String,
    #[serde(default)]
    pub idempotency_key: String,
}

/// `POST /api/v1/ratings/{code}`: rates the case of `code`, once, within 30 days of its
/// completion. Public: the code is the key.
pub async fn rate(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Body(form): Body<RateForm>,
) -> Result<(StatusCode, Json<serde_json::Value>), ServiceError> {
    rating_code(&code)?;
    if !(1..=5).contains(&form.rating) {
        return Err(ServiceError::invalid_field(
            "rating",
            "da 1 a 5 / must be 1 to 5",
        ));
    }
    input::text("comment", &form.comment, 2000)?;
    input::optional_uuid("idempotency_key", &form.idempotency_key)?;
    let rated_via = match form.rated_via.as_str() {
        "" | "web" => RatingChannel::Web,
        "qr" => RatingChannel::Qr,
        "kiosk" => RatingChannel::Kiosk,
        _ => {
            return Err(ServiceError::invalid_field(
                "rated_via",
                "deve essere web, qr o kiosk / must be web, qr or kiosk",
            ));
        }
    };
    let context = state.public_context("feedback.rate")?;
    let saved = feedback(&state)?
        .submit_feedback(context.request(SubmitFeedbackRequest {
            municipality_istat_code: state.settings.public_municipality.to_string(),
            service_code: String::new(),
            channel: 0,
            rating: form.rating,
            comment: form.comment,
            idempotency_key: form.idempotency_key,
            case_code: code,
            rated_via: rated_via as i32,
        }))
        .await
        .map_err(|status| {
            // URP names the code `case_code`; here it is the path's `code`.
            let error: ServiceError = status.into();
            if error.violations().iter().any(|v| v.field == "case_code") {
                ServiceError::invalid_field("code", error.message().to_owned())
            } else {
                error
            }
        })?
        .into_inner()
        .feedback
        .unwrap_or_default();
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "feedback": {
                "id": saved.id,
                "service_code": saved.service_code,
                "rating": saved.rating,
                "create_time": time(saved.create_time.as_ref()),
            }
        })),
    ))
}

/// The period of the report.
#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// `GET /api/v1/back-office/satisfaction?from=…&to=…`: per service, the cases completed
/// in person, their median wait and handling time and their outcomes, next to the
/// ratings left; the last 30 days by default. Never per operator.
pub async fn report(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<ReportQuery>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    signed.require(REPORT_READERS)?;
    // Absent means the default; present, it must be a day (an empty one is not).
    let day = |field: &str, raw: Option<&str>| -> Result<Option<jiff::civil::Date>, ServiceError> {
        let Some(raw) = raw else {
            return Ok(None);
        };
        if raw.len() != 10 {
            return Err(ServiceError::invalid_field(
                field,
                "must be a date, YYYY-MM-DD",
            ));
        }
        raw.parse()
            .map(Some)
            .map_err(|_| ServiceError::invalid_field(field, "must be a date, YYYY-MM-DD"))
    };
    let rome = TimeZone::get("Europe/Rome").map_err(ServiceError::internal)?;
    let today = state.db.clock().now().to_zoned(rome).date();
    let to = day("to", query.to.as_deref())?.unwrap_or(today);
    let from = match day("from", query.from.as_deref())? {
        Some(from) => from,
        None => to.checked_sub(29.days()).map_err(ServiceError::internal)?,
    };
    if to < from {
        return Err(ServiceError::invalid_field(
            "to",
            "non può precedere from / must not be before from",
        ));
    }
    if from
        .until(to)
        .map_or(true, |s| s.get_days() > MAX_REPORT_DAYS)
    {
        return Err(ServiceError::invalid_field(
            "to",
            format!(
                "al massimo {MAX_REPORT_DAYS} giorni dopo from / at most {MAX_REPORT_DAYS} days after from"
            ),
        ));
    }
    let context = signed.context("feedback.report")?;
    let services = feedback(&state)?
        .get_satisfaction_report(context.request(GetSatisfactionReportRequest {
            municipality_istat_code: signed.account().municipality.to_string(),
            from_date: from.to_string(),
            to_date: to.to_string(),
            site_id: String::new(),
        }))
        .await?
        .into_inner()
        .services;
    let services: Vec<_> = services
        .iter()
        .map(|s| {
            serde_json::json!({
                "service_code": s.service_code,
                "tier": s.tier,
                "cases_completed": s.cases_completed,
                "median_wait_seconds": s.median_wait_seconds,
                "median_handling_seconds": s.median_handling_seconds,
                "outcomes": s.outcomes.iter().map(|o| serde_json::json!({
                    "outcome_code": o.outcome_code,
                    "count": o.count,
                })).collect::<Vec<_>>(),
                "ratings": s.ratings,
                "average_rating": (s.ratings > 0).then_some(s.average_rating),
                "rating_counts": s.rating_counts,
                "case_ratings": s.case_ratings,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({
        "from": from.to_string(),
        "to": to.to_string(),
        "services": services,
    })))
}
