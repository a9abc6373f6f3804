//! The address check as work handed to routing over NATS (DESIGN.md, "How departments
//! and routing work together"): the registry never calls routing to open or close the
//! check's case. It publishes `WorkRequested` on `registry.work.requested` through its
//! outbox, in the transaction that records the change; `WorkUpdated` on
//! `registry.work.updated` when its clock changes (a 10-bis notice, observations) or when
//! the registry decides without the back office (silence-assent, the observations'
//! answer: kind DECIDED, with the outcome); and it consumes routing's `work.registry.>` events with a durable consumer:
//! `opened` notes the case, `completed` with `check_passed` / `check_failed` records the
//! check as RecordAddressCheck does, `cancelled` notes the case closed. The kit's inbox
//! applies each event once; the change's own state makes a second outcome a no-op.
//!
//! The work's id and the procedure's id are the change's id: one change, one check.
//! Events carry ids, dates and the pseudonymous requester_ref, never personal data.

use futures::future::BoxFuture;
use prost::Message as _;
use sportello_kit::{
    Aggregate, CallContext, ConsumerSpec, EventHandler, EventRecord, HandlerError, ServiceError,
    UnitOfWork,
};
use sportello_pa::{Calendar, ClockOptions, Outcome, Procedure, Stop, clock};
use sportello_proto::routing::v1::{
    ClockSuspension, DocumentRef, OutcomeOnExpiry, PriorityCategory, StatutoryClock, WorkChanged,
    WorkOrigin, WorkRequested, WorkUpdateKind, WorkUpdated,
};
use uuid::Uuid;

use super::{
    domain::{Basis, Status},
    intake::CHECK_SERVICE,
    notice,
    store::{self, Change},
    timers::{self, CloseOrder, SILENCE_TIMER},
};
use crate::domain::ResidenceChangeId;

/// The procedure kind routing sees.
pub const PROCEDURE_KIND: &str = "residence_change";
/// The work request's event type (and subject, under the prefix).
pub const REQUESTED: &str = "registry.work.requested";
/// The work update's event type.
pub const UPDATED: &str = "registry.work.updated";
/// The outcome a specialist completes a passed check with.
pub const CHECK_PASSED: &str = "check_passed";
/// The outcome a specialist completes a failed check with.
pub const CHECK_FAILED: &str = "check_failed";
/// The durable consumer of routing's events about the registry's work.
pub const CONSUMER: &str = "registry-work";
/// What it reads: routing's events about the registry's work only.
pub const SUBJECTS: &[&str] = &["work.registry.>"];

/// The consumer's spec, declared in the registry's `ServiceSpec` (NATS permissions come
/// from it).
pub fn consumer_spec() -> ConsumerSpec {
    ConsumerSpec::new(CONSUMER, "routing", SUBJECTS)
}

fn aggregate<'a>(change: &'a Change, id: &'a str) -> Aggregate<'a> {
    Aggregate {
        kind: "registry.residence_change",
        id,
        version: change.version,
        municipality: change.municipality,
    }
}

fn origin(change: &Change) -> WorkOrigin {
    WorkOrigin {
        service: "registry".into(),
        procedure_kind: PROCEDURE_KIND.into(),
        procedure_id: change.id.to_string(),
    }
}

/// The check's statutory clock from the PA library: the 45 days of DPR 223/1989 art.
/// 18-bis from the declaration's day, suspended by a 10-bis notice from its sending until
/// the observations (or the end of their window).
pub fn statutory_clock(change: &Change) -> Result<StatutoryClock, ServiceError> {
    let calendar = Calendar::for_municipality(change.municipality.as_str());
    let notice = change.notice_dates();
    let stops: Vec<Stop> = notice
        .map(|n| Stop::ReasonsAgainst {
            sent: n.sent,
            received: n.received,
            observations: n.observations,
        })
        .into_iter()
        .collect();
    let deadline = clock::deadline(
        &calendar,
        Procedure::ResidenceCheck,
        change.effective_date,
        &stops,
        ClockOptions::default(),
    )
    .map_err(ServiceError::internal)?;
    let outcome = match deadline.outcome_on_expiry {
        Outcome::SilenceAssent => OutcomeOnExpiry::SilenceAssent,
        Outcome::SilenceRejection => OutcomeOnExpiry::SilenceRejection,
        Outcome::Breach => OutcomeOnExpiry::DecisionDue,
        _ => OutcomeOnExpiry::RuleDefined,
    };
    let suspensions = notice
        .map(|n| ClockSuspension {
            reason: "reasons_against".into(),
            from_date: n.sent.to_string(),
            until_date: n
                .observations
                .or(deadline.observation_window.as_ref().and_then(|w| w.ends))
                .map(|d| d.to_string())
                .unwrap_or_default(),
        })
        .into_iter()
        .collect();
    Ok(StatutoryClock {
        rule: deadline.procedure.to_owned(),
        start_date: change.effective_date.to_string(),
        due_date: deadline.due.map(|d| d.to_string()).unwrap_or_default(),
        warning_date: deadline.warning.map(|d| d.to_string()).unwrap_or_default(),
        outcome_on_expiry: outcome as i32,
        suspensions,
    })
}

/// Hands the address check of a change just recorded to routing, in `uow`, with the
/// references of the documents handed in (hash, type, size, a title free of personal
/// data — never the bytes: the specialist reads them from the registry, audited).
pub async fn request(
    uow: &mut UnitOfWork,
    change: &Change,
    requester_ref: &str,
    movers: usize,
    documents: Vec<DocumentRef>,
) -> Result<(), ServiceError> {
    let id = change.id.to_string();
    let persons = if movers == 1 { "persona" } else { "persone" };
    let message = WorkRequested {
        work_id: id.clone(),
        origin: Some(origin(change)),
        municipality_istat_code: change.municipality.to_string(),
        service_code: CHECK_SERVICE.into(),
        requester_ref: requester_ref.to_owned(),
        clock: Some(statutory_clock(change)?),
        // For the specialist; no names, no fiscal codes: who moved is asked of the
        // registry, which audits the read.
        context_note: format!(
            "Accertamento della dimora abituale per una dichiarazione di residenza \
             ({movers} {persons}), protocollo {}. / Check of habitual dwelling for a \
             residence declaration ({movers} person(s)); esito: check_passed o check_failed.",
            change.protocol_number
        ),
        priority_category: PriorityCategory::None as i32,
        documents,
        protocol_registration_id: change.protocol_registration_id.clone(),
    };
    uow.emit_as(REQUESTED.into(), &message, aggregate(change, &id))
        .await?;
    Ok(())
}

/// Tells routing the check's clock or standing changed, in `uow`.
pub async fn update(
    uow: &mut UnitOfWork,
    change: &Change,
    kind: WorkUpdateKind,
    note: &str,
) -> Result<(), ServiceError> {
    let id = change.id.to_string();
    let message = WorkUpdated {
        work_id: id.clone(),
        origin: Some(origin(change)),
        municipality_istat_code: change.municipality.to_string(),
        kind: kind as i32,
        clock: Some(statutory_clock(change)?),
        note: note.to_owned(),
        ..Default::default()
    };
    uow.emit_as(UPDATED.into(), &message, aggregate(change, &id))
        .await?;
    Ok(())
}

/// The check's clock changed (a 10-bis notice sent, received, answered with
/// observations): routing's item follows, while routing still has it open.
pub async fn clock_changed(
    uow: &mut UnitOfWork,
    change: &Change,
    kind: WorkUpdateKind,
) -> Result<(), ServiceError> {
    if change.case_closed_at.is_some() {
        return Ok(());
    }
    let note = match kind {
        WorkUpdateKind::Suspended => {
            "Termine sospeso: preavviso di rigetto inviato (art. 10-bis L. 241/1990). / \
             Term suspended: notice of reasons against sent."
        }
        WorkUpdateKind::Resumed => {
            "Osservazioni ricevute: il termine riprende. / Observations received: the term \
             runs again."
        }
        _ => "Preavviso ricevuto: decorrono i 10 giorni. / Notice received: the 10 days run.",
    };
    update(uow, change, kind, note).await
}

/// The registry decided without the back office (silence-assent, the answer to the
/// observations, the window lapsed): routing completes the check's work with the
/// decision's outcome code — never the official's free-text reasons, which may name
/// people. Nothing is sent when routing's case is closed already.
pub async fn decided(
    uow: &mut UnitOfWork,
    change: &Change,
    order: &CloseOrder,
) -> Result<(), ServiceError> {
    if change.case_closed_at.is_some() {
        return Ok(());
    }
    let id = change.id.to_string();
    let message = WorkUpdated {
        work_id: id.clone(),
        origin: Some(origin(change)),
        municipality_istat_code: change.municipality.to_string(),
        kind: WorkUpdateKind::Decided as i32,
        clock: Some(statutory_clock(change)?),
        note: format!(
            "Deciso in anagrafe: {o}. / Decided in the registry: {o}.",
            o = order.outcome
        ),
        outcome_code: order.outcome.clone(),
        result: Default::default(),
    };
    uow.emit_as(UPDATED.into(), &message, aggregate(change, &id))
        .await?;
    Ok(())
}

/// Applies routing's events about the registry's work.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkEvents;

fn reject(why: impl Into<String>) -> HandlerError {
    metrics::counter!("sportello_registry_work_events_rejected_total").increment(1);
    HandlerError::Reject(why.into())
}

fn retry_or_reject(error: ServiceError) -> HandlerError {
    use sportello_kit::ErrorKind;
    match error.kind() {
        ErrorKind::InvalidArgument | ErrorKind::NotFound | ErrorKind::PermissionDenied => {
            reject(error.to_string())
        }
        _ => HandlerError::Retry(error),
    }
}

impl EventHandler for WorkEvents {
    fn handle<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        event: &'a EventRecord,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let change_name = event
                .event_type
                .strip_prefix("work.registry.")
                .ok_or_else(|| reject(format!("{} is not registry work", event.event_type)))?;
            let message = WorkChanged::decode(event.data.clone())
                .map_err(|e| reject(format!("undecodable work event: {e}")))?;
            let item = message
                .item
                .ok_or_else(|| reject("a work event without its item"))?;
            let Some(origin) = item.origin.as_ref() else {
                return Err(reject("a work item without its origin"));
            };
            // Other procedures of the registry are not routed yet: nothing to advance.
            if origin.procedure_kind != PROCEDURE_KIND {
                return Ok(());
            }
            let id = Uuid::parse_str(&origin.procedure_id)
                .map(ResidenceChangeId)
                .map_err(|_| reject("origin.procedure_id is not a UUID"))?;
            let Some(change) = store::lock(uow.conn(), id)
                .await
                .map_err(|e| HandlerError::Retry(e.into()))?
            else {
                return Err(reject(format!("no change of residence {id}")));
            };
            match change_name {
                "opened" => {
                    store::note_case(uow.conn(), id, &item.case_id)
                        .await
                        .map_err(|e| HandlerError::Retry(e.into()))?;
                }
                "completed" => {
                    completed(uow, change, &item.case_id, &item.outcome_code, &item)
                        .await
                        .map_err(retry_or_reject)?;
                }
                "cancelled" => {
                    // The case may be cancelled before its `opened` event is applied
                    // here (the consumer runs in order, but be safe): note both.
                    store::note_case(uow.conn(), id, &item.case_id)
                        .await
                        .map_err(|e| HandlerError::Retry(e.into()))?;
                    let now = uow.now();
                    store::mark_case_closed(uow.conn(), id, now)
                        .await
                        .map_err(|e| HandlerError::Retry(e.into()))?;
                }
                // Offers, acceptance, escalation, suspension: routing's own business,
                // shown by routing; the registry's procedure does not move on them.
                _ => {}
            }
            Ok(())
        })
    }
}

/// The specialist completed the check: passed confirms the move, failed records the
/// failure and waits for the 10-bis notice (no rejection without it, DPR 223/1989 art.
/// 18-bis c. 2) — the same operations as RecordAddressCheck.
async fn completed(
    uow: &mut UnitOfWork,
    change: Change,
    case_id: &str,
    outcome: &str,
    item: &sportello_proto::routing::v1::WorkItem,
) -> Result<(), ServiceError> {
    let id = change.id;
    store::note_case(uow.conn(), id, case_id).await?;
    let now = uow.now();
    // Closed in routing: noted first, so that the decision below sends nothing back.
    store::mark_case_closed(uow.conn(), id, now).await?;
    let undecided = change.status == Status::Recorded && change.check_failure.is_none();
    if !undecided {
        // Decided meanwhile in the registry (silence-assent, a check recorded over
        // gRPC): the first decision stands.
        tracing::info!(residence_change_id = %id, outcome,
            "routing completed a check the registry had already decided");
        return Ok(());
    }
    let change = store::lock(uow.conn(), id)
        .await?
        .ok_or_else(|| ServiceError::internal("the change vanished under its lock"))?;
    let actor = if item.holder.is_empty() {
        "system:routing".to_owned()
    } else {
        format!("operator:{}", item.holder)
    };
    let context = CallContext::new(
        "routing",
        &actor,
        change.municipality.as_str(),
        "residence.address_check",
    )
    .map_err(ServiceError::internal)?;
    match outcome {
        CHECK_PASSED => {
            let change = store::confirm(uow, &change, Basis::Check).await?;
            let order = CloseOrder {
                actor: actor.clone(),
                purpose: "residence.address_check".into(),
                outcome: Basis::Check.outcome_code().to_owned(),
                reason: "the address check confirmed the declaration".to_owned(),
            };
            timers::confirmed(uow, &change, &order).await?;
            uow.cancel_timer(SILENCE_TIMER, &change.id.to_string())
                .await?;
        }
        CHECK_FAILED => {
            // The specialist's structured result may say why; the reason is kept in the
            // registry only, never put back on an event.
            let reason = item
                .result
                .get("reason")
                .filter(|r| !r.trim().is_empty())
                .cloned()
                .unwrap_or_else(|| {
                    "accertamento negativo in back office / the back office's check failed"
                        .to_owned()
                });
            notice::check_failed(uow, &context, change.id, &reason).await?;
        }
        other => {
            return Err(ServiceError::invalid_field(
                "item.outcome_code",
                format!(
                    "{other:?} is not an outcome of the address check (check_passed, check_failed)"
                ),
            ));
        }
    }
    Ok(())
}
