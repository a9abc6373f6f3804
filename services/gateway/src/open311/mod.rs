//! Open311 GeoReport v2 (<https://wiki.open311.org/GeoReport_v2>) over URP's reports, so
//! civic-reporting apps and FixMyStreet-style front ends can file and follow reports:
//!
//! | path | what |
//! | --- | --- |
//! | `GET /open311/v2/services.json` | URP's active categories as services |
//! | `GET /open311/v2/services/{service_code}.json` | a service's definition (no attributes) |
//! | `GET /open311/v2/requests.json` | public reports (complaints never), filtered as the spec says |
//! | `POST /open311/v2/requests.json` | files a report (form-encoded, `api_key` required) |
//! | `GET /open311/v2/requests/{service_request_id}.json` | one report |
//! | `GET /open311/v2/tokens/{token}.json` | the code a token (the report's id) stands for |
//!
//! `jurisdiction_id` is the ISTAT code of the municipality the gateway serves publicly
//! (`PUBLIC_MUNICIPALITY`); it may be left out, any other value is 404. JSON only: a
//! `.xml` resource answers 400 in Open311's XML error format. Every error is Open311's
//! array ([`error`]). URP decides every rule (categories, the place a category needs,
//! the description's length); the gateway checks the key, parses the parameters and
//! maps shapes ([`views`]). Names, e-mail and phone go to URP and nowhere else.
//!
//! Layout: [`services`], [`requests`] (reading), [`filing`] (POST), [`keys`] (API keys
//! and their admin endpoints), [`views`], [`error`].

pub mod error;
pub mod filing;
pub mod keys;
pub mod requests;
pub mod services;
pub mod views;

use axum::{
    Router,
    http::StatusCode,
    routing::{MethodRouter, any, get},
};
use sportello_kit::{ErrorKind, MunicipalityCode, PeerChannel, ServiceError};
use sportello_proto::urp::v1::report_service_client::ReportServiceClient;

use self::error::Open311Error;
use crate::app::AppState;

/// The Open311 routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/open311/v2/services.json", only(get(services::list)))
        .route(
            "/open311/v2/services/{file}",
            only(get(services::definition)),
        )
        .route(
            "/open311/v2/requests.json",
            only(get(requests::list).post(filing::file)),
        )
        .route("/open311/v2/requests/{file}", only(get(requests::one)))
        .route("/open311/v2/tokens/{file}", only(get(requests::token)))
        .route("/open311/v2/services.xml", any(xml_refused))
        .route("/open311/v2/requests.xml", any(xml_refused))
        .route("/open311/{*rest}", any(not_found))
}

/// A method the resource does not take answers in Open311's format too.
fn only(router: MethodRouter<AppState>) -> MethodRouter<AppState> {
    router.fallback(|| async {
        Open311Error::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "metodo non ammesso per questa risorsa / this resource does not take this method",
        )
    })
}

async fn not_found() -> Open311Error {
    Open311Error::not_found(
        "risorsa Open311 inesistente: vedere /open311/v2/services.json / no such Open311 \
         resource: see /open311/v2/services.json",
    )
}

async fn xml_refused() -> Open311Error {
    xml_error()
}

fn xml_error() -> Open311Error {
    Open311Error::bad(
        "format",
        "questo servizio risponde solo in JSON: usare .json al posto di .xml / this endpoint \
         answers JSON only: use .json instead of .xml",
    )
    .as_xml()
}

/// The `{id}` of `{id}.json`; `.xml` is refused in XML, anything else is 404.
pub fn json_resource(file: &str) -> Result<&str, Open311Error> {
    if let Some(stem) = file.strip_suffix(".json") {
        return Ok(stem);
    }
    if file.ends_with(".xml") {
        return Err(xml_error());
    }
    Err(Open311Error::not_found(format!(
        "{file}: formato mancante, ad es. {file}.json / missing format, e.g. {file}.json"
    )))
}

/// Query or form parameters in the order sent. Optional arguments that are empty count
/// as not given, as the specification asks.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// From the decoded pairs.
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }

    /// The first non-empty value of `name`, trimmed.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.trim())
            .find(|v| !v.is_empty())
    }

    /// The comma-separated values of `name`, each trimmed, empty ones dropped.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// The municipality asked for: the public one, whether `jurisdiction_id` names it or
/// is left out (one jurisdiction per endpoint, so the specification makes it optional).
pub fn jurisdiction(state: &AppState, params: &Params) -> Result<MunicipalityCode, Open311Error> {
    let served = state.settings.public_municipality;
    match params.get("jurisdiction_id") {
        None => Ok(served),
        Some(asked) if asked == served.as_str() => Ok(served),
        Some(asked) => Err(Open311Error::not_found(format!(
            "jurisdiction_id: {asked} sconosciuto, qui si serve solo il Comune {served} (codice \
             ISTAT) / unknown {asked}, this endpoint serves only municipality {served} (ISTAT \
             code)"
        ))),
    }
}

/// URP's reports.
pub fn reports(state: &AppState) -> Result<ReportServiceClient<PeerChannel>, Open311Error> {
    let channel = state
        .peers
        .channel("urp")
        .ok_or_else(|| ServiceError::new(ErrorKind::Unavailable, "no urp service configured"))?;
    Ok(ReportServiceClient::new(channel))
}

/// A decoding failure of the query string or the form: 400, saying what was expected.
pub fn undecodable(what: &str, error: impl std::fmt::Display) -> Open311Error {
    Open311Error::new(
        StatusCode::BAD_REQUEST,
        format!("{what} non leggibile / {what} cannot be read: {error}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_need_json_and_params_treat_empty_as_absent() {
        assert_eq!(json_resource("2026-000001.json").unwrap(), "2026-000001");
        assert_eq!(
            json_resource("strade.buca.xml").unwrap_err().status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            json_resource("strade.buca").unwrap_err().status(),
            StatusCode::NOT_FOUND
        );
        let params = Params::new(vec![
            ("status".into(), "open, closed".into()),
            ("service_code".into(), " ".into()),
            ("status".into(), "open".into()),
        ]);
        assert_eq!(params.list("status"), ["open", "closed", "open"]);
        assert_eq!(params.get("service_code"), None);
    }
}
