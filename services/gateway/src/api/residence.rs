//! The change of residence at the gateway: the counter takes the declaration (a move
//! within the municipality, from another municipality or from abroad: DPR 223/1989
//! art. 13 and 18-bis, DL 5/2012 art. 5), the registry's back office runs the notice of
//! reasons against and its observations (L. 241/1990 art. 10-bis). The registry owns
//! the procedure and decides every step; the gateway parses what the document states,
//! checks roles for the user's convenience and turns the registry's answer into JSON.
//!
//! The members' names and fiscal codes go to the registry, which owns them; they are
//! never logged here, and the reply names the members by record id only.

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use sportello_kit::{CallContext, ErrorKind, ServiceError, documents::MediaType, privacy};
use sportello_proto::{
    common::v1::Channel,
    registry::v1::{
        AnswerObservationsRequest, AttachedDocument, DeclareImmigrationRequest,
        DeclareResidenceChangeRequest, DwellingTitle, EuResidenceGround,
        GetResidenceChangeDocumentRequest, GetResidenceChangeRequest,
        GetResidentByFiscalCodeRequest, IncomingMember, MovingMember, NewAddress, NoticeDelivery,
        ObservationsOutcome, RecordNoticeReceiptRequest, RecordObservationsRequest,
        RegisterResidentRequest, Relationship, ResidenceChange, Resident,
        SendReasonsAgainstRequest, Sex,
    },
};

use super::{
    body::{Body, Path},
    documents::{self, WithDocuments},
    input,
    views::{short_name, time},
};
use crate::{
    app::AppState,
    auth::{Role, Signed},
};

/// Who takes a declaration: the counter's standard (tier 2) and technical (tier 3)
/// operators. The information desk (tier 1) answers quick questions without evaluation
/// and hands a declaration on; the back office does the 10-bis steps, not the intake.
pub const DECLARANTS: &[Role] = &[Role::Polivalente, Role::Tecnico];

/// Who runs the notice of reasons against and its observations: the registry's
/// back-office specialists (department `anagrafe`) and the office's managers.
pub const DECIDERS: &[Role] = &[Role::BackOffice, Role::Tecnico, Role::Manager];

/// The registry's department, whose specialists do the 10-bis steps.
pub const REGISTRY_DEPARTMENT: &str = "anagrafe";

/// Who may read a change: whoever declares it or decides on it.
const READERS: &[Role] = &[
    Role::Polivalente,
    Role::Tecnico,
    Role::BackOffice,
    Role::Manager,
];

/// Who reads a change's documents: those who take declarations and the back office's
/// specialists — the people the registry lets read a document of a change (it answers
/// a manager, who watches the floor and serves no citizen, permission denied).
const DOCUMENT_READERS: &[Role] = &[Role::Polivalente, Role::Tecnico, Role::BackOffice];

/// The most documents a declaration carries, as the registry takes them (its
/// `MAX_DOCUMENTS`): the form, the dwelling title, identity documents, a permit.
pub const MAX_DOCUMENTS: usize = 5;

/// The longest document title, as the registry takes it.
const TITLE_MAX: usize = 120;

/// The relationships the document lists, as the registry's enum names them.
const RELATIONSHIPS: &str = "one of head, spouse, civil_partner, partner, child, stepchild, \
     grandchild, parent, parent_in_law, sibling, child_in_law, grandparent, other_relative, \
     cohabitant";

/// A change of residence as the pages show it: ids, dates and states, no names.
#[derive(Debug, Serialize)]
pub struct ChangeView {
    pub id: String,
    /// "recorded", "confirmed", "rejected".
    pub status: String,
    /// "within", "municipality" (from another one) or "abroad".
    pub origin: &'static str,
    pub origin_municipality_istat_code: Option<String>,
    pub origin_country: Option<String>,
    pub family_id: String,
    pub destination_family_id: String,
    pub declarant_id: String,
    pub members: Vec<MemberView>,
    pub street_code: String,
    pub house_number: String,
    pub declared_at: Option<String>,
    pub effective_date: String,
    pub registration_due: String,
    /// The last day of the 45-day term (DPR 223/1989 art. 18-bis c. 1): the date by
    /// which the citizen hears.
    pub check_due: String,
    /// The day silence-assent takes effect; none once a notice was sent.
    pub silence_assent_date: Option<String>,
    pub protocol_number: String,
    pub protocol_registration_id: String,
    pub check_case_id: Option<String>,
    pub check_failure: Option<String>,
    pub reasons_against: Option<String>,
    pub notice_sent_date: Option<String>,
    pub notice_protocol_number: Option<String>,
    /// "pec_receipt", "return_card", "counter".
    pub notice_delivery: Option<String>,
    pub notice_received_date: Option<String>,
    pub observations_window_end: Option<String>,
    pub observations_date: Option<String>,
    /// "accepted", "rejected".
    pub observations_outcome: Option<String>,
    pub observations_answer: Option<String>,
    /// "check", "silence_assent".
    pub confirmation_basis: Option<String>,
    pub rejection_reason: Option<String>,
    pub appeal: Option<String>,
    pub decided_at: Option<String>,
    /// The 10-bis step the procedure waits for: "check", "notice", "receipt",
    /// "observations" (the window is open: observations or an answer), "answer", or
    /// "none" once decided.
    pub next_step: &'static str,
    pub version: u64,
}

/// A member moving, by record id.
#[derive(Debug, Serialize)]
pub struct MemberView {
    pub resident_id: String,
    pub relationship: String,
}

fn optional(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

fn named(full: &str, prefix: &str) -> Option<String> {
    let name = short_name(full, prefix);
    (name != "unspecified").then_some(name)
}

impl From<&ResidenceChange> for ChangeView {
    fn from(c: &ResidenceChange) -> Self {
        let decided = c.decide_time.is_some();
        let next_step = if decided {
            "none"
        } else if c.notice_sent_date.is_empty() && c.reasons_against.is_empty() {
            if c.check_failure.is_empty() {
                "check"
            } else {
                "notice"
            }
        } else if c.notice_received_date.is_empty() {
            "receipt"
        } else if c.observations_date.is_empty() {
            "observations"
        } else {
            "answer"
        };
        Self {
            id: c.id.clone(),
            status: short_name(c.status().as_str_name(), "RESIDENCE_CHANGE_STATUS_"),
            origin: if !c.origin_country.is_empty() {
                "abroad"
            } else if !c.origin_municipality_istat_code.is_empty() {
                "municipality"
            } else {
                "within"
            },
            origin_municipality_istat_code: optional(&c.origin_municipality_istat_code),
            origin_country: optional(&c.origin_country),
            family_id: c.family_id.clone(),
            destination_family_id: c.destination_family_id.clone(),
            declarant_id: c.declarant_id.clone(),
            members: c
                .members
                .iter()
                .map(|m| MemberView {
                    resident_id: m.resident_id.clone(),
                    relationship: short_name(m.relationship().as_str_name(), "RELATIONSHIP_"),
                })
                .collect(),
            street_code: c
                .address
                .as_ref()
                .map(|a| a.street_code.clone())
                .unwrap_or_default(),
            house_number: c
                .address
                .as_ref()
                .map(|a| a.house_number.clone())
                .unwrap_or_default(),
            declared_at: time(c.declare_time.as_ref()),
            effective_date: c.effective_date.clone(),
            registration_due: c.registration_due.clone(),
            check_due: c.check_due.clone(),
            silence_assent_date: optional(&c.silence_assent_date),
            protocol_number: c.protocol_number.clone(),
            protocol_registration_id: c.protocol_registration_id.clone(),
            check_case_id: optional(&c.check_case_id),
            check_failure: optional(&c.check_failure),
            reasons_against: optional(&c.reasons_against),
            notice_sent_date: optional(&c.notice_sent_date),
            notice_protocol_number: optional(&c.notice_protocol_number),
            notice_delivery: named(c.notice_delivery().as_str_name(), "NOTICE_DELIVERY_"),
            notice_received_date: optional(&c.notice_received_date),
            observations_window_end: optional(&c.observations_window_end),
            observations_date: optional(&c.observations_date),
            observations_outcome: named(
                c.observations_outcome().as_str_name(),
                "OBSERVATIONS_OUTCOME_",
            ),
            observations_answer: optional(&c.observations_answer),
            confirmation_basis: named(c.confirmation_basis().as_str_name(), "CONFIRMATION_BASIS_"),
            rejection_reason: optional(&c.rejection_reason),
            appeal: optional(&c.appeal),
            decided_at: time(c.decide_time.as_ref()),
            next_step,
            version: c.version,
        }
    }
}

/// `{"residence_change": …}`.
fn reply(change: Option<ResidenceChange>) -> Json<serde_json::Value> {
    let change = change.unwrap_or_default();
    Json(serde_json::json!({ "residence_change": ChangeView::from(&change) }))
}

/// A day, YYYY-MM-DD exactly (the document's `format: date`).
fn day(field: &str, raw: &str) -> Result<Date, ServiceError> {
    if raw.len() == 10
        && let Ok(day) = raw.parse::<Date>()
    {
        return Ok(day);
    }
    Err(ServiceError::invalid_field(
        field,
        "must be a day, YYYY-MM-DD",
    ))
}

/// An optional day: empty, or [`day`].
fn optional_day(field: &str, raw: &str) -> Result<(), ServiceError> {
    if raw.is_empty() {
        Ok(())
    } else {
        day(field, raw).map(|_| ())
    }
}

/// A fiscal code as the document states it: 16 letters and digits, any case (the
/// registry checks its check character and answers 400 naming the field).
fn fiscal_code(field: &str, raw: &str) -> Result<String, ServiceError> {
    if raw.len() == 16 && raw.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(raw.to_ascii_uppercase())
    } else {
        Err(ServiceError::invalid_field(
            field,
            "must be a fiscal code: 16 letters and digits",
        ))
    }
}

/// `name` (lowercase, as listed) as the proto enum value `PREFIX_NAME`.
fn enumerated<T>(
    field: &str,
    raw: &str,
    prefix: &str,
    parse: fn(&str) -> Option<T>,
    allowed: &str,
) -> Result<T, ServiceError> {
    if raw != raw.to_ascii_lowercase() || raw.is_empty() || raw == "unspecified" {
        return Err(ServiceError::invalid_field(field, allowed.to_owned()));
    }
    parse(&format!("{prefix}{}", raw.to_ascii_uppercase()))
        .ok_or_else(|| ServiceError::invalid_field(field, allowed.to_owned()))
}

/// Reasons that travel in the procedure's events and protocol entries: required, at most
/// `max` characters, no control characters, no personal data.
fn reasons(field: &str, raw: &str, max: usize) -> Result<(), ServiceError> {
    input::required_text(field, raw, max)?;
    privacy::ensure_free_of_personal_data(field, raw)
}

/// A member as the counter enters them.
#[derive(Debug, Deserialize)]
pub struct MemberForm {
    pub fiscal_code: String,
    pub relationship: String,
    #[serde(default)]
    pub surname: String,
    #[serde(default)]
    pub given_names: String,
    /// "male" or "female".
    #[serde(default)]
    pub sex: String,
    #[serde(default)]
    pub birth_date: String,
    /// The Belfiore code of the place of birth (a municipality, or Z… for a country).
    #[serde(default)]
    pub birthplace_code: String,
    /// ISO 3166-1 alpha-2.
    #[serde(default)]
    pub citizenship: String,
    #[serde(default)]
    pub residence_permit: String,
    #[serde(default)]
    pub residence_permit_expiry: String,
    /// An EU citizen's ground (D.Lgs 30/2007 art. 7).
    #[serde(default)]
    pub eu_ground: String,
}

/// The new address.
#[derive(Debug, Deserialize)]
pub struct AddressForm {
    pub street_code: String,
    pub house_number: String,
}

/// A declaration as the counter takes it.
#[derive(Debug, Deserialize)]
pub struct DeclarationForm {
    /// "within", "municipality" (from another municipality) or "abroad".
    pub origin: String,
    pub members: Vec<MemberForm>,
    /// Which member declares (index into `members`).
    #[serde(deserialize_with = "input::integer")]
    pub declarant: u32,
    pub address: AddressForm,
    /// The site where it was received (its code).
    pub site: String,
    #[serde(default)]
    pub origin_municipality_istat_code: String,
    #[serde(default)]
    pub origin_country: String,
    #[serde(default)]
    pub dwelling_title: String,
    #[serde(default)]
    pub dwelling_title_reference: String,
    /// Within the municipality: the fiscal code of who becomes head of the family left
    /// behind, when its head moves without the rest (DPR 223/1989 art. 6).
    #[serde(default)]
    pub remaining_head_fiscal_code: String,
    /// Within the municipality: the fiscal code of who represents an under-age declarant.
    #[serde(default)]
    pub representative_fiscal_code: String,
    #[serde(default)]
    pub idempotency_key: String,
    /// The documents handed in (the declaration form first), at most [`MAX_DOCUMENTS`].
    #[serde(default)]
    pub documents: Vec<DocumentForm>,
}

/// A document handed in with a declaration, as the JSON body carries it (base64: see
/// [`documents`]).
#[derive(Deserialize)]
pub struct DocumentForm {
    /// What it is, from the form's list ("Modulo di dichiarazione", …): it travels to
    /// routing, so never whose it is.
    #[serde(default)]
    pub title: String,
    /// One of the registry's allowed types, exactly as written.
    pub media_type: String,
    /// The bytes, standard base64 with padding (RFC 4648 section 4).
    pub content_base64: String,
}

impl std::fmt::Debug for DocumentForm {
    // The content holds the movers' data: a log line shows its length only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentForm")
            .field("title", &self.title)
            .field("media_type", &self.media_type)
            .field(
                "content_base64",
                &format_args!("<{} characters>", self.content_base64.len()),
            )
            .finish()
    }
}

/// Checks the documents' count and titles, and decodes them (see [`documents::decode`]).
fn attached(
    documents: Vec<DocumentForm>,
    max_bytes: u64,
) -> Result<Vec<AttachedDocument>, ServiceError> {
    documents::at_most(documents.len(), MAX_DOCUMENTS)?;
    documents
        .into_iter()
        .enumerate()
        .map(|(i, document)| {
            let field = format!("documents[{i}].title");
            input::text(&field, &document.title, TITLE_MAX)?;
            // The title travels to routing in the work request.
            privacy::ensure_free_of_personal_data(&field, &document.title)?;
            let content =
                documents::decode(i, &document.media_type, &document.content_base64, max_bytes)?;
            Ok(AttachedDocument {
                content,
                media_type: document.media_type,
                title: document.title,
            })
        })
        .collect()
}

impl documents::CarriesDocuments for DeclarationForm {
    const MAX_DOCUMENTS: usize = MAX_DOCUMENTS;
}

/// What the registry needs of a move within the municipality, once the gateway has
/// found the residents by fiscal code.
struct Found {
    members: Vec<MovingMember>,
    family_id: String,
    declarant_id: String,
}

fn checked_members(form: &DeclarationForm) -> Result<(), ServiceError> {
    if form.members.is_empty() || form.members.len() > 20 {
        return Err(ServiceError::invalid_field(
            "members",
            "name 1-20 members moving",
        ));
    }
    if usize::try_from(form.declarant).map_or(true, |i| i >= form.members.len()) {
        return Err(ServiceError::invalid_field(
            "declarant",
            "must be the index of one of the members",
        ));
    }
    for (i, m) in form.members.iter().enumerate() {
        let field = |name: &str| format!("members[{i}].{name}");
        fiscal_code(&field("fiscal_code"), &m.fiscal_code)?;
        enumerated(
            &field("relationship"),
            &m.relationship,
            "RELATIONSHIP_",
            Relationship::from_str_name,
            RELATIONSHIPS,
        )?;
        input::text(&field("surname"), &m.surname, 100)?;
        input::text(&field("given_names"), &m.given_names, 100)?;
        input::text(&field("residence_permit"), &m.residence_permit, 40)?;
        optional_day(&field("birth_date"), &m.birth_date)?;
        optional_day(
            &field("residence_permit_expiry"),
            &m.residence_permit_expiry,
        )?;
        if !(m.sex.is_empty() || m.sex == "male" || m.sex == "female") {
            return Err(ServiceError::invalid_field(
                field("sex"),
                "one of male, female",
            ));
        }
        let two_letters = |s: &str| s.len() == 2 && s.chars().all(|c| c.is_ascii_uppercase());
        if !(m.citizenship.is_empty() || two_letters(&m.citizenship)) {
            return Err(ServiceError::invalid_field(
                field("citizenship"),
                "must be an ISO 3166-1 alpha-2 code, e.g. IT",
            ));
        }
        let belfiore = m.birthplace_code.len() == 4
            && m.birthplace_code[..1]
                .chars()
                .all(|c| c.is_ascii_uppercase())
            && m.birthplace_code[1..].chars().all(|c| c.is_ascii_digit());
        if !(m.birthplace_code.is_empty() || belfiore) {
            return Err(ServiceError::invalid_field(
                field("birthplace_code"),
                "must be a Belfiore code: a capital letter and three digits, e.g. E463",
            ));
        }
        if !m.eu_ground.is_empty() {
            enumerated(
                &field("eu_ground"),
                &m.eu_ground,
                "EU_RESIDENCE_GROUND_",
                EuResidenceGround::from_str_name,
                "one of worker, self_employed, sufficient_resources, student, family_member",
            )?;
        }
    }
    Ok(())
}

/// Parses what every declaration carries.
pub fn checked(form: &DeclarationForm) -> Result<(), ServiceError> {
    if !matches!(form.origin.as_str(), "within" | "municipality" | "abroad") {
        return Err(ServiceError::invalid_field(
            "origin",
            "one of within, municipality, abroad",
        ));
    }
    checked_members(form)?;
    input::code(
        "address.street_code",
        &form.address.street_code,
        20,
        |c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_',
        "must be a street code of the gazetteer: capital letters, digits and _",
    )?;
    if !house_number(&form.address.house_number) {
        return Err(ServiceError::invalid_field(
            "address.house_number",
            "must be a house number: digits, then a letter or a suffix such as /BIS",
        ));
    }
    input::code(
        "site",
        &form.site,
        32,
        input::site_code_char,
        "must be a site's code, e.g. palazzo-civico",
    )?;
    input::optional_uuid("idempotency_key", &form.idempotency_key)?;
    if !form.documents.is_empty() && form.origin != "within" {
        // The registry's DeclareImmigration takes no documents yet: refused rather than
        // dropped, so no one believes a file was kept that was not.
        return Err(ServiceError::invalid_field(
            "documents",
            "i documenti si allegano solo a un trasferimento nel comune / documents are \
             attached only to a move within the municipality",
        ));
    }
    input::text(
        "dwelling_title_reference",
        &form.dwelling_title_reference,
        100,
    )?;
    for (field, raw) in [
        (
            "remaining_head_fiscal_code",
            &form.remaining_head_fiscal_code,
        ),
        (
            "representative_fiscal_code",
            &form.representative_fiscal_code,
        ),
    ] {
        if !raw.is_empty() {
            fiscal_code(field, raw)?;
        }
    }
    if !form.dwelling_title.is_empty() {
        enumerated(
            "dwelling_title",
            &form.dwelling_title,
            "DWELLING_TITLE_",
            DwellingTitle::from_str_name,
            "one of owner, tenant, loan, other",
        )?;
    }
    let istat = |s: &str| s.len() == 6 && s.chars().all(|c| c.is_ascii_digit());
    if !(form.origin_municipality_istat_code.is_empty()
        || istat(&form.origin_municipality_istat_code))
    {
        return Err(ServiceError::invalid_field(
            "origin_municipality_istat_code",
            "must be an ISTAT code: six digits",
        ));
    }
    let country = &form.origin_country;
    if !(country.is_empty()
        || (country.len() == 2 && country.chars().all(|c| c.is_ascii_uppercase())))
    {
        return Err(ServiceError::invalid_field(
            "origin_country",
            "must be an ISO 3166-1 alpha-2 code",
        ));
    }
    Ok(())
}

/// `^[1-9][0-9]{0,4}([A-Za-z]|/[A-Za-z0-9]{1,4})?$`, as the registry reads it.
fn house_number(raw: &str) -> bool {
    let digits = raw.chars().take_while(char::is_ascii_digit).count();
    let rest = &raw[digits..];
    (1..=5).contains(&digits)
        && !raw.starts_with('0')
        && (rest.is_empty()
            || (rest.len() == 1 && rest.chars().all(|c| c.is_ascii_alphabetic()))
            || rest.strip_prefix('/').is_some_and(|s| {
                (1..=4).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric())
            }))
}

fn relationship(raw: &str) -> i32 {
    Relationship::from_str_name(&format!("RELATIONSHIP_{}", raw.to_ascii_uppercase()))
        .unwrap_or_default() as i32
}

/// The resident of this municipality with `code`; 400 naming the field otherwise.
async fn resident(
    state: &AppState,
    context: &CallContext,
    field: &str,
    code: &str,
) -> Result<Resident, ServiceError> {
    let reply = state
        .residents()?
        .get_resident_by_fiscal_code(context.request(GetResidentByFiscalCodeRequest {
            municipality_istat_code: context.municipality().to_string(),
            fiscal_code: code.to_ascii_uppercase(),
        }))
        .await;
    match reply {
        Ok(r) => Ok(r.into_inner().resident.unwrap_or_default()),
        // A reference in the body, not the path's resource: 400 naming the field, so the
        // form shows it next to the member's row.
        Err(status) if status.code() == tonic::Code::NotFound => Err(ServiceError::invalid_field(
            field,
            "nessun residente del comune ha questo codice fiscale / no resident of the \
             municipality has this fiscal code",
        )),
        Err(status) if status.code() == tonic::Code::InvalidArgument => Err(
            ServiceError::invalid_field(field, "is not a valid fiscal code"),
        ),
        Err(status) => Err(status.into()),
    }
}

/// Finds the members of a move within the municipality in the register.
async fn find_members(
    state: &AppState,
    context: &CallContext,
    form: &DeclarationForm,
) -> Result<Found, ServiceError> {
    let mut members = Vec::with_capacity(form.members.len());
    let mut family_id = String::new();
    for (i, m) in form.members.iter().enumerate() {
        let found = resident(
            state,
            context,
            &format!("members[{i}].fiscal_code"),
            &m.fiscal_code,
        )
        .await?;
        if i == 0 {
            family_id = found.family_id.clone();
        }
        members.push(MovingMember {
            resident_id: found.id,
            relationship: relationship(&m.relationship),
        });
    }
    let index = usize::try_from(form.declarant).unwrap_or_default();
    let declarant_id = members
        .get(index)
        .map(|m| m.resident_id.clone())
        .unwrap_or_default();
    Ok(Found {
        members,
        family_id,
        declarant_id,
    })
}

/// `POST /api/v1/residence-changes`: the counter takes a declaration of change of
/// residence; the reply is what the citizen's printed receipt says — the protocol
/// number, the day of the declaration and the day by which they will hear (the 45 days
/// of DPR 223/1989 art. 18-bis c. 1, after which silence-assent confirms the move).
pub async fn declare(
    State(state): State<AppState>,
    signed: Signed,
    WithDocuments(mut form): WithDocuments<DeclarationForm>,
) -> Result<(StatusCode, Json<serde_json::Value>), ServiceError> {
    checked(&form)?;
    let documents = attached(
        std::mem::take(&mut form.documents),
        state.settings.document_max_bytes,
    )?;
    // The receipt lists what was handed in, by title: the registry's reply names no
    // documents, and a refused one refuses the whole declaration.
    let document_titles: Vec<String> = documents.iter().map(|d| d.title.clone()).collect();
    signed.require(DECLARANTS)?;
    let context = signed.context("residence.declare")?;
    let municipality = signed.account().municipality;
    let site = super::site_by_code(&state, &context, municipality, &form.site)
        .await
        .map_err(|e| match e.kind() {
            ErrorKind::NotFound => ServiceError::invalid_field("site", "no site has this code"),
            _ => e,
        })?;
    let address = Some(NewAddress {
        street_code: form.address.street_code.clone(),
        house_number: form.address.house_number.clone(),
    });
    let mut changes = state.residence_changes()?;
    let change = if form.origin == "within" {
        let found = find_members(&state, &context, &form).await?;
        let mut remaining_head_id = String::new();
        if !form.remaining_head_fiscal_code.is_empty() {
            remaining_head_id = resident(
                &state,
                &context,
                "remaining_head_fiscal_code",
                &form.remaining_head_fiscal_code,
            )
            .await?
            .id;
        }
        let mut representative_id = String::new();
        if !form.representative_fiscal_code.is_empty() {
            representative_id = resident(
                &state,
                &context,
                "representative_fiscal_code",
                &form.representative_fiscal_code,
            )
            .await?
            .id;
        }
        changes
            .declare_residence_change(context.request(DeclareResidenceChangeRequest {
                municipality_istat_code: municipality.to_string(),
                family_id: found.family_id,
                declarant_id: found.declarant_id,
                members: found.members,
                address,
                channel: Channel::Counter as i32,
                document_sha256: String::new(),
                idempotency_key: form.idempotency_key,
                site_id: site.id,
                remaining_head_id,
                representative_id,
                documents,
            }))
            .await?
            .into_inner()
            .residence_change
    } else {
        let members = form
            .members
            .iter()
            .map(|m| IncomingMember {
                person: Some(RegisterResidentRequest {
                    municipality_istat_code: municipality.to_string(),
                    fiscal_code: m.fiscal_code.to_ascii_uppercase(),
                    surname: m.surname.clone(),
                    given_names: m.given_names.clone(),
                    sex: match m.sex.as_str() {
                        "male" => Sex::Male,
                        "female" => Sex::Female,
                        _ => Sex::Unspecified,
                    } as i32,
                    birth_date: m.birth_date.clone(),
                    birthplace_code: m.birthplace_code.clone(),
                    citizenship: m.citizenship.clone(),
                    ..Default::default()
                }),
                relationship: relationship(&m.relationship),
                residence_permit: m.residence_permit.clone(),
                residence_permit_expiry: m.residence_permit_expiry.clone(),
                eu_ground: EuResidenceGround::from_str_name(&format!(
                    "EU_RESIDENCE_GROUND_{}",
                    m.eu_ground.to_ascii_uppercase()
                ))
                .unwrap_or_default() as i32,
            })
            .collect();
        let (origin_municipality, origin_country) = if form.origin == "abroad" {
            (String::new(), form.origin_country)
        } else {
            (form.origin_municipality_istat_code, String::new())
        };
        changes
            .declare_immigration(
                context.request(DeclareImmigrationRequest {
                    municipality_istat_code: municipality.to_string(),
                    members,
                    declarant_index: form.declarant,
                    address,
                    origin_municipality_istat_code: origin_municipality,
                    origin_country,
                    dwelling_title: DwellingTitle::from_str_name(&format!(
                        "DWELLING_TITLE_{}",
                        form.dwelling_title.to_ascii_uppercase()
                    ))
                    .unwrap_or_default() as i32,
                    dwelling_title_reference: form.dwelling_title_reference,
                    channel: Channel::Counter as i32,
                    site_id: site.id,
                    document_sha256: String::new(),
                    idempotency_key: form.idempotency_key,
                }),
            )
            .await?
            .into_inner()
            .residence_change
    };
    let change = change.unwrap_or_default();
    let view = ChangeView::from(&change);
    tracing::info!(residence_change_id = %change.id, origin = view.origin, "residence change declared");
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "residence_change": view,
            "receipt": {
                "protocol_number": change.protocol_number,
                "declared_on": change.effective_date,
                "answer_by": change.check_due,
                "members": change.members.len(),
                "documents": document_titles,
            },
        })),
    ))
}

/// Refuses a specialist of another department: the 10-bis steps are the registry's.
fn decider(signed: &Signed, purpose: &str) -> Result<CallContext, ServiceError> {
    let account = signed.require(DECIDERS)?;
    let manager = account.has_any(&[Role::Manager]);
    if !manager && account.department.as_deref() != Some(REGISTRY_DEPARTMENT) {
        return Err(ServiceError::new(
            ErrorKind::PermissionDenied,
            "solo l'ufficio anagrafe decide sui cambi di residenza / only the registry office \
             decides on changes of residence",
        ));
    }
    signed.context(purpose)
}

/// `GET /api/v1/residence-changes/{id}`.
pub async fn get(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let id = input::record_id("id", &id)?.to_string();
    signed.require(READERS)?;
    let context = signed.context("residence.read")?;
    let change = state
        .residence_changes()?
        .get_residence_change(context.request(GetResidenceChangeRequest {
            residence_change_id: id,
        }))
        .await?
        .into_inner()
        .residence_change;
    Ok(reply(change))
}

/// A document's SHA-256 in a path: 64 hex digits, either case (`^[0-9a-fA-F]{64}$`).
fn sha256(field: &str, raw: &str) -> Result<String, ServiceError> {
    if raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(ServiceError::invalid_field(
            field,
            "deve essere di 64 cifre esadecimali / must be 64 hex digits",
        ))
    }
}

/// The file name a document is offered under: its type and the start of its hash, never
/// its title (free text, and the header's quoting would have to be trusted with it).
fn document_filename(sha256: &str, media_type: &str) -> String {
    let extension = match media_type {
        "application/pdf" => "pdf",
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "application/pkcs7-mime" => "p7m",
        "application/xml" => "xml",
        _ => "bin",
    };
    let short: String = sha256.chars().take(12).collect();
    format!("documento-{short}.{extension}")
}

/// `GET /api/v1/residence-changes/{id}/documents/{sha256}`: a document handed in with
/// the change, for the counter and the back office (the registry checks the
/// municipality and audits the read). It holds the movers' data: never cached, never
/// sniffed into another type; an XML one is sandboxed, as a browser would otherwise run
/// its scripts in the gateway's origin.
pub async fn document(
    State(state): State<AppState>,
    signed: Signed,
    Path((id, hash)): Path<(String, String)>,
) -> Result<Response, ServiceError> {
    let id = input::record_id("id", &id)?.to_string();
    let hash = sha256("sha256", &hash)?;
    signed.require(DOCUMENT_READERS)?;
    let context = signed.context("residence.read")?;
    let reply = state
        .residence_changes()?
        // A document may be up to DOCUMENT_MAX_BYTES: above tonic's 4 MiB default.
        .max_decoding_message_size(documents::reply_limit(state.settings.document_max_bytes))
        .get_residence_change_document(context.request(GetResidenceChangeDocumentRequest {
            sha256: hash.clone(),
        }))
        .await?
        .into_inner();
    // The registry answers the earliest change holding these bytes: a path naming another
    // change does not name this document.
    if reply.residence_change_id != id {
        return Err(ServiceError::new(
            ErrorKind::NotFound,
            "sha256: nessun documento di questo cambio ha questo hash / no document of this \
             change has this hash",
        ));
    }
    let media_type = MediaType::ALL
        .into_iter()
        .find(|t| t.as_str() == reply.media_type)
        .map_or("application/octet-stream", MediaType::as_str);
    let disposition = format!(
        "inline; filename=\"{}\"",
        document_filename(&hash, media_type)
    );
    let mut response = reply.content.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if media_type == MediaType::Xml.as_str() {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("sandbox; default-src 'none'"),
        );
    }
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// The notice of reasons against.
#[derive(Debug, Deserialize)]
pub struct NoticeForm {
    pub reasons: String,
}

/// `POST /api/v1/residence-changes/{id}/notice`: the notice of reasons against
/// (L. 241/1990 art. 10-bis) is sent; the registry registers it as an outgoing protocol
/// entry dated today, which must fall within the 45 days (DPR 223/1989 art. 18-bis c. 1).
pub async fn send_notice(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Body(form): Body<NoticeForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let id = input::record_id("id", &id)?.to_string();
    reasons("reasons", &form.reasons, 500)?;
    let context = decider(&signed, "residence.check")?;
    let change = state
        .residence_changes()?
        .send_reasons_against(context.request(SendReasonsAgainstRequest {
            residence_change_id: id,
            reasons: form.reasons,
            outgoing_protocol_number: String::new(),
            sent_date: String::new(),
        }))
        .await?
        .into_inner()
        .residence_change;
    Ok(reply(change))
}

/// How and when the notice reached the citizen.
#[derive(Debug, Deserialize)]
pub struct ReceiptForm {
    /// "pec_receipt", "return_card" or "counter".
    pub delivery: String,
    pub received_date: String,
}

/// `POST /api/v1/residence-changes/{id}/notice-receipt`: the 10-day window for
/// observations counts from the day recorded here.
pub async fn notice_receipt(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Body(form): Body<ReceiptForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let id = input::record_id("id", &id)?.to_string();
    let delivery = enumerated(
        "delivery",
        &form.delivery,
        "NOTICE_DELIVERY_",
        NoticeDelivery::from_str_name,
        "one of pec_receipt, return_card, counter",
    )?;
    day("received_date", &form.received_date)?;
    let context = decider(&signed, "residence.check")?;
    let change = state
        .residence_changes()?
        .record_notice_receipt(context.request(RecordNoticeReceiptRequest {
            residence_change_id: id,
            delivery: delivery as i32,
            received_date: form.received_date,
        }))
        .await?
        .into_inner()
        .residence_change;
    Ok(reply(change))
}

/// The citizen's observations.
#[derive(Debug, Deserialize)]
pub struct ObservationsForm {
    pub received_date: String,
    /// What the citizen observes: kept in the registry only, never logged.
    pub observations: String,
}

/// `POST /api/v1/residence-changes/{id}/observations`: within the 10-day window;
/// afterwards 409 naming the rule, and nothing is written.
pub async fn observations(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Body(form): Body<ObservationsForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let id = input::record_id("id", &id)?.to_string();
    day("received_date", &form.received_date)?;
    input::required_text("observations", &form.observations, 2000)?;
    let context = decider(&signed, "residence.check")?;
    let change = state
        .residence_changes()?
        .record_observations(context.request(RecordObservationsRequest {
            residence_change_id: id,
            received_date: form.received_date,
            observations: form.observations,
        }))
        .await?
        .into_inner()
        .residence_change;
    Ok(reply(change))
}

/// The answer to the observations.
#[derive(Debug, Deserialize)]
pub struct AnswerForm {
    /// "accepted" or "rejected".
    pub outcome: String,
    pub reasons: String,
}

/// `POST /api/v1/residence-changes/{id}/answer`: accepted confirms the move; rejected
/// with reasons restores the previous state from the declaration's day (DPR 223/1989
/// art. 18-bis c. 2) and states the appeal (art. 36).
pub async fn answer(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Body(form): Body<AnswerForm>,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let id = input::record_id("id", &id)?.to_string();
    let outcome = enumerated(
        "outcome",
        &form.outcome,
        "OBSERVATIONS_OUTCOME_",
        ObservationsOutcome::from_str_name,
        "one of accepted, rejected",
    )?;
    reasons("reasons", &form.reasons, 500)?;
    let context = decider(&signed, "residence.check")?;
    let change = state
        .residence_changes()?
        .answer_observations(context.request(AnswerObservationsRequest {
            residence_change_id: id,
            outcome: outcome as i32,
            reasons: form.reasons,
        }))
        .await?
        .into_inner()
        .residence_change;
    Ok(reply(change))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn enum_names_are_the_documents_lowercase_ones() {
        let parse = |raw| {
            enumerated(
                "delivery",
                raw,
                "NOTICE_DELIVERY_",
                NoticeDelivery::from_str_name,
                "x",
            )
        };
        assert_eq!(parse("pec_receipt").unwrap(), NoticeDelivery::PecReceipt);
        for bad in ["", "PEC_RECEIPT", "unspecified", "post"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(relationship("head"), Relationship::Head as i32);
    }

    #[test]
    fn days_and_fiscal_codes_are_checked_as_documented() {
        assert!(day("d", "2026-12-16").is_ok());
        for bad in ["2026-12-32", "2026-1-16", "16/12/2026", ""] {
            assert!(day("d", bad).is_err(), "{bad}");
        }
        assert_eq!(
            fiscal_code("f", "rssmra80a01e463x").unwrap(),
            "RSSMRA80A01E463X"
        );
        assert!(fiscal_code("f", "RSSMRA80A01E463").is_err());
        for good in ["5", "12a", "12/BIS", "99999"] {
            assert!(house_number(good), "{good}");
        }
        for bad in ["", "0", "05", "123456", "12 A", "12/", "12/ABCDE", "A"] {
            assert!(!house_number(bad), "{bad}");
        }
    }

    fn document(media_type: &str, content_base64: &str) -> DocumentForm {
        DocumentForm {
            title: "Modulo di dichiarazione".into(),
            media_type: media_type.into(),
            content_base64: content_base64.into(),
        }
    }

    fn refused_field(result: Result<Vec<AttachedDocument>, ServiceError>) -> String {
        let error = result.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{error}");
        error
            .violations()
            .first()
            .map(|v| v.field.clone())
            .unwrap_or_default()
    }

    #[test]
    fn documents_are_decoded_and_checked_naming_their_field() {
        // 16 bytes: the base64 ends in "==", which an unpadded copy drops.
        use base64::Engine as _;
        let pdf = documents::BASE64.encode(b"%PDF-1.4\n%%EOF\n\n");
        assert!(pdf.ends_with("=="));
        let ok = attached(vec![document("application/pdf", &pdf)], 100).unwrap();
        assert_eq!(ok[0].content, b"%PDF-1.4\n%%EOF\n\n");
        assert_eq!(ok[0].media_type, "application/pdf");

        let six = (0..6).map(|_| document("application/pdf", &pdf)).collect();
        assert_eq!(refused_field(attached(six, 100)), "documents");
        let bad = vec![
            document("application/pdf", &pdf),
            document("image/png", "not base64!"),
        ];
        assert_eq!(
            refused_field(attached(bad, 100)),
            "documents[1].content_base64"
        );
        let unpadded = vec![document("application/pdf", pdf.trim_end_matches('='))];
        assert_eq!(
            refused_field(attached(unpadded, 100)),
            "documents[0].content_base64"
        );
        let big = vec![document("application/pdf", &pdf)];
        assert_eq!(
            refused_field(attached(big, 4)),
            "documents[0].content_base64"
        );
        let empty = vec![document("application/pdf", "")];
        assert_eq!(
            refused_field(attached(empty, 100)),
            "documents[0].content_base64"
        );
        for media_type in ["application/PDF", "text/plain", ""] {
            let wrong = vec![document(media_type, &pdf)];
            assert_eq!(
                refused_field(attached(wrong, 100)),
                "documents[0].media_type"
            );
        }
        let mut named = document("application/pdf", &pdf);
        named.title = "Carta d'identità RSSMRA80A01E463X".into();
        assert_eq!(
            refused_field(attached(vec![named], 100)),
            "documents[0].title"
        );
    }

    #[test]
    fn a_document_is_offered_under_a_name_without_its_title() {
        let hash = "ab".repeat(32);
        assert_eq!(
            document_filename(&hash, "application/pdf"),
            "documento-abababababab.pdf"
        );
        assert!(sha256("sha256", &hash.to_ascii_uppercase()).is_ok());
        assert!(sha256("sha256", "abc").is_err());
        assert!(sha256("sha256", &"g".repeat(64)).is_err());
    }

    #[test]
    fn the_next_step_follows_the_procedure() {
        let mut change = ResidenceChange::default();
        assert_eq!(ChangeView::from(&change).next_step, "check");
        change.check_failure = "nessuno all'indirizzo".into();
        assert_eq!(ChangeView::from(&change).next_step, "notice");
        change.notice_sent_date = "2026-12-14".into();
        assert_eq!(ChangeView::from(&change).next_step, "receipt");
        change.notice_received_date = "2026-12-16".into();
        assert_eq!(ChangeView::from(&change).next_step, "observations");
        change.observations_date = "2026-12-21".into();
        assert_eq!(ChangeView::from(&change).next_step, "answer");
        change.decide_time = Some(prost_types::Timestamp::default());
        assert_eq!(ChangeView::from(&change).next_step, "none");
    }
}
