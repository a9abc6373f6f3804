//! Taking a subscription: the schedule in force, the months left in the school year, no
//! second subscription for the child, a place accepted for the nursery — all checked
//! before anything is asked —; then the registry's fact (residence, audited there), the
//! protocol register's number, and in one unit of work the subscription priced with its
//! charges and the event. The notices are asked of pagoPA after the commit
//! ([`super::notices`]).

use prost::Message as _;
use sportello_kit::{
    Aggregate, CallContext, IdempotencyKey, RequesterRef, Role, ServiceError,
    protocol::{Incoming, document_key, sha256_hex},
};
use sportello_pa::calendar::rome;
use sportello_proto::{
    education::v1::{
        IssueNoticesRequest, IssueNoticesResponse, SubscribeRequest, SubscribeResponse,
        SubscriptionCreated,
    },
    routing::v1::IncomingKind,
};
use uuid::Uuid;

use super::{
    Desk,
    domain::{FeeKind, NewSubscription, Payer},
    message, notices, store, tariff,
};
use crate::error::EducationError;

/// The idempotent operation of a subscription.
const SUBSCRIBE: &str = "education.subscribe";

/// Takes a subscription and issues its notices.
pub async fn subscribe(
    desk: &Desk,
    context: &CallContext,
    request: SubscribeRequest,
) -> Result<SubscribeResponse, ServiceError> {
    context.require_role(Role::OPERATORS)?;
    let new = NewSubscription::try_from(&request)?;
    context.ensure_municipality(new.municipality)?;
    let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
    let fingerprint = SubscribeRequest {
        idempotency_key: String::new(),
        ..request
    };
    let db = &desk.office.db;
    let today = rome::date_of(db.clock().now());
    let subscription = match db.replay(SUBSCRIBE, key, &fingerprint).await? {
        Some(response) => stored(desk, response).await?,
        None => take(desk, context, &new, key, &fingerprint, today).await?,
    };
    // A retry issues what pagoPA did not the first time.
    let notices_unavailable = notices::issue(desk, &subscription, &new.payer)
        .await?
        .unwrap_or_default();
    let subscription = store::find_subscription(db.pool(), subscription.id)
        .await?
        .ok_or_else(|| ServiceError::internal("a subscription just taken is gone"))?;
    Ok(SubscribeResponse {
        subscription: Some(message::subscription(&subscription, today)),
        notices_unavailable,
    })
}

/// The subscription a replayed response names, as it is now.
async fn stored(
    desk: &Desk,
    response: SubscribeResponse,
) -> Result<store::Subscription, ServiceError> {
    let id = response
        .subscription
        .and_then(|s| Uuid::parse_str(&s.id).ok())
        .ok_or_else(|| ServiceError::internal("a stored subscription response without its id"))?;
    store::find_subscription(desk.office.db.pool(), id)
        .await?
        .ok_or_else(|| ServiceError::internal("a replayed subscription is gone"))
}

async fn take(
    desk: &Desk,
    context: &CallContext,
    new: &NewSubscription,
    key: Option<IdempotencyKey>,
    fingerprint: &SubscribeRequest,
    today: jiff::civil::Date,
) -> Result<store::Subscription, ServiceError> {
    let office = &desk.office;
    let schedule = store::latest_schedule(office.db.pool(), new.municipality, new.kind, new.year)
        .await?
        .ok_or_else(|| {
            EducationError::Precondition(format!(
                "nessuna tariffa pubblicata per {} nell'anno scolastico {}/{:02} / no fee \
                 schedule published for this service and school year",
                new.kind.italian(),
                new.year,
                (new.year + 1) % 100
            ))
        })?;
    let months = tariff::months(new.kind, new.year, today).map_err(|over| {
        EducationError::Precondition(format!(
            "l'anno scolastico {}/{:02} è finito ({} era l'ultimo mese) / the school year is over",
            new.year,
            (new.year + 1) % 100,
            over.last_month.strftime("%Y-%m"),
        ))
    })?;
    let child_ref = RequesterRef::derive(&office.key, new.municipality, new.child.as_str());
    let payer_ref = RequesterRef::derive(
        &office.key,
        new.municipality,
        new.payer.fiscal_code.as_str(),
    );
    let base = key.map_or_else(
        || {
            document_key(&[
                &sha256_hex(&fingerprint.encode_to_vec()),
                &today.to_string(),
            ])
        },
        |k| k.uuid(),
    );
    let id = document_key(&[&base.to_string(), "subscription"]);
    if let Some((existing, code)) =
        store::subscription_of_child(office.db.pool(), child_ref.as_str(), new.kind, new.year)
            .await?
    {
        // This very request, committed by a first attempt still answering when it was
        // retried: its subscription, not a refusal.
        if existing == id {
            return store::find_subscription(office.db.pool(), id)
                .await?
                .ok_or_else(|| ServiceError::internal("a subscription just taken is gone"));
        }
        return Err(EducationError::SubscriptionExists { code: Some(code) }.into());
    }
    if new.kind == FeeKind::Nursery
        && !store::nursery_place_accepted(
            office.db.pool(),
            child_ref.as_str(),
            new.municipality,
            new.year,
        )
        .await?
    {
        return Err(EducationError::Precondition(
            "la retta del nido si paga per un posto accettato: nessun posto accettato per \
             questo bambino nell'anno / the nursery fee is for a place accepted: this child has \
             none for the year"
                .into(),
        )
        .into());
    }
    let resident = office
        .facts
        .is_resident(
            context,
            "child_fiscal_code",
            &new.child,
            new.municipality,
            today,
        )
        .await?;

    let form = format!(
        "iscrizione {id}\nservizio {}\nanno {}\nbambino {child_ref}\npagante {payer_ref}\n\
         ISEE {:?} DSU {:?}\npiano {}\n",
        new.kind.name(),
        new.year,
        new.isee_cents,
        new.dsu_protocol,
        new.plan.name(),
    );
    let entry = office
        .protocol
        .register_incoming(
            context,
            &Incoming {
                municipality: new.municipality,
                kind: IncomingKind::Application,
                sender_ref: payer_ref.to_string(),
                sender_name: new.payer.debtor.full_name().to_owned(),
                subject: format!(
                    "Iscrizione al servizio di {}, anno scolastico {}/{:02}",
                    new.kind.italian(),
                    new.year,
                    (new.year + 1) % 100
                ),
                document_sha256: sha256_hex(form.as_bytes()),
                channel: new.filing.channel(),
                idempotency_key: document_key(&[&id.to_string(), "protocol"]),
            },
        )
        .await?;

    let actor = context.actor().to_owned();
    let (municipality, kind, year, plan) = (new.municipality, new.kind, new.year, new.plan);
    let (isee_cents, dsu_protocol, filing) = (new.isee_cents, new.dsu_protocol.clone(), new.filing);
    let response = office
        .db
        .idempotent(SUBSCRIBE, key, fingerprint, move |uow| {
            Box::pin(async move {
                // The counter's row lock numbers the codes and orders the siblings.
                let number = store::next_number(uow, municipality, kind, year).await?;
                let others =
                    store::payer_children(uow, payer_ref.as_str(), municipality, kind, year)
                        .await?;
                let (band, monthly) = tariff::band_of(&schedule.bands, isee_cents, resident);
                let reduction = if others > 0 {
                    schedule.sibling_reduction_percent
                } else {
                    0
                };
                let monthly = tariff::reduced(monthly, reduction);
                let charges = tariff::charges(plan, year, &months, monthly, today);
                let subscription = store::Subscription {
                    id,
                    code: format!("{}{:02}-{number:05}", kind.code_prefix(), year % 100),
                    municipality,
                    kind,
                    year,
                    schedule_version: schedule.version,
                    child_ref: child_ref.to_string(),
                    payer_ref: payer_ref.to_string(),
                    resident,
                    isee_cents,
                    dsu_protocol,
                    band: i16::try_from(band).unwrap_or(i16::MAX),
                    monthly_cents: monthly,
                    reduction_percent: i16::from(reduction),
                    plan,
                    filing,
                    taken_by: actor,
                    protocol_registration_id: entry.id.clone(),
                    protocol_number: entry.number.clone(),
                    created_at: entry.registered_at,
                    charges: Vec::new(),
                };
                store::insert_subscription(uow, &subscription, &charges).await?;
                let key = id.to_string();
                // Ids only: a fee or a band reveals the household's income.
                uow.emit(
                    &SubscriptionCreated {
                        subscription_id: key.clone(),
                        municipality_istat_code: municipality.to_string(),
                        kind: kind.message() as i32,
                        school_year: i32::from(year),
                        child_ref: subscription.child_ref.clone(),
                        protocol_id: subscription.protocol_registration_id.clone(),
                    },
                    Aggregate {
                        kind: "education.subscription",
                        id: &key,
                        version: 1,
                        municipality,
                    },
                )
                .await?;
                Ok(SubscribeResponse {
                    subscription: Some(message::subscription(&subscription, today)),
                    notices_unavailable: String::new(),
                })
            })
        })
        .await?;
    stored(desk, response).await
}

/// Issues the notices a subscription's charges lack, for its payer.
pub async fn issue_notices(
    desk: &Desk,
    context: &CallContext,
    subscription: store::Subscription,
    request: &IssueNoticesRequest,
) -> Result<IssueNoticesResponse, ServiceError> {
    context.require_role(Role::OPERATORS)?;
    let payer = Payer::parse(&request.payer_fiscal_code, &request.payer_name)?;
    let payer_ref = RequesterRef::derive(
        &desk.office.key,
        subscription.municipality,
        payer.fiscal_code.as_str(),
    );
    if payer_ref.as_str() != subscription.payer_ref {
        return Err(ServiceError::invalid_field(
            "payer_fiscal_code",
            "non è chi paga questa iscrizione / not the payer of this subscription",
        ));
    }
    let notices_unavailable = notices::issue(desk, &subscription, &payer)
        .await?
        .unwrap_or_default();
    let db = &desk.office.db;
    let today = rome::date_of(db.clock().now());
    let subscription = store::find_subscription(db.pool(), subscription.id)
        .await?
        .ok_or_else(|| ServiceError::internal("a subscription is gone"))?;
    Ok(IssueNoticesResponse {
        subscription: Some(message::subscription(&subscription, today)),
        notices_unavailable,
    })
}
