//! Reading service requests: the list with the specification's filters, one request by
//! its `service_request_id` (the report's code, `2026-000123`), and a token (the
//! report's id) turned into its code. URP's public view only: no requester, the
//! description masked, complaints never listed.

use axum::{
    Json,
    extract::{Path, Query, State, rejection::QueryRejection},
    http::StatusCode,
};
use jiff::{SignedDuration, Timestamp, tz::TimeZone};
use serde_json::Value;
use sportello_proto::{
    common::v1::PageRequest,
    urp::v1::{GetReportRequest, ListReportsRequest, Report, ReportStatus},
};

use super::{error::Open311Error, json_resource, jurisdiction, reports, services::params, views};
use crate::app::AppState;

/// The specification's ceiling: "first 1000 requests returned".
const MAX_RESULTS: usize = 1000;
/// The widest date range one query may span, and the default one.
const MAX_RANGE: SignedDuration = SignedDuration::from_hours(24 * 90);
/// The most codes one query names (URP's limit).
const MAX_CODES: usize = 100;
/// The most service codes one query names.
const MAX_SERVICES: usize = 20;
/// URP's largest page.
const PAGE: u32 = 200;

/// A W3C date-time (`2010-01-01T00:00:00Z`, with an offset), or a day (midnight in
/// Europe/Rome), as the W3C note allows.
fn instant(parameter: &str, raw: &str) -> Result<Timestamp, Open311Error> {
    if let Ok(t) = raw.parse::<Timestamp>() {
        return Ok(t);
    }
    raw.parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| {
            let rome = TimeZone::get("Europe/Rome").ok()?;
            d.to_zoned(rome).ok()
        })
        .map(|z| z.timestamp())
        .ok_or_else(|| {
            Open311Error::bad(
                parameter,
                &format!(
                    "{raw:?} non è una data W3C, ad es. 2026-11-06T00:00:00Z / is not a W3C \
                     date-time, e.g. 2026-11-06T00:00:00Z"
                ),
            )
        })
}

fn protobuf_time(t: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.as_second(),
        nanos: t.subsec_nanosecond(),
    }
}

/// open → received and in progress; closed → closed.
fn statuses(raw: &[String]) -> Result<Vec<i32>, Open311Error> {
    let mut out = Vec::new();
    for s in raw {
        let wanted: &[ReportStatus] = match s.as_str() {
            "open" => &[ReportStatus::Received, ReportStatus::InProgress],
            "closed" => &[ReportStatus::Closed],
            other => {
                return Err(Open311Error::bad(
                    "status",
                    &format!("{other:?} non ammesso: open o closed / not allowed: open or closed"),
                ));
            }
        };
        for w in wanted {
            if !out.contains(&(*w as i32)) {
                out.push(*w as i32);
            }
        }
    }
    Ok(out)
}

/// Every page of `request` up to the specification's ceiling.
async fn all_pages(
    state: &AppState,
    context: &sportello_kit::CallContext,
    mut request: ListReportsRequest,
) -> Result<Vec<Report>, Open311Error> {
    let mut client = reports(state)?;
    let mut out = Vec::new();
    loop {
        let reply = client
            .list_reports(context.request(request.clone()))
            .await?
            .into_inner();
        out.extend(reply.reports);
        let next = reply.page.map(|p| p.next_page_token).unwrap_or_default();
        if next.is_empty() || out.len() >= MAX_RESULTS {
            break;
        }
        request.page = Some(PageRequest {
            page_size: PAGE,
            page_token: next,
        });
    }
    Ok(out)
}

/// `GET /open311/v2/requests.json`.
#[tracing::instrument(skip_all)]
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<Value>, Open311Error> {
    let params = params(query)?;
    let municipality = jurisdiction(&state, &params)?;
    let context = state.public_context("open311.requests")?;
    let base = ListReportsRequest {
        municipality_istat_code: municipality.to_string(),
        page: Some(PageRequest {
            page_size: PAGE,
            page_token: String::new(),
        }),
        ..Default::default()
    };
    // "service_request_id … overrides all other arguments."
    let codes = params.list("service_request_id");
    let mut found = if !codes.is_empty() {
        if codes.len() > MAX_CODES {
            return Err(Open311Error::bad(
                "service_request_id",
                &format!("al massimo {MAX_CODES} codici / at most {MAX_CODES} codes"),
            ));
        }
        all_pages(
            &state,
            &context,
            ListReportsRequest {
                codes,
                ..base.clone()
            },
        )
        .await?
    } else {
        let statuses = statuses(&params.list("status"))?;
        let now = state.db.clock().now();
        let end = match params.get("end_date") {
            Some(raw) => instant("end_date", raw)?,
            None => now,
        };
        let start = match params.get("start_date") {
            Some(raw) => instant("start_date", raw)?,
            None => end.checked_sub(MAX_RANGE).unwrap_or(end),
        };
        if start > end {
            return Err(Open311Error::bad(
                "start_date",
                "viene dopo end_date / comes after end_date",
            ));
        }
        if end.duration_since(start) > MAX_RANGE {
            return Err(Open311Error::bad(
                "start_date, end_date",
                "l'intervallo non può superare 90 giorni / the range may not span more than 90 \
                 days",
            ));
        }
        let services = params.list("service_code");
        if services.len() > MAX_SERVICES {
            return Err(Open311Error::bad(
                "service_code",
                &format!("al massimo {MAX_SERVICES} codici / at most {MAX_SERVICES} service codes"),
            ));
        }
        let timed = ListReportsRequest {
            statuses,
            received_after: Some(protobuf_time(start)),
            // end_date is the last instant included; URP's bound is exclusive.
            received_before: Some(protobuf_time(
                end.checked_add(SignedDuration::from_micros(1))
                    .unwrap_or(end),
            )),
            ..base.clone()
        };
        let mut found = Vec::new();
        if services.is_empty() {
            found = all_pages(&state, &context, timed).await?;
        } else {
            // URP filters by one category at a time.
            for code in services {
                let request = ListReportsRequest {
                    category_code: code,
                    ..timed.clone()
                };
                found.extend(all_pages(&state, &context, request).await?);
            }
        }
        found
    };
    // Newest first, across categories too.
    found.sort_by(|a, b| {
        let key = |r: &Report| r.receive_time.map(|t| (t.seconds, t.nanos));
        key(b).cmp(&key(a)).then_with(|| b.code.cmp(&a.code))
    });
    found.truncate(MAX_RESULTS);
    Ok(Json(Value::Array(
        found.iter().map(views::request).collect(),
    )))
}

async fn get_report(
    state: &AppState,
    params: &super::Params,
    code_or_id: &str,
    not_found: impl FnOnce() -> Open311Error,
) -> Result<Report, Open311Error> {
    let municipality = jurisdiction(state, params)?;
    let context = state.public_context("open311.requests")?;
    let reply = reports(state)?
        .get_report(context.request(GetReportRequest {
            municipality_istat_code: municipality.to_string(),
            code_or_id: code_or_id.to_owned(),
        }))
        .await;
    match reply {
        Ok(reply) => reply.into_inner().report.ok_or_else(not_found),
        // A malformed code names no report: for a resource in the path that is 404.
        Err(status)
            if matches!(
                status.code(),
                tonic::Code::NotFound | tonic::Code::InvalidArgument
            ) =>
        {
            let mut error = Open311Error::from(status);
            if error.status() == StatusCode::BAD_REQUEST {
                error = not_found();
            }
            Err(error)
        }
        Err(status) => Err(status.into()),
    }
}

/// `GET /open311/v2/requests/{service_request_id}.json` (the report's code; its id is
/// accepted too).
#[tracing::instrument(skip_all)]
pub async fn one(
    State(state): State<AppState>,
    Path(file): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<Value>, Open311Error> {
    let id = json_resource(&file)?;
    let params = params(query)?;
    let report = get_report(&state, &params, id, || {
        Open311Error::not_found(format!(
            "service_request_id: {id} non trovata, ad es. 2026-000123 / {id} not found, e.g. \
             2026-000123"
        ))
    })
    .await?;
    Ok(Json(Value::Array(vec![views::request(&report)])))
}

/// `GET /open311/v2/tokens/{token}.json`.
#[tracing::instrument(skip_all)]
pub async fn token(
    State(state): State<AppState>,
    Path(file): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<Value>, Open311Error> {
    let token = json_resource(&file)?;
    let params = params(query)?;
    let not_found =
        || Open311Error::not_found(format!("token: {token} non trovato / {token} not found"));
    // A token is a report's id, never its code.
    if uuid::Uuid::parse_str(token).is_err() {
        return Err(not_found());
    }
    let report = get_report(&state, &params, token, not_found).await?;
    Ok(Json(views::token(&report)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_statuses_parse_as_the_spec_writes_them() {
        assert_eq!(
            instant("start_date", "2010-05-24T00:00:00Z")
                .unwrap()
                .to_string(),
            "2010-05-24T00:00:00Z"
        );
        assert_eq!(
            instant("start_date", "2010-04-14T06:37:38-08:00")
                .unwrap()
                .to_string(),
            "2010-04-14T14:37:38Z"
        );
        assert_eq!(
            instant("end_date", "2026-11-06").unwrap().to_string(),
            "2026-11-05T23:00:00Z"
        );
        assert!(instant("end_date", "ieri").is_err());
        assert_eq!(
            statuses(&["open".into(), "closed".into()]).unwrap().len(),
            3
        );
        assert!(statuses(&["pending".into()]).is_err());
    }
}
