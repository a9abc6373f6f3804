//! `POST /open311/v2/requests.json`: a report filed by a client application with its
//! `api_key`, form-encoded as the specification sends it. The key is checked first (403
//! and nothing asked of URP without a live one), then the parameters are parsed into
//! URP's `FileReport`: URP checks the category, the place it needs and the text, and
//! refuses by field before it registers or stores anything.
//!
//! Names, e-mail and phone go to URP only: never into a log line, a span or an error.

use axum::{
    Json,
    extract::{Form, State, rejection::FormRejection},
    http::StatusCode,
};
use serde_json::Value;
use sportello_proto::{
    common::v1::Channel,
    urp::v1::{FileReportRequest, Location, Requester},
};

use super::{Params, error::Open311Error, jurisdiction, keys, reports, undecodable, views};
use crate::{app::AppState, auth};

fn coordinate(params: &Params, name: &str) -> Result<Option<f64>, Open311Error> {
    params
        .get(name)
        .map(|raw| {
            raw.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    Open311Error::bad(
                        name,
                        "deve essere un numero in gradi WGS84, ad es. 44.10253 / must be a number \
                     in WGS84 degrees, e.g. 44.10253",
                    )
                })
        })
        .transpose()
}

/// Where: `lat` and `long`, or `address_string`. `address_id` names an entry of a
/// master address repository the municipality does not publish: alone it cannot say
/// where, beside the others it is not needed.
fn location(params: &Params) -> Result<Option<Location>, Open311Error> {
    let latitude = coordinate(params, "lat")?;
    let longitude = coordinate(params, "long")?;
    let address = params.get("address_string").unwrap_or_default().to_owned();
    if latitude.is_none() && longitude.is_none() && address.is_empty() {
        if params.get("address_id").is_some() {
            return Err(Open311Error::bad(
                "address_id",
                "il Comune non pubblica un archivio di indirizzi: indicare lat e long oppure \
                 address_string / the municipality publishes no address repository: send lat \
                 and long or address_string",
            ));
        }
        return Ok(None);
    }
    Ok(Some(Location {
        latitude,
        longitude,
        address,
    }))
}

/// `POST /open311/v2/requests.json`.
#[tracing::instrument(skip_all, fields(key_id = tracing::field::Empty))]
pub async fn file(
    State(state): State<AppState>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<(StatusCode, Json<Value>), Open311Error> {
    let Form(pairs) = form.map_err(|e| {
        undecodable(
            "il corpo (application/x-www-form-urlencoded) / the body",
            e.body_text(),
        )
    })?;
    let params = Params::new(pairs);
    let municipality = jurisdiction(&state, &params)?;
    let Some(api_key) = params.get("api_key") else {
        return Err(Open311Error::forbidden(
            "api_key mancante: serve una chiave rilasciata dal Comune per inviare segnalazioni \
             / missing api_key: filing a report needs a key issued by the municipality",
        ));
    };
    let Some(key) = keys::find(&state.db, municipality, api_key).await? else {
        return Err(Open311Error::forbidden(
            "api_key non valida o revocata / invalid or revoked api_key",
        ));
    };
    tracing::Span::current().record("key_id", tracing::field::display(key.id));
    let Some(service_code) = params.get("service_code") else {
        return Err(Open311Error::bad(
            "service_code",
            "obbligatorio: uno dei codici di /open311/v2/services.json / required: one of the \
             codes of /open311/v2/services.json",
        ));
    };
    let location = location(&params)?;
    let text = |name: &str| params.get(name).unwrap_or_default().to_owned();
    // Attributes (`attribute[...]`) are not read: no category defines any, and clients
    // such as FixMyStreet send their own, which must not refuse the report.
    let request = FileReportRequest {
        municipality_istat_code: municipality.to_string(),
        category_code: service_code.to_owned(),
        description: text("description"),
        location,
        attachments: Vec::new(),
        media_url: text("media_url"),
        requester: Some(Requester {
            fiscal_code: String::new(),
            first_name: text("first_name"),
            last_name: text("last_name"),
            email: text("email"),
            phone: text("phone"),
        }),
        channel: Channel::Web as i32,
        source: key.application.clone(),
        idempotency_key: String::new(),
    };
    // The key's id is the actor: URP records which application filed it, nobody's name.
    let context = auth::context_for(&format!("open311:{}", key.id), municipality, "urp.report")?;
    let report = reports(&state)?
        .file_report(context.request(request))
        .await?
        .into_inner()
        .report
        .ok_or_else(|| {
            Open311Error::from(sportello_kit::ServiceError::internal(
                "FileReport answered no report",
            ))
        })?;
    tracing::info!(report_code = %report.code, "open311 report filed");
    // 200, not 201: the specification shows none, and clients written against the
    // servers in the wild check for 200.
    Ok((StatusCode::OK, Json(views::filed(&report))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::new(
            pairs
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn a_place_is_a_point_or_an_address_and_never_an_address_id_alone() {
        let point = location(&params(&[("lat", "44.10253"), ("long", "9.82415")]))
            .unwrap()
            .unwrap();
        assert_eq!(point.latitude, Some(44.10253));
        assert_eq!(location(&params(&[("lat", "")])).unwrap(), None);
        let error = location(&params(&[("lat", "nord")])).unwrap_err();
        assert!(error.errors()[0].description.starts_with("lat: "));
        let error = location(&params(&[("address_id", "545483")])).unwrap_err();
        assert!(error.errors()[0].description.starts_with("address_id: "));
        let address = location(&params(&[
            ("address_id", "545483"),
            ("address_string", "Via del Prione 12"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(address.address, "Via del Prione 12");
    }
}
