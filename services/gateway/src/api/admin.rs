//! Administration (admin role): operators with tiers, skills and departments; sites and
//! counters; local accounts. Everything within the administrator's municipality.

use crate::api::body::{Body, Path};
use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use sportello_kit::ServiceError;
use sportello_proto::{
    common::v1::Address,
    routing::v1::{
        CreateSiteRequest, ListOperatorsRequest, Operator, Skill, UpsertOperatorRequest,
    },
};

use super::{
    input, sites_of,
    views::{OperatorView, SkillView},
};
use crate::{
    app::AppState,
    auth::{Role, Signed, accounts},
};

const ADMIN: &[Role] = &[Role::Admin];

/// `GET /api/v1/admin/operators`.
pub async fn operators(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let account = signed.require(ADMIN)?;
    let context = signed.context("admin.operators")?;
    let sites = sites_of(&state, &context, account.municipality).await?;
    let municipality = account.municipality.to_string();
    let operators = state
        .operators()?
        .list_operators(context.request(ListOperatorsRequest {
            municipality_istat_code: municipality,
            site_id: String::new(),
        }))
        .await?
        .into_inner()
        .operators;
    let views: Vec<OperatorView> = operators
        .iter()
        .map(|o| {
            let code = sites
                .iter()
                .find(|s| s.id == o.site_id)
                .map(|s| s.code.clone())
                .unwrap_or_default();
            OperatorView::new(o, code)
        })
        .collect();
    Ok(Json(serde_json::json!({ "operators": views })))
}

/// An operator's profile.
#[derive(Debug, Deserialize)]
pub struct OperatorForm {
    pub display_name: String,
    #[serde(deserialize_with = "input::integer")]
    pub tier: i32,
    #[serde(default)]
    pub department: String,
    #[serde(default)]
    pub skills: Vec<SkillView>,
}

/// `PUT /api/v1/admin/operators/{id}`: creates or updates an operator's profile.
pub async fn put_operator(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Body(form): Body<OperatorForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let account = signed.require(ADMIN)?;
    input::required_text("display_name", &form.display_name, 120)?;
    let context = signed.context("admin.operators")?;
    let operator = state
        .operators()?
        .upsert_operator(
            context.request(UpsertOperatorRequest {
                operator: Some(Operator {
                    id,
                    municipality_istat_code: account.municipality.to_string(),
                    display_name: form.display_name,
                    tier: form.tier,
                    department: form.department,
                    skills: form
                        .skills
                        .into_iter()
                        .map(|s| Skill {
                            skill: s.skill,
                            proficiency: s.proficiency,
                        })
                        .collect(),
                    ..Operator::default()
                }),
            }),
        )
        .await?
        .into_inner()
        .operator
        .unwrap_or_default();
    Ok(Json(
        serde_json::json!({ "operator": OperatorView::new(&operator, String::new()) }),
    ))
}

/// `GET /api/v1/admin/sites`.
pub async fn sites(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let account = signed.require(ADMIN)?;
    let context = signed.context("admin.sites")?;
    let sites = sites_of(&state, &context, account.municipality).await?;
    let sites: Vec<_> = sites
        .into_iter()
        .map(|s| {
            let address = s.address.unwrap_or_default();
            serde_json::json!({
                "id": s.id, "code": s.code, "name": s.name,
                "street": address.street_name, "house_number": address.house_number,
                "postal_code": address.postal_code, "counters": s.counter_numbers,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "sites": sites })))
}

/// A new site.
#[derive(Debug, Deserialize)]
pub struct SiteForm {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub street: String,
    #[serde(default)]
    pub house_number: String,
    #[serde(default)]
    pub postal_code: String,
    #[serde(deserialize_with = "input::integer")]
    pub counter_count: u32,
}

impl SiteForm {
    /// The checks the services would forgive: they trim what they are given.
    pub fn check(&self) -> Result<(), ServiceError> {
        input::code(
            "code",
            &self.code,
            32,
            input::site_code_char,
            "must be 1-32 lowercase letters, digits or '-', e.g. palazzo-civico",
        )?;
        input::required_text("name", &self.name, 120)?;
        input::required_text("street", &self.street, 120)?;
        input::required_text("house_number", &self.house_number, 12)?;
        input::code(
            "postal_code",
            &self.postal_code,
            5,
            |c| c.is_ascii_digit(),
            "must be five digits",
        )?;
        if self.postal_code.len() != 5 {
            return Err(ServiceError::invalid_field(
                "postal_code",
                "must be five digits",
            ));
        }
        Ok(())
    }
}

/// `POST /api/v1/admin/sites`.
pub async fn create_site(
    State(state): State<AppState>,
    signed: Signed,
    Body(form): Body<SiteForm>,
) -> Result<(StatusCode, Json<serde_json::Value>), ServiceError> {
    let account = signed.require(ADMIN)?;
    form.check()?;
    let context = signed.context("admin.sites")?;
    let site = state
        .sites()?
        .create_site(context.request(CreateSiteRequest {
            municipality_istat_code: account.municipality.to_string(),
            code: form.code,
            name: form.name,
            address: Some(Address {
                street_name: form.street,
                house_number: form.house_number,
                postal_code: form.postal_code,
                municipality_istat_code: account.municipality.to_string(),
                ..Address::default()
            }),
            counter_count: form.counter_count,
            idempotency_key: String::new(),
            settings: None,
        }))
        .await?
        .into_inner()
        .site
        .unwrap_or_default();
    Ok((
        StatusCode::CREATED,
        Json(
            serde_json::json!({ "site": { "id": site.id, "code": site.code, "name": site.name, "counters": site.counter_numbers } }),
        ),
    ))
}

/// `GET /api/v1/admin/accounts`.
pub async fn accounts(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let account = signed.require(ADMIN)?;
    let accounts = accounts::list(&state.db, account.municipality).await?;
    Ok(Json(serde_json::json!({ "accounts": accounts })))
}

/// What the account store would forgive (it trims the name and the department).
fn check_account(form: &accounts::AccountInput) -> Result<(), ServiceError> {
    input::required_text("display_name", &form.display_name, 120)?;
    match form.department.as_deref() {
        None | Some("") => Ok(()),
        Some(department) => input::code(
            "department",
            department,
            32,
            |c| c.is_ascii_lowercase() || c == '_',
            "lowercase letters and '_', at most 32",
        ),
    }
}

/// `POST /api/v1/admin/accounts`.
pub async fn create_account(
    State(state): State<AppState>,
    signed: Signed,
    Body(form): Body<accounts::AccountInput>,
) -> Result<(StatusCode, Json<serde_json::Value>), ServiceError> {
    let account = signed.require(ADMIN)?;
    check_account(&form)?;
    let actor = format!("operator:{}", account.id);
    let created = accounts::create(&state.db, account.municipality, form, &actor).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "account": created })),
    ))
}

/// `PATCH /api/v1/admin/accounts/{id}`.
pub async fn update_account(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Body(form): Body<accounts::AccountInput>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let account = signed.require(ADMIN)?;
    input::code(
        "id",
        &id,
        64,
        input::account_id_char,
        "1-64 lowercase letters, digits, '.', '_' or '-'",
    )?;
    check_account(&form)?;
    let actor = format!("operator:{}", account.id);
    // Changing one's own password keeps this session; a reset of another's ends all.
    let keep = (account.id == id).then_some(signed.0.id);
    let updated =
        accounts::update(&state.db, account.municipality, &id, form, &actor, keep).await?;
    Ok(Json(serde_json::json!({ "account": updated })))
}
