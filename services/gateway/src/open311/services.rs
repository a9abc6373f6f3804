//! `GET services.json` and `GET services/{service_code}.json`: URP's active categories.

use axum::{
    Json,
    extract::{Path, Query, State, rejection::QueryRejection},
};
use serde_json::Value;
use sportello_proto::urp::v1::{GetCategoryRequest, ListCategoriesRequest};

use super::{
    Params, error::Open311Error, json_resource, jurisdiction, reports, undecodable, views,
};
use crate::app::AppState;

/// The parameters of a GET, or the Open311 error saying why they cannot be read.
pub fn params(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Params, Open311Error> {
    query
        .map(|Query(pairs)| Params::new(pairs))
        .map_err(|e| undecodable("query string", e.body_text()))
}

/// `GET /open311/v2/services.json`.
#[tracing::instrument(skip_all)]
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<Value>, Open311Error> {
    let params = params(query)?;
    let municipality = jurisdiction(&state, &params)?;
    let context = state.public_context("open311.services")?;
    let categories = reports(&state)?
        .list_categories(context.request(ListCategoriesRequest {
            municipality_istat_code: municipality.to_string(),
        }))
        .await?
        .into_inner()
        .categories;
    Ok(Json(Value::Array(
        categories.iter().map(views::service).collect(),
    )))
}

/// `GET /open311/v2/services/{service_code}.json`.
#[tracing::instrument(skip_all)]
pub async fn definition(
    State(state): State<AppState>,
    Path(file): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<Value>, Open311Error> {
    let code = json_resource(&file)?;
    let params = params(query)?;
    let municipality = jurisdiction(&state, &params)?;
    let context = state.public_context("open311.services")?;
    let category = reports(&state)?
        .get_category(context.request(GetCategoryRequest {
            municipality_istat_code: municipality.to_string(),
            code: code.to_owned(),
        }))
        .await?
        .into_inner()
        .category
        .ok_or_else(|| Open311Error::not_found(format!("service_code: {code}")))?;
    Ok(Json(views::definition(&category)))
}
