//! Issuing a permit: the zone and its fee for the kind, the days, the plates — all
//! checked before anything is asked —; then the registry's fact (the holder lives in the
//! zone, audited there); then one unit of work: the quota's place and the household's
//! plates (the database's checks), the number, the permit and its plates, the event and
//! the expiry timer. The notice is asked of pagoPA after the commit ([`super::notices`]).

use jiff::{ToSpan, civil::Date};
use sportello_kit::{Aggregate, CallContext, RequesterRef, Role, ServiceError, UnitOfWork};
use sportello_pa::calendar::rome;
use sportello_proto::mobility::v1::{IssuePermitRequest, IssuePermitResponse, PermitIssued};
use uuid::Uuid;

use super::{
    Desk,
    domain::{Application, Holder, State, channel_name},
    lifecycle, message, notices, rules,
    store::{self, NewPermit, Permit},
};
use crate::{
    error::MobilityError,
    facts::Residence,
    zones::{self, store::Zone},
};

/// The idempotent operation of issuing.
const ISSUE: &str = "mobility.issue_permit";

/// Where the registry put the holder.
struct Household {
    household_ref: Option<String>,
    resident_ref: Option<String>,
}

/// Issues a permit and asks for its notice.
pub async fn issue(
    desk: &Desk,
    context: &CallContext,
    request: IssuePermitRequest,
) -> Result<IssuePermitResponse, ServiceError> {
    if context.asserts_person() {
        context.require_role(Role::OPERATORS)?;
    }
    let application = Application::try_from(&request)?;
    context.ensure_municipality(application.municipality)?;
    let fingerprint = IssuePermitRequest {
        idempotency_key: String::new(),
        ..request
    };
    let db = &desk.db;
    let permit = match db.replay(ISSUE, application.key, &fingerprint).await? {
        Some(response) => stored(desk, response).await?,
        None => take(desk, context, &application, &fingerprint).await?,
    };
    // A retry issues what pagoPA did not the first time.
    let notice_unavailable = notices::issue(desk, &permit, &application.debtor)
        .await?
        .unwrap_or_default();
    let mut conn = db.pool().acquire().await.map_err(ServiceError::from)?;
    let permit = store::find(&mut conn, permit.id)
        .await?
        .ok_or_else(|| ServiceError::internal("a permit just issued is gone"))?;
    Ok(IssuePermitResponse {
        permit: Some(message::permit(&permit)),
        notice_unavailable,
    })
}

/// The permit a replayed response names, as it is now.
async fn stored(desk: &Desk, response: IssuePermitResponse) -> Result<Permit, ServiceError> {
    let id = response
        .permit
        .and_then(|p| Uuid::parse_str(&p.id).ok())
        .ok_or_else(|| ServiceError::internal("a stored permit response without its id"))?;
    let mut conn = desk.db.pool().acquire().await.map_err(ServiceError::from)?;
    store::find(&mut conn, id)
        .await?
        .ok_or_else(|| ServiceError::internal("a replayed permit is gone"))
}

async fn take(
    desk: &Desk,
    context: &CallContext,
    application: &Application,
    fingerprint: &IssuePermitRequest,
) -> Result<Permit, ServiceError> {
    let db = &desk.db;
    let today = rome::date_of(db.clock().now());
    let zone = {
        let mut conn = db.pool().acquire().await.map_err(ServiceError::from)?;
        zones::store::find(&mut conn, application.municipality, &application.zone_code)
            .await?
            .ok_or_else(|| MobilityError::ZoneNotFound(application.zone_code.clone()))?
    };
    let kind = application.kind;
    let fee = zone.fee(kind).ok_or_else(|| MobilityError::KindNotIssued {
        zone_code: zone.zone.zone_code.clone(),
        italian: kind.italian(),
        kind: kind.name(),
    })?;
    let from = application.valid_from.unwrap_or(today);
    rules::check_start(from, today)?;
    let until = rules::last_day(kind, from, application.days)?;
    let rules = rules::of(kind);
    let household = if rules.needs_residence {
        residence(desk, context, application, &zone, today).await?
    } else {
        Household {
            household_ref: None,
            resident_ref: None,
        }
    };
    let amount_cents = rules::amount(kind, fee, application.days);
    // The payer's data are not kept: repeating the request with its key is how a notice
    // pagoPA did not issue the first time is asked again, without a second permit.
    if amount_cents > 0 && application.key.is_none() {
        return Err(ServiceError::invalid_field(
            "idempotency_key",
            "serve per un permesso a pagamento: ripetendo la richiesta si riemette l'avviso \
             senza un secondo permesso / required for a permit with a fee: repeating the \
             request issues its notice again without a second permit",
        ));
    }
    let holder_ref = RequesterRef::derive(
        &desk.key,
        application.municipality,
        application.holder.code(),
    )
    .to_string();
    let state = if amount_cents == 0 {
        State::Active
    } else {
        State::AwaitingPayment
    };
    let channel = channel_name(application.channel);
    let plates = application.plates.clone();
    let response = db
        .idempotent(ISSUE, application.key, fingerprint, |uow| {
            Box::pin(async move {
                let new = NewPermit {
                    zone: &zone,
                    kind,
                    state,
                    holder_ref,
                    household_ref: if rules.counts {
                        household.household_ref.clone()
                    } else {
                        None
                    },
                    resident_ref: household.resident_ref.clone(),
                    valid_from: from,
                    valid_until: until,
                    amount_cents,
                    plates: &plates,
                    channel: &channel,
                };
                let permit = save(uow, &new).await?;
                Ok(IssuePermitResponse {
                    permit: Some(message::permit(&permit)),
                    notice_unavailable: String::new(),
                })
            })
        })
        .await?;
    stored(desk, response).await
}

/// The registry's word that the holder lives in the zone, and their household.
async fn residence(
    desk: &Desk,
    context: &CallContext,
    application: &Application,
    zone: &Zone,
    today: Date,
) -> Result<Household, ServiceError> {
    let Holder::Person(person) = &application.holder else {
        return Err(ServiceError::invalid_field(
            "holder_fiscal_code",
            "un permesso residenti o ospiti richiede il codice fiscale di una persona / a resident's or a guest's permit needs a person's fiscal code",
        ));
    };
    let area = zone.zone.streets.iter().map(|s| s.to_message()).collect();
    match desk
        .facts
        .residence(
            context,
            "holder_fiscal_code",
            person,
            application.municipality,
            today,
            area,
        )
        .await?
    {
        Residence::Resident {
            in_area: true,
            resident_ref,
            household_ref,
        } => Ok(Household {
            household_ref: Some(household_ref),
            resident_ref: Some(resident_ref),
        }),
        Residence::Resident { in_area: false, .. } => Err(MobilityError::NotInZone {
            zone_code: zone.zone.zone_code.clone(),
            day: today.to_string(),
        }
        .into()),
        Residence::NotResident => Err(MobilityError::NotResident {
            day: today.to_string(),
        }
        .into()),
    }
}

/// Saves a permit in `uow`: the quota's place and the household's plates first (a
/// refusal writes nothing), then the number, the permit, its event and its timers.
async fn save(uow: &mut UnitOfWork, new: &NewPermit<'_>) -> Result<Permit, ServiceError> {
    if let Some(household) = &new.household_ref {
        store::hold_quota(uow, new.zone).await?;
        let plates = i32::try_from(new.plates.len()).unwrap_or(i32::MAX);
        store::hold_plates(uow, new.zone, household, plates).await?;
    }
    let number = store::next_number(uow, new.zone, new.valid_from.year()).await?;
    let permit = store::insert(uow, new, &number).await?;
    let id = permit.id.to_string();
    uow.emit(
        &PermitIssued {
            permit_id: id.clone(),
            municipality_istat_code: permit.municipality.to_string(),
            zone_code: permit.zone_code.clone(),
            kind: permit.kind.to_proto() as i32,
            state: permit.state.to_proto() as i32,
            valid_from: permit.valid_from.to_string(),
            valid_until: permit.valid_until.to_string(),
        },
        Aggregate {
            kind: "mobility.permit",
            id: &id,
            version: permit.version,
            municipality: permit.municipality,
        },
    )
    .await?;
    let day_after = permit
        .valid_until
        .checked_add(1.day())
        .map_err(ServiceError::internal)?;
    lifecycle::schedule_expiry(uow, &permit, day_after).await?;
    if permit.state == State::AwaitingPayment {
        let due = notices::due_date(rome::date_of(permit.created_at), permit.valid_until)?;
        lifecycle::schedule_unpaid(uow, permit.id, due).await?;
    }
    Ok(permit)
}
