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
//!
//! A failed check closes the check's work, but the procedure goes on through the 10-bis
//! steps (notice, receipt, observations, answer): so, in the transaction that records
//! the failure, the registry requests a second piece of work,
//! `registry.residence_reasons_against`, whose id is derived from the change's (a
//! redelivery derives the same id and routing dedupes it) and whose procedure id is the
//! change's (routing's continuity prefers the specialist who did the check). From then on
//! the clock's changes and the decision go to that work, not the check's. Only the
//! registry decides it: a specialist's outcome on it is not a check outcome.

use futures::future::BoxFuture;
use sha2::{Digest, Sha256};
use sportello_kit::{
    Aggregate, CallContext, ConsumerSpec, EventHandler, EventRecord, HandlerError, ServiceError,
    UnitOfWork,
};
use sportello_pa::{Calendar, ClockOptions, Outcome, Procedure, Stop, clock};
use sportello_proto::routing::v1::{
    ClockSuspension, DocumentRef, OutcomeOnExpiry, PriorityCategory, StatutoryClock, WorkItem,
    WorkOrigin, WorkRequested, WorkUpdateKind, WorkUpdated,
};
use uuid::Uuid;

use super::{
    domain::{Basis, REJECTED_OUTCOME, Status},
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
/// The catalogue code of the 10-bis phase after a failed check.
pub const REASONS_AGAINST_SERVICE: &str = "registry.residence_reasons_against";
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

/// The 10-bis phase's work id, derived from the change's id: the same change always
/// derives the same id, so a redelivered check outcome requests the same work and
/// routing dedupes it. (A name-based UUID: SHA-256 of the change's id and a label, as a
/// version-8 UUID — the workspace's uuid has no SHA-1 feature, and none is needed.)
pub fn reasons_against_work_id(change: ResidenceChangeId) -> Uuid {
    let digest = Sha256::new()
        .chain_update(change.0.as_bytes())
        .chain_update(b"art-10-bis")
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// The work the procedure's clock and decision go to: the 10-bis phase's once requested,
/// the check's before; and whether routing has closed it already.
fn current_work(change: &Change) -> (String, bool) {
    if change.reasons_against_work_at.is_some() {
        (
            reasons_against_work_id(change.id).to_string(),
            change.reasons_against_closed_at.is_some(),
        )
    } else {
        (change.id.to_string(), change.case_closed_at.is_some())
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

/// Tells routing the procedure's clock or standing changed, in `uow`: to the current
/// work (the check's, or the 10-bis phase's after a failed check).
pub async fn update(
    uow: &mut UnitOfWork,
    change: &Change,
    kind: WorkUpdateKind,
    note: &str,
) -> Result<(), ServiceError> {
    let id = change.id.to_string();
    let (work_id, _) = current_work(change);
    let message = WorkUpdated {
        work_id,
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

/// The procedure's clock changed (a 10-bis notice sent, received, answered with
/// observations): routing's current item follows, while routing still has it open.
pub async fn clock_changed(
    uow: &mut UnitOfWork,
    change: &Change,
    kind: WorkUpdateKind,
) -> Result<(), ServiceError> {
    if current_work(change).1 {
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
/// observations, the window lapsed): routing completes the current work (the check's,
/// or the 10-bis phase's) with the decision's outcome code — never the official's
/// free-text reasons, which may name people. Nothing is sent when routing's case is
/// closed already.
pub async fn decided(
    uow: &mut UnitOfWork,
    change: &Change,
    order: &CloseOrder,
) -> Result<(), ServiceError> {
    let (work_id, closed) = current_work(change);
    if closed {
        return Ok(());
    }
    let id = change.id.to_string();
    let message = WorkUpdated {
        work_id,
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

/// The next 10-bis step, for the context note (what the back office does next).
fn next_step(change: &Change) -> &'static str {
    if change.notice_sent.is_none() {
        "inviare il preavviso di rigetto / send the notice of reasons against"
    } else if change.notice_received.is_none() {
        "registrare la ricezione del preavviso / record the notice's receipt"
    } else if change.observations.is_none() {
        "registrare le osservazioni, se arrivano entro 10 giorni / record the observations, \
         if they arrive within 10 days"
    } else {
        "rispondere alle osservazioni / answer the observations"
    }
}

/// The check failed: hands the 10-bis phase to routing as its own work, in `uow` (the
/// failure's own transaction), and closes the check's work when routing still has it
/// open (a failure recorded over gRPC rather than by the specialist completing it), so
/// one change has one open item. Once only: a change that has the work already is
/// returned as it is.
pub async fn request_reasons_against(
    uow: &mut UnitOfWork,
    change: &Change,
    requester_ref: &str,
) -> Result<Change, ServiceError> {
    if change.reasons_against_work_at.is_some() {
        return Ok(change.clone());
    }
    let id = change.id.to_string();
    if change.case_closed_at.is_none() {
        // The check's work ends with the check: its outcome is the failure. Routing's
        // `completed` for it then finds the failure recorded and changes nothing.
        let message = WorkUpdated {
            work_id: id.clone(),
            origin: Some(origin(change)),
            municipality_istat_code: change.municipality.to_string(),
            kind: WorkUpdateKind::Decided as i32,
            clock: Some(statutory_clock(change)?),
            note: "Accertamento negativo registrato in anagrafe. / Failed check recorded in \
                   the registry."
                .into(),
            outcome_code: CHECK_FAILED.into(),
            result: Default::default(),
        };
        uow.emit_as(UPDATED.into(), &message, aggregate(change, &id))
            .await?;
    }
    let change = store::reasons_against_requested(uow, change).await?;
    let message = WorkRequested {
        work_id: reasons_against_work_id(change.id).to_string(),
        origin: Some(origin(&change)),
        municipality_istat_code: change.municipality.to_string(),
        service_code: REASONS_AGAINST_SERVICE.into(),
        requester_ref: requester_ref.to_owned(),
        clock: Some(statutory_clock(&change)?),
        // No names, no fiscal codes, not the check's reasons (they may name people):
        // those are read from the registry, which audits the read.
        context_note: format!(
            "Accertamento negativo sulla dichiarazione di residenza, protocollo {p} / the \
             address check failed, protocol {p}. Prossimo passo (art. 10-bis L. 241/1990) / \
             next step: {step}. Decide l'anagrafe con la risposta alle osservazioni o alla \
             scadenza del termine / the registry decides with the answer to the \
             observations or when their window lapses.",
            p = change.protocol_number,
            step = next_step(&change),
        ),
        priority_category: PriorityCategory::None as i32,
        documents: Vec::new(),
        protocol_registration_id: change.protocol_registration_id.clone(),
    };
    uow.emit_as(REQUESTED.into(), &message, aggregate(&change, &id))
        .await?;
    Ok(change)
}

/// Applies routing's events about the registry's work.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkEvents;

/// Routing's work events the registry could never apply.
const REJECTED: &str = "sportello_registry_work_events_rejected_total";

fn reject(why: impl Into<String>) -> HandlerError {
    sportello_kit::work::reject(REJECTED, why)
}

fn retry_or_reject(error: ServiceError) -> HandlerError {
    sportello_kit::work::retry_or_reject(REJECTED, error)
}

impl EventHandler for WorkEvents {
    fn handle<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        event: &'a EventRecord,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let work = sportello_kit::work::WorkEvent::decode(event, "registry", REJECTED)?;
            // Other procedures of the registry are not routed yet: nothing to advance.
            if work.origin().procedure_kind != PROCEDURE_KIND {
                return Ok(());
            }
            let id = ResidenceChangeId(work.procedure_id(REJECTED)?);
            let (change_name, item) = (work.change.as_str(), &work.item);
            let Some(change) = store::lock(uow.conn(), id)
                .await
                .map_err(|e| HandlerError::Retry(e.into()))?
            else {
                return Err(reject(format!("no change of residence {id}")));
            };
            if item.service_code == REASONS_AGAINST_SERVICE
                || item.work_id == reasons_against_work_id(id).to_string()
            {
                return reasons_against_event(uow, &change, change_name, item)
                    .await
                    .map_err(|e| HandlerError::Retry(e.into()));
            }
            match change_name {
                "opened" => {
                    store::note_case(uow.conn(), id, &item.case_id)
                        .await
                        .map_err(|e| HandlerError::Retry(e.into()))?;
                }
                "completed" => {
                    completed(uow, change, &item.case_id, &item.outcome_code, item)
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

/// Routing's events about the 10-bis phase's work: they note its case and its closing,
/// never a check outcome. Only the registry decides the phase (the answer to the
/// observations, the window lapsing, silence-assent before a notice): a `completed` whose
/// outcome is not the registry's decision (a specialist completing the item by hand) is
/// logged and changes nothing in the procedure.
async fn reasons_against_event(
    uow: &mut UnitOfWork,
    change: &Change,
    change_name: &str,
    item: &WorkItem,
) -> Result<(), sqlx::Error> {
    let id = change.id;
    match change_name {
        "opened" => store::note_reasons_against_case(uow.conn(), id, &item.case_id).await?,
        "completed" | "cancelled" => {
            store::note_reasons_against_case(uow.conn(), id, &item.case_id).await?;
            // Closed in routing, whoever closed it: updates to it would be ignored there.
            let now = uow.now();
            store::mark_reasons_against_closed(uow.conn(), id, now).await?;
            let decided = match change.status {
                Status::Recorded => None,
                Status::Rejected => Some(REJECTED_OUTCOME),
                Status::Confirmed => change.basis.map(Basis::outcome_code),
            };
            if change_name == "completed" && decided != Some(item.outcome_code.as_str()) {
                tracing::info!(residence_change_id = %id, outcome = %item.outcome_code,
                    "routing completed the 10-bis work with an outcome the registry did not \
                     decide: nothing recorded");
            }
        }
        _ => {}
    }
    Ok(())
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
