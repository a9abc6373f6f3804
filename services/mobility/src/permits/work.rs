//! The back office's review of a permit, handed to routing over NATS (DESIGN.md, "How
//! departments and routing work together"): `mobility.permit_review` work, published as
//! `WorkRequested` on `mobility.work.requested` in the transaction that opens the review,
//! on a clock that ends with the grace. Mobility consumes routing's `work.mobility.>`
//! events: `completed` applies the specialist's outcome — `kept` (the permit stands) or
//! `revoked` (it ends now). The grace running out, or the change of residence rejected,
//! travel back as `WorkUpdated` (decided, withdrawn).

use futures::future::BoxFuture;
use jiff::civil::Date;
use sportello_kit::{
    Aggregate, ConsumerSpec, EventHandler, EventRecord, HandlerError, ServiceError, UnitOfWork,
    work::WorkEvent,
};
use sportello_pa::calendar::rome;
use sportello_proto::{
    mobility::v1::PermitReviewClosed,
    routing::v1::{
        OutcomeOnExpiry, PriorityCategory, StatutoryClock, WorkOrigin, WorkRequested,
        WorkUpdateKind, WorkUpdated,
    },
};

use super::{
    domain::State,
    lifecycle,
    store::{self, Permit},
};

/// The work request's event type (and subject, under the prefix).
pub const REQUESTED: &str = "mobility.work.requested";
/// A change to a request's standing.
pub const UPDATED: &str = "mobility.work.updated";
/// The catalogue code of a permit's review.
pub const PERMIT_REVIEW: &str = "mobility.permit_review";
/// The durable consumer of routing's events about mobility's work.
pub const CONSUMER: &str = "mobility-work";
/// What it reads.
pub const SUBJECTS: &[&str] = &["work.mobility.>"];

/// The consumer's spec, declared in mobility's `ServiceSpec`.
pub fn consumer_spec() -> ConsumerSpec {
    ConsumerSpec::new(CONSUMER, "routing", SUBJECTS)
}

fn origin(permit: &Permit) -> WorkOrigin {
    WorkOrigin {
        service: "mobility".into(),
        procedure_kind: "permit_review".into(),
        procedure_id: permit.id.to_string(),
    }
}

/// The review's clock: from the day it opened to the grace's last day; at its end the
/// permit ends by itself (the grace timer), unless kept.
fn clock(opened: Date, grace_until: Date) -> StatutoryClock {
    StatutoryClock {
        rule: "mobility_permit_grace".into(),
        start_date: opened.to_string(),
        due_date: grace_until.to_string(),
        warning_date: String::new(),
        outcome_on_expiry: OutcomeOnExpiry::DecisionDue as i32,
        suspensions: Vec::new(),
    }
}

/// Hands the review of `permit` to routing, in `uow`: the permit's number, the zone and
/// why — never the holder, whom the specialist reads from mobility.
pub async fn request(
    uow: &mut UnitOfWork,
    permit: &Permit,
    review: &store::Review<'_>,
) -> Result<(), ServiceError> {
    let id = review.id.to_string();
    let message = WorkRequested {
        work_id: id.clone(),
        origin: Some(origin(permit)),
        municipality_istat_code: permit.municipality.to_string(),
        service_code: PERMIT_REVIEW.into(),
        requester_ref: permit.holder_ref.clone(),
        clock: Some(clock(rome::date_of(uow.now()), review.grace_until)),
        context_note: format!(
            "Permesso {number}, zona {zone}: {reason}. Valido fino al {grace} salvo conferma. \
             Esiti: kept (resta valido), revoked (cessa subito) / permit under review: kept \
             or revoked",
            number = permit.number,
            zone = permit.zone_code,
            reason = review.reason,
            grace = review.grace_until,
        ),
        priority_category: PriorityCategory::None as i32,
        documents: Vec::new(),
        protocol_registration_id: String::new(),
    };
    uow.emit_as(
        REQUESTED.into(),
        &message,
        Aggregate {
            kind: "mobility.review",
            id: &id,
            version: 1,
            municipality: permit.municipality,
        },
    )
    .await?;
    Ok(())
}

async fn update(
    uow: &mut UnitOfWork,
    permit: &Permit,
    kind: WorkUpdateKind,
    outcome: &str,
    note: &str,
) -> Result<(), ServiceError> {
    let Some(review) = permit.review_id else {
        return Ok(());
    };
    let id = review.to_string();
    let message = WorkUpdated {
        work_id: id.clone(),
        origin: Some(origin(permit)),
        municipality_istat_code: permit.municipality.to_string(),
        kind: kind as i32,
        clock: None,
        note: note.to_owned(),
        outcome_code: outcome.to_owned(),
        result: Default::default(),
    };
    uow.emit_as(
        UPDATED.into(),
        &message,
        Aggregate {
            kind: "mobility.review",
            id: &id,
            version: 2,
            municipality: permit.municipality,
        },
    )
    .await?;
    Ok(())
}

/// Tells routing mobility decided the review itself (`grace_over`).
pub async fn decided(
    uow: &mut UnitOfWork,
    permit: &Permit,
    outcome: &str,
) -> Result<(), ServiceError> {
    update(
        uow,
        permit,
        WorkUpdateKind::Decided,
        outcome,
        "Periodo di tolleranza finito: il permesso è cessato. / Grace period over: the permit ended.",
    )
    .await
}

/// Tells routing the review is withdrawn (the change of residence was rejected).
pub async fn withdrawn(uow: &mut UnitOfWork, permit: &Permit) -> Result<(), ServiceError> {
    update(
        uow,
        permit,
        WorkUpdateKind::Withdrawn,
        "",
        "Cambio di residenza respinto: il permesso resta valido. / Change of residence \
         rejected: the permit stands.",
    )
    .await
}

/// Closes `permit`'s review with it valid again, publishing `outcome`.
pub async fn close(
    uow: &mut UnitOfWork,
    permit: &Permit,
    outcome: &str,
) -> Result<(), ServiceError> {
    store::close_review(uow, permit).await?;
    let id = permit.id.to_string();
    uow.emit(
        &PermitReviewClosed {
            permit_id: id.clone(),
            municipality_istat_code: permit.municipality.to_string(),
            zone_code: permit.zone_code.clone(),
            outcome: outcome.to_owned(),
        },
        Aggregate {
            kind: "mobility.permit",
            id: &id,
            version: permit.version + 1,
            municipality: permit.municipality,
        },
    )
    .await?;
    uow.cancel_timer(lifecycle::GRACE_TIMER, &id).await?;
    Ok(())
}

/// Routing's work events mobility could never apply.
const REJECTED: &str = "sportello_mobility_work_events_rejected_total";

/// Applies routing's events about mobility's work.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkEvents;

impl EventHandler for WorkEvents {
    fn handle<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        event: &'a EventRecord,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let work = WorkEvent::decode(event, "mobility", REJECTED)?;
            if work.change != "completed" || work.origin().procedure_kind != "permit_review" {
                return Ok(());
            }
            let id = work.procedure_id(REJECTED)?;
            let retry = |e: sqlx::Error| HandlerError::Retry(e.into());
            let decided = |e| sportello_kit::work::retry_or_reject(REJECTED, e);
            let Some(permit) = store::lock(uow, id).await.map_err(retry)? else {
                return Err(sportello_kit::work::reject(
                    REJECTED,
                    format!("no permit {id}"),
                ));
            };
            // Only the review still open: an older one's late completion changes nothing.
            let current = permit
                .review_id
                .is_some_and(|r| r.to_string() == work.item.work_id);
            if permit.state != State::UnderReview || !current {
                return Ok(());
            }
            match work.item.outcome_code.as_str() {
                "kept" => close(uow, &permit, "kept").await.map_err(decided)?,
                "revoked" => {
                    let reason = "revocato dall'ufficio dopo il riesame / revoked by the office \
                                  after its review";
                    lifecycle::end(uow, &permit, "revoked", reason, None)
                        .await
                        .map_err(decided)?;
                }
                other => {
                    return Err(sportello_kit::work::reject(
                        REJECTED,
                        format!("a permit review completed with outcome {other}"),
                    ));
                }
            }
            tracing::info!(permit_id = %id, outcome = %work.item.outcome_code, "permit review decided");
            Ok(())
        })
    }
}
