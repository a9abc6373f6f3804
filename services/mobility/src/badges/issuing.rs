//! Issuing a badge — the certification and its days checked, then the registry's fact
//! (the holder is resident: the municipality of residence issues it), then one unit of
//! work: the number, the badge with its certification sealed, its plates, the event and
//! its timers — and replacing a lost or stolen one: blocked at once, a new number for
//! the same certification, days and plates.

use sportello_kit::{
    Aggregate, CallContext, IdempotencyKey, RequesterRef, Role, ServiceError, UnitOfWork,
};
use sportello_pa::calendar::rome;
use sportello_proto::mobility::v1::{
    BadgeIssued, IssueBadgeRequest, IssueBadgeResponse, ReplaceBadgeRequest, ReplaceBadgeResponse,
};
use uuid::Uuid;

use super::{
    BadgeOffice,
    domain::{NewBadge, validity},
    lifecycle, message, seal_context,
    store::{self, Badge, NewBadgeRow},
};
use crate::{error::MobilityError, permits::domain::channel_name};

const ISSUE: &str = "mobility.issue_badge";
const REPLACE: &str = "mobility.replace_badge";

/// Issues a badge.
pub async fn issue(
    office: &BadgeOffice,
    context: &CallContext,
    request: IssueBadgeRequest,
) -> Result<IssueBadgeResponse, ServiceError> {
    if context.asserts_person() {
        context.require_role(Role::OPERATORS)?;
    }
    let new = NewBadge::try_from(&request)?;
    context.ensure_municipality(new.municipality)?;
    let keys = office.keys()?;
    let fingerprint = IssueBadgeRequest {
        idempotency_key: String::new(),
        ..request
    };
    let db = &office.db;
    if let Some(response) = db
        .replay::<IssueBadgeResponse>(ISSUE, new.key, &fingerprint)
        .await?
    {
        return current(office, response.badge.map(|b| b.id)).await;
    }
    let today = rome::date_of(db.clock().now());
    let (from, until) = validity(&new.certification, today)?;
    let resident_ref = office
        .facts
        .resident_id(
            context,
            "holder_fiscal_code",
            &new.holder,
            new.municipality,
            today,
        )
        .await?
        .ok_or_else(|| {
            MobilityError::Precondition(
                "secondo l'anagrafe il richiedente non è residente nel comune: il contrassegno lo \
                 rilascia il comune di residenza / the registry says the holder is not resident: \
                 the municipality of residence issues the badge"
                    .into(),
            )
        })?;
    let id = Uuid::now_v7();
    let plain = serde_json::to_string(&new.certification).map_err(ServiceError::internal)?;
    let sealed = keys
        .seal(&seal_context(id), &plain)
        .map_err(ServiceError::internal)?;
    let holder_ref =
        RequesterRef::derive(&office.key, new.municipality, new.holder.as_str()).to_string();
    let channel = channel_name(new.channel);
    let temporary = !new.certification.permanent;
    let municipality = new.municipality;
    let plates = new.plates.clone();
    let response = db
        .idempotent(ISSUE, new.key, &fingerprint, |uow| {
            Box::pin(async move {
                let number = store::next_number(uow, municipality, from.year()).await?;
                let row = NewBadgeRow {
                    id,
                    municipality,
                    number: &number,
                    holder_ref: &holder_ref,
                    resident_ref: &resident_ref,
                    temporary,
                    valid_from: from,
                    valid_until: until,
                    certification: &sealed,
                    replaces: None,
                    plates: &plates,
                    channel: &channel,
                };
                let badge = save(uow, &row).await?;
                Ok(IssueBadgeResponse {
                    badge: Some(message::badge(&badge)),
                })
            })
        })
        .await?;
    current(office, response.badge.map(|b| b.id)).await
}

/// Saves a badge in `uow` with its event and timers.
async fn save(uow: &mut UnitOfWork, row: &NewBadgeRow<'_>) -> Result<Badge, ServiceError> {
    store::insert(uow, row).await?;
    let id = row.id.to_string();
    uow.emit(
        &BadgeIssued {
            badge_id: id.clone(),
            municipality_istat_code: row.municipality.to_string(),
            valid_until: row.valid_until.to_string(),
            replaces: row.replaces.map(|r| r.to_string()).unwrap_or_default(),
        },
        Aggregate {
            kind: "mobility.badge",
            id: &id,
            version: 1,
            municipality: row.municipality,
        },
    )
    .await?;
    lifecycle::schedule(uow, row.id, row.valid_until).await?;
    store::lock(uow, row.id)
        .await?
        .ok_or_else(|| ServiceError::internal("a badge just issued is gone"))
}

async fn current(
    office: &BadgeOffice,
    id: Option<String>,
) -> Result<IssueBadgeResponse, ServiceError> {
    let id = id
        .and_then(|id| Uuid::parse_str(&id).ok())
        .ok_or_else(|| ServiceError::internal("a stored badge response without its id"))?;
    let mut conn = office
        .db
        .pool()
        .acquire()
        .await
        .map_err(ServiceError::from)?;
    let badge = store::find(&mut conn, id)
        .await?
        .ok_or_else(|| ServiceError::internal("a badge just issued is gone"))?;
    Ok(IssueBadgeResponse {
        badge: Some(message::badge(&badge)),
    })
}

/// Replaces a lost or stolen badge.
pub async fn replace(
    office: &BadgeOffice,
    context: &CallContext,
    request: ReplaceBadgeRequest,
) -> Result<ReplaceBadgeResponse, ServiceError> {
    if context.asserts_person() {
        context.require_role(Role::OPERATORS)?;
    }
    let old_id = Uuid::parse_str(request.badge_id.trim()).map_err(|_| {
        ServiceError::invalid_field(
            "badge_id",
            "deve essere l'id di un contrassegno (UUID) / must be a badge's id (UUID)",
        )
    })?;
    let cause = match request.cause.trim() {
        "lost" => "lost",
        "stolen" => "stolen",
        _ => {
            return Err(ServiceError::invalid_field(
                "cause",
                "deve essere lost o stolen / must be lost or stolen",
            ));
        }
    };
    let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
    let keys = office.keys()?;
    let fingerprint = ReplaceBadgeRequest {
        idempotency_key: String::new(),
        ..request
    };
    let context = context.clone();
    office
        .db
        .idempotent(REPLACE, key, &fingerprint, |uow| {
            Box::pin(async move {
                let old = store::lock(uow, old_id)
                    .await?
                    .ok_or_else(|| MobilityError::Precondition(format!(
                        "contrassegno {old_id} non trovato / badge {old_id} not found"
                    )))?;
                context.ensure_municipality(old.municipality)?;
                if old.state != "active" {
                    return Err(MobilityError::Precondition(format!(
                        "il contrassegno {} non è valido ({}): non si sostituisce / badge {} is not active ({}): it cannot be replaced",
                        old.number, old.state, old.number, old.state
                    ))
                    .into());
                }
                // Re-sealed for the new badge: a sealed value opens only on its own.
                let plain = keys
                    .open(&seal_context(old.id), &old.certification)
                    .map_err(ServiceError::internal)?;
                let id = Uuid::now_v7();
                let sealed = keys
                    .seal(&seal_context(id), &plain)
                    .map_err(ServiceError::internal)?;
                let today = rome::date_of(uow.now());
                let number = store::next_number(uow, old.municipality, today.year()).await?;
                let row = NewBadgeRow {
                    id,
                    municipality: old.municipality,
                    number: &number,
                    holder_ref: &old.holder_ref,
                    resident_ref: &old.resident_ref,
                    temporary: old.temporary,
                    valid_from: today,
                    valid_until: old.valid_until,
                    certification: &sealed,
                    replaces: Some(old.id),
                    plates: &old.plates,
                    channel: "counter",
                };
                // Both in one transaction: the old number is blocked when the new one is
                // valid, never two at once.
                let (italiano, english) = if cause == "lost" {
                    ("smarrito", "lost")
                } else {
                    ("rubato", "stolen")
                };
                let reason = format!(
                    "{italiano}: sostituito da {number} / {english}: replaced by {number}"
                );
                let badge = save(uow, &row).await?;
                lifecycle::end(uow, &old, "blocked", cause, &reason, Some(id), None).await?;
                let blocked = store::lock(uow, old.id)
                    .await?
                    .ok_or_else(|| ServiceError::internal("a badge just blocked is gone"))?;
                Ok(ReplaceBadgeResponse {
                    blocked: Some(message::badge(&blocked)),
                    badge: Some(message::badge(&badge)),
                })
            })
        })
        .await
}
