//! The business desk (*sportello imprese*) at the gateway: the SUAP's procedures as
//! guidance, the business the counter files for (found by VAT number, or registered),
//! and the filing itself with its checklist's documents and, for public land, the
//! place — whose reply is the printed receipt (DPR 160/2010 art. 5 c. 4). The SUAP owns
//! every rule; the gateway parses what the document states and turns the SUAP's answer
//! into JSON. Filings are electronic only (art. 2 c. 2): at the counter the operator
//! files on the business's behalf, with its signed form or special power of attorney.

use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use sportello_kit::{ErrorKind, ServiceError};
use sportello_proto::{
    common::v1::{Address, Channel},
    suap::v1::{
        Application, ApplicationStatus, Business, FileApplicationRequest, FiledDocument,
        GetApplicationRequest, GetBusinessRequest, GetOccupationRequest, ListApplicationsRequest,
        ListProceduresRequest, LonLat, LookupBusinessRequest, MandateKind, Occupation,
        OccupationKind, OccupationPlace, ProcedureInfo, Regime, RegisterBusinessRequest,
    },
};

use super::{
    body::{Body, Path, Query},
    documents::{self, CarriesDocuments, WithDocuments},
    input,
    views::time,
};
use crate::{
    app::AppState,
    auth::{Role, Signed},
};

/// Who files at the counter: the standard (tier 2) and technical (tier 3) operators.
pub const FILERS: &[Role] = &[Role::Polivalente, Role::Tecnico];

/// Who reads the guidance: every operator who serves businesses, the information desk
/// included (it answers "what do I need to open a shop?").
const GUIDES: &[Role] = &[
    Role::InfoDesk,
    Role::Polivalente,
    Role::Tecnico,
    Role::BackOffice,
    Role::Manager,
];

/// Who reads a business or an application: whoever files or decides.
const READERS: &[Role] = &[
    Role::Polivalente,
    Role::Tecnico,
    Role::BackOffice,
    Role::Manager,
];

/// The most documents a filing carries, as the SUAP takes them (its `MAX_DOCUMENTS`).
pub const MAX_DOCUMENTS: usize = 8;

/// The most vertices of a place, as the SUAP takes them.
const MAX_VERTICES: usize = 200;

fn regime_name(regime: i32) -> &'static str {
    match Regime::try_from(regime).unwrap_or(Regime::Unspecified) {
        Regime::Scia => "scia",
        Regime::SciaBuilding => "scia_building",
        Regime::Communication => "communication",
        Regime::Ordinary => "ordinary",
        Regime::Unspecified => "unspecified",
    }
}

fn status_name(status: i32) -> String {
    ApplicationStatus::try_from(status)
        .unwrap_or(ApplicationStatus::Unspecified)
        .as_str_name()
        .trim_start_matches("APPLICATION_STATUS_")
        .to_ascii_lowercase()
}

/// A procedure as the guidance shows it.
#[derive(Debug, Serialize)]
pub struct ProcedureView {
    code: String,
    title: String,
    regime: &'static str,
    legal_basis: String,
    clock: String,
    outcome_on_expiry: String,
    forwarded_to_other_bodies: bool,
    costs: String,
    occupies_land: bool,
    checklist: Vec<ChecklistView>,
}

#[derive(Debug, Serialize)]
struct ChecklistView {
    code: String,
    title: String,
    required: bool,
    basis: String,
}

impl From<ProcedureInfo> for ProcedureView {
    fn from(p: ProcedureInfo) -> Self {
        Self {
            regime: regime_name(p.regime),
            code: p.code,
            title: p.title,
            legal_basis: p.legal_basis,
            clock: p.clock,
            outcome_on_expiry: p.outcome_on_expiry,
            forwarded_to_other_bodies: p.forwarded_to_other_bodies,
            costs: p.costs,
            occupies_land: p.occupies_land,
            checklist: p
                .checklist
                .into_iter()
                .map(|i| ChecklistView {
                    code: i.code,
                    title: i.title,
                    required: i.required,
                    basis: i.basis,
                })
                .collect(),
        }
    }
}

/// `GET /api/v1/suap/procedures`: what to file for each procedure, its legal basis, its
/// clock and what it costs.
pub async fn procedures(
    State(state): State<AppState>,
    signed: Signed,
) -> Result<Json<serde_json::Value>, ServiceError> {
    signed.require(GUIDES)?;
    let context = signed.context("suap.guidance")?;
    let procedures: Vec<ProcedureView> = state
        .suap_applications()?
        .list_procedures(context.request(ListProceduresRequest {}))
        .await?
        .into_inner()
        .procedures
        .into_iter()
        .map(ProcedureView::from)
        .collect();
    Ok(Json(serde_json::json!({ "procedures": procedures })))
}

/// A business as the desk shows it.
#[derive(Debug, Serialize)]
pub struct BusinessView {
    id: String,
    vat_number: String,
    legal_name: String,
    ateco_code: String,
    registered_office: OfficeForm,
}

impl From<Business> for BusinessView {
    fn from(b: Business) -> Self {
        let office = b.registered_office.unwrap_or_default();
        Self {
            id: b.id,
            vat_number: b.vat_number,
            legal_name: b.legal_name,
            ateco_code: b.ateco_code,
            registered_office: OfficeForm {
                street_name: office.street_name,
                house_number: office.house_number,
                postal_code: office.postal_code,
                municipality_istat_code: office.municipality_istat_code,
            },
        }
    }
}

fn business_reply(business: Option<Business>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "business": business.map(BusinessView::from) }))
}

/// `?vat_number=` of a lookup.
#[derive(Debug, Deserialize)]
pub struct LookupQuery {
    vat_number: String,
}

/// `GET /api/v1/suap/businesses?vat_number=…`: the business with this VAT number in the
/// operator's municipality; 404 when the SUAP does not know it yet.
pub async fn lookup_business(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<LookupQuery>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    signed.require(READERS)?;
    let context = signed.context("suap.business_lookup")?;
    let business = state
        .suap_businesses()?
        .lookup_business(context.request(LookupBusinessRequest {
            municipality_istat_code: signed.account().municipality.to_string(),
            vat_number: query.vat_number,
        }))
        .await?
        .into_inner()
        .business;
    Ok(business_reply(business))
}

/// `GET /api/v1/suap/businesses/{id}/applications`: the business's dossier — its
/// applications, newest first, each with where its procedure stands and its term.
pub async fn business_applications(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let id = input::record_id("id", &id)?.to_string();
    signed.require(READERS)?;
    let context = signed.context("suap.read")?;
    let applications = state
        .suap_applications()?
        .list_applications(context.request(ListApplicationsRequest { business_id: id }))
        .await?
        .into_inner()
        .applications;
    Ok(Json(serde_json::json!({
        "applications": applications.iter().map(application_view).collect::<Vec<_>>(),
    })))
}

/// A registered office.
#[derive(Debug, Deserialize, Serialize)]
pub struct OfficeForm {
    street_name: String,
    house_number: String,
    postal_code: String,
    /// Empty: the operator's municipality.
    #[serde(default)]
    municipality_istat_code: String,
}

/// A business to register.
#[derive(Debug, Deserialize)]
pub struct BusinessForm {
    vat_number: String,
    legal_name: String,
    ateco_code: String,
    registered_office: OfficeForm,
    #[serde(default)]
    idempotency_key: String,
}

/// `POST /api/v1/suap/businesses`: registers the business the counter files for.
pub async fn register_business(
    State(state): State<AppState>,
    signed: Signed,
    Body(form): Body<BusinessForm>,
) -> Result<(StatusCode, Json<serde_json::Value>), ServiceError> {
    input::text("legal_name", &form.legal_name, 200)?;
    input::optional_uuid("idempotency_key", &form.idempotency_key)?;
    signed.require(FILERS)?;
    let context = signed.context("suap.business_register")?;
    let office = form.registered_office;
    let business = state
        .suap_businesses()?
        .register_business(context.request(RegisterBusinessRequest {
            municipality_istat_code: signed.account().municipality.to_string(),
            vat_number: form.vat_number,
            legal_name: form.legal_name,
            ateco_code: form.ateco_code,
            registered_office: Some(Address {
                street_name: office.street_name,
                house_number: office.house_number,
                postal_code: office.postal_code,
                municipality_istat_code: office.municipality_istat_code,
                ..Default::default()
            }),
            idempotency_key: form.idempotency_key,
        }))
        .await?
        .into_inner()
        .business;
    Ok((StatusCode::CREATED, business_reply(business)))
}

/// A document of the checklist, as the JSON body carries it (base64: see
/// [`documents`]).
#[derive(Deserialize)]
pub struct FiledDocumentForm {
    /// The checklist item it answers (`scia_form`, `occupation_plan`, …).
    checklist_item: String,
    media_type: String,
    content_base64: String,
}

impl std::fmt::Debug for FiledDocumentForm {
    // A business's papers name people: a log line shows the content's length only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FiledDocumentForm")
            .field("checklist_item", &self.checklist_item)
            .field("media_type", &self.media_type)
            .field(
                "content_base64",
                &format_args!("<{} characters>", self.content_base64.len()),
            )
            .finish()
    }
}

/// A point of a place's outline.
#[derive(Debug, Deserialize, Serialize)]
pub struct PointForm {
    longitude: f64,
    latitude: f64,
}

/// The public land an application asks for.
#[derive(Debug, Deserialize)]
pub struct PlaceForm {
    kind: String,
    street: String,
    zone_category: i32,
    start_date: String,
    /// Empty: a permanent occupation.
    #[serde(default)]
    end_date: String,
    vertices: Vec<PointForm>,
}

/// A filing at the counter.
#[derive(Debug, Deserialize)]
pub struct FilingForm {
    business_id: String,
    procedure_code: String,
    subject: String,
    /// How the operator may file for the business: `signed_form` or
    /// `special_power_of_attorney`.
    mandate: String,
    /// The signed form's reference (its date and signature) or the power of attorney's
    /// (its date and number).
    mandate_reference: String,
    #[serde(default)]
    documents: Vec<FiledDocumentForm>,
    /// The place, for an application for public land (`occupies_land`).
    #[serde(default)]
    occupation: Option<PlaceForm>,
    #[serde(default)]
    idempotency_key: String,
}

impl CarriesDocuments for FilingForm {
    const MAX_DOCUMENTS: usize = MAX_DOCUMENTS;
}

fn mandate(raw: &str) -> Result<MandateKind, ServiceError> {
    match raw {
        "signed_form" => Ok(MandateKind::SignedForm),
        "special_power_of_attorney" => Ok(MandateKind::SpecialPowerOfAttorney),
        _ => Err(ServiceError::invalid_field(
            "mandate",
            "uno tra signed_form, special_power_of_attorney / one of signed_form, \
             special_power_of_attorney",
        )),
    }
}

fn occupation_kind(raw: &str) -> Result<OccupationKind, ServiceError> {
    match raw {
        "dehors" => Ok(OccupationKind::Dehors),
        "scaffolding" => Ok(OccupationKind::Scaffolding),
        "event" => Ok(OccupationKind::Event),
        "market_stall" => Ok(OccupationKind::MarketStall),
        _ => Err(ServiceError::invalid_field(
            "occupation.kind",
            "uno tra dehors, scaffolding, event, market_stall / one of dehors, scaffolding, \
             event, market_stall",
        )),
    }
}

fn place(form: PlaceForm) -> Result<OccupationPlace, ServiceError> {
    let kind = occupation_kind(&form.kind)?;
    if form.vertices.len() > MAX_VERTICES {
        return Err(ServiceError::invalid_field(
            "occupation.vertices",
            format!("al massimo {MAX_VERTICES} vertici / at most {MAX_VERTICES} vertices"),
        ));
    }
    Ok(OccupationPlace {
        kind: kind as i32,
        vertices: form
            .vertices
            .into_iter()
            .map(|p| LonLat {
                longitude: p.longitude,
                latitude: p.latitude,
            })
            .collect(),
        street: form.street,
        zone_category: form.zone_category,
        start_date: form.start_date,
        end_date: form.end_date,
    })
}

/// The filed documents decoded and checked, naming the one refused.
pub fn filed(
    documents: Vec<FiledDocumentForm>,
    max_bytes: u64,
) -> Result<Vec<FiledDocument>, ServiceError> {
    documents::at_most(documents.len(), MAX_DOCUMENTS)?;
    documents
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let content = documents::decode(i, &d.media_type, &d.content_base64, max_bytes)?;
            Ok(FiledDocument {
                checklist_item: d.checklist_item,
                content,
                media_type: d.media_type,
            })
        })
        .collect()
}

/// `POST /api/v1/suap/applications`: the counter files an application for a business;
/// the reply carries what the receipt prints.
pub async fn file(
    State(state): State<AppState>,
    signed: Signed,
    WithDocuments(form): WithDocuments<FilingForm>,
) -> Result<(StatusCode, Json<serde_json::Value>), ServiceError> {
    let mandate = mandate(&form.mandate)?;
    input::text("mandate_reference", &form.mandate_reference, 120)?;
    input::optional_uuid("idempotency_key", &form.idempotency_key)?;
    let occupation = form.occupation.map(place).transpose()?;
    let documents = filed(form.documents, state.settings.document_max_bytes)?;
    signed.require(FILERS)?;
    let context = signed.context("suap.file")?;
    let application = state
        .suap_applications()?
        .file_application(context.request(FileApplicationRequest {
            municipality_istat_code: signed.account().municipality.to_string(),
            business_id: form.business_id,
            procedure_code: form.procedure_code,
            subject: form.subject,
            documents,
            channel: Channel::Counter as i32,
            mandate: mandate as i32,
            mandate_reference: form.mandate_reference,
            requester_ref: String::new(),
            idempotency_key: form.idempotency_key,
            occupation,
        }))
        .await?
        .into_inner()
        .application
        .ok_or_else(|| ServiceError::internal("the SUAP answered without the application"))?;
    tracing::info!(application_id = %application.id, procedure = %application.procedure_code,
        "SUAP application filed at the counter");
    let reply = dossier(&state, &signed, application).await?;
    Ok((StatusCode::CREATED, Json(reply)))
}

/// `GET /api/v1/suap/applications/{id}`: an application with its business and its place:
/// what its receipt prints, again.
pub async fn get(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let id = input::record_id("id", &id)?.to_string();
    signed.require(READERS)?;
    let context = signed.context("suap.read")?;
    let application = state
        .suap_applications()?
        .get_application(context.request(GetApplicationRequest { application_id: id }))
        .await?
        .into_inner()
        .application
        .ok_or_else(|| ServiceError::new(ErrorKind::NotFound, "no such application"))?;
    Ok(Json(dossier(&state, &signed, application).await?))
}

/// An application, its business and its place, as the receipt shows them.
async fn dossier(
    state: &AppState,
    signed: &Signed,
    application: Application,
) -> Result<serde_json::Value, ServiceError> {
    let context = signed.context("suap.read")?;
    let business = state
        .suap_businesses()?
        .get_business(context.request(GetBusinessRequest {
            business_id: application.business_id.clone(),
        }))
        .await?
        .into_inner()
        .business;
    let occupation = if application.occupation_id.is_empty() {
        None
    } else {
        state
            .suap_occupations()?
            .get_occupation(context.request(GetOccupationRequest {
                occupation_id: application.occupation_id.clone(),
            }))
            .await?
            .into_inner()
            .occupation
    };
    Ok(serde_json::json!({
        "application": application_view(&application),
        "business": business.map(BusinessView::from),
        "occupation": occupation.as_ref().map(occupation_view),
    }))
}

fn optional(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

fn application_view(a: &Application) -> serde_json::Value {
    serde_json::json!({
        "id": a.id,
        "business_id": a.business_id,
        "procedure_code": a.procedure_code,
        "regime": regime_name(a.regime),
        "status": status_name(a.status),
        "subject": a.subject,
        "protocol_number": a.protocol_number,
        "received_date": a.received_date,
        "receipt_protocol_number": optional(&a.receipt_protocol_number),
        "due_date": optional(&a.due_date),
        "outcome_on_expiry": optional(&a.outcome_on_expiry),
        "awaiting": optional(&a.awaiting),
        "documents": a.documents.iter().map(|d| serde_json::json!({
            "checklist_item": d.checklist_item,
            "sha256": d.sha256,
            "media_type": d.media_type,
            "size_bytes": d.size_bytes,
        })).collect::<Vec<_>>(),
        "occupation_id": optional(&a.occupation_id),
        "create_time": time(a.create_time.as_ref()),
    })
}

fn occupation_view(o: &Occupation) -> serde_json::Value {
    serde_json::json!({
        "id": o.id,
        "kind": OccupationKind::try_from(o.kind)
            .unwrap_or(OccupationKind::Unspecified)
            .as_str_name()
            .trim_start_matches("OCCUPATION_KIND_")
            .to_ascii_lowercase(),
        "street": o.street,
        "zone_category": o.zone_category,
        "area_m2": o.area_m2,
        "start_date": o.start_date,
        "end_date": optional(&o.end_date),
        "vertices": o.vertices.iter().map(|p| PointForm {
            longitude: p.longitude,
            latitude: p.latitude,
        }).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_documents() {
        assert_eq!(regime_name(Regime::SciaBuilding as i32), "scia_building");
        assert_eq!(
            status_name(ApplicationStatus::GrantedBySilence as i32),
            "granted_by_silence"
        );
        assert_eq!(mandate("signed_form").unwrap(), MandateKind::SignedForm);
        assert_eq!(
            mandate("procura").unwrap_err().violations()[0].field,
            "mandate"
        );
        assert_eq!(
            occupation_kind("tavolini").unwrap_err().violations()[0].field,
            "occupation.kind"
        );
    }
}
