//! The notice of reasons against as a flow (L. 241/1990 art. 10-bis; DPR 223/1989 art.
//! 18-bis): each transition locks the change, decides, saves, emits and commits in one
//! unit of work. A failed check waits for the notice; the notice has the day it was sent
//! (its outgoing protocol date, within the 45 days) and the day it was received; the
//! citizen's 10 days count from receipt; the observations are answered with reasons, and
//! a durable timer rejects the change once the window has passed unused. Only then is the
//! previous state restored (art. 18-bis c. 2).

use futures::future::BoxFuture;
use jiff::civil::Date;
use sportello_kit::protocol::{Outgoing, ProtocolRegister};
use sportello_kit::{Aggregate, CallContext, ServiceError, Timer, TimerHandler, UnitOfWork};
use sportello_pa::calendar::rome;
use sportello_proto::registry::v1::{
    ResidenceChangeCheckFailed, ResidenceChangeNoticeReceived, ResidenceChangeObservationsRecorded,
    ResidenceChangeReasonsAgainstSent, ResidenceChangeRejected,
};
use sportello_proto::routing::v1::{OutgoingKind, WorkUpdateKind};

use super::{
    domain::{
        APPEAL, Answer, Basis, COMMUNICATIONS, LegalClock, Notice, NoticeDates, Observations,
        REJECTED_OUTCOME, Receipt, Status,
    },
    store::{self, Change},
    timers::{self, CloseOrder, SILENCE_TIMER},
};
use crate::{domain::ResidenceChangeId, error::RegistryError};

/// Rejects the change once the 10-day window for observations has passed unused.
pub const WINDOW_TIMER: &str = "registry.residence_observations_window";

fn not_found() -> RegistryError {
    RegistryError::NotFound {
        field: "residence_change_id",
        what: "no change of residence with this id",
    }
}

fn aggregate<'a>(change: &'a Change, id: &'a str) -> Aggregate<'a> {
    Aggregate {
        kind: "registry.residence_change",
        id,
        version: change.version,
        municipality: change.municipality,
    }
}

/// Locks the change and checks the caller may act on it.
async fn locked(
    uow: &mut UnitOfWork,
    context: &CallContext,
    id: ResidenceChangeId,
) -> Result<Change, ServiceError> {
    let change = store::lock(uow.conn(), id)
        .await
        .map_err(ServiceError::from)?
        .ok_or_else(not_found)?;
    context.ensure_municipality(change.municipality)?;
    Ok(change)
}

fn not_in_future(field: &'static str, day: Date, today: Date) -> Result<(), RegistryError> {
    if day > today {
        return Err(RegistryError::invalid(
            field,
            format!("è nel futuro / is in the future (today is {today})"),
        ));
    }
    Ok(())
}

fn clock_of(
    field: &'static str,
    change: &Change,
    notice: NoticeDates,
) -> Result<LegalClock, RegistryError> {
    LegalClock::of(change.municipality, change.effective_date, Some(notice))
        .map_err(|e| RegistryError::Precondition(format!("{field}: {e}")))
}

/// A failed address check: recorded, and the change waits for a notice of reasons
/// against (silence-assent still runs until one is sent). The 10-bis phase is handed to
/// routing as its own work in the same unit of work, so the back office lists it.
pub async fn check_failed(
    uow: &mut UnitOfWork,
    context: &CallContext,
    id: ResidenceChangeId,
    reason: &str,
) -> Result<Change, ServiceError> {
    let change = locked(uow, context, id).await?;
    let change = store::check_failed(uow, &change, reason).await?;
    let id = change.id.to_string();
    uow.emit(
        &ResidenceChangeCheckFailed {
            residence_change_id: id.clone(),
        },
        aggregate(&change, &id),
    )
    .await?;
    let requester_ref = declarant_ref(uow, &change).await?;
    super::work::request_reasons_against(uow, &change, &requester_ref).await
}

/// The declarant's requester_ref: the notice's and the rejection's recipient.
async fn declarant_ref(uow: &mut UnitOfWork, change: &Change) -> Result<String, ServiceError> {
    sqlx::query_scalar("select requester_ref from residents where id = $1")
        .bind(change.declarant_id.0)
        .fetch_optional(uow.conn())
        .await
        .map_err(ServiceError::from)?
        .ok_or_else(|| ServiceError::internal("a change whose declarant is not a resident"))
}

/// Sends the notice, registering it as an outgoing protocol entry (DPR 445/2000 art. 53
/// c. 5) when the request brings no number: every check of [`send`] runs first in a
/// transaction rolled back, so no number is taken for a notice that would be refused;
/// then the entry is registered (to the declarant, its key derived from the change and
/// the reasons, so a retry gets the same number) and the notice is sent with its number
/// and date.
pub async fn send_registered(
    db: &sportello_kit::Db,
    outgoing: &dyn ProtocolRegister,
    context: &CallContext,
    notice: &Notice,
) -> Result<Change, ServiceError> {
    if notice.protocol_number.is_some() {
        let mut uow = db.begin().await.map_err(ServiceError::from)?;
        let change = send(&mut uow, context, notice).await?;
        uow.commit().await.map_err(ServiceError::from)?;
        return Ok(change);
    }
    let document = {
        let mut trial = db.begin().await.map_err(ServiceError::from)?;
        let change = locked(&mut trial, context, notice.id).await?;
        let recipient = declarant_ref(&mut trial, &change).await?;
        let dry = Notice {
            protocol_number: Some("-".into()),
            sent_on: Some(notice.sent_on.unwrap_or(rome::date_of(trial.now()))),
            ..notice.clone()
        };
        send(&mut trial, context, &dry).await?;
        // Dropped without commit: rolled back, nothing of the trial remains.
        Outgoing::of_procedure(
            change.municipality,
            &change.id.to_string(),
            OutgoingKind::NoticeOfReasonsAgainst,
            &recipient,
            "Comunicazione dei motivi ostativi (L. 241/1990 art. 10-bis) - cambio di residenza",
            &notice.reasons,
        )
    };
    let entry = outgoing.register_outgoing(context, &document).await?;
    let sent_on = rome::date_of(entry.registered_at);
    if notice.sent_on.is_some_and(|day| day != sent_on) {
        return Err(RegistryError::invalid(
            "sent_date",
            format!(
                "la data di invio è quella del protocollo in uscita, {sent_on} / the day sent is \
                 the outgoing protocol date, {sent_on}"
            ),
        )
        .into());
    }
    let mut uow = db.begin().await.map_err(ServiceError::from)?;
    let change = send(
        &mut uow,
        context,
        &Notice {
            protocol_number: Some(entry.number),
            sent_on: Some(sent_on),
            ..notice.clone()
        },
    )
    .await?;
    uow.commit().await.map_err(ServiceError::from)?;
    Ok(change)
}

/// Sends the notice: its outgoing protocol date must fall within the 45 days (DPR
/// 223/1989 art. 18-bis c. 1); silence-assent no longer applies.
pub async fn send(
    uow: &mut UnitOfWork,
    context: &CallContext,
    notice: &Notice,
) -> Result<Change, ServiceError> {
    let (Some(protocol_number), Some(sent_on)) = (&notice.protocol_number, notice.sent_on) else {
        return Err(ServiceError::internal(
            "a notice sent without its outgoing protocol number and date",
        ));
    };
    let change = locked(uow, context, notice.id).await?;
    let today = rome::date_of(uow.now());
    not_in_future("sent_date", sent_on, today)?;
    if sent_on < change.effective_date {
        return Err(RegistryError::invalid(
            "sent_date",
            "è prima della dichiarazione / is before the declaration",
        )
        .into());
    }
    let clock = clock_of(
        "sent_date",
        &change,
        NoticeDates {
            sent: sent_on,
            received: None,
            observations: None,
        },
    )?;
    let change = store::notice(
        uow,
        &change,
        &notice.reasons,
        protocol_number,
        sent_on,
        clock,
    )
    .await?;
    let id = change.id.to_string();
    uow.cancel_timer(SILENCE_TIMER, &id).await?;
    uow.emit(
        &ResidenceChangeReasonsAgainstSent {
            residence_change_id: id.clone(),
        },
        aggregate(&change, &id),
    )
    .await?;
    // The 10-bis notice suspends the check's term: routing's clock follows, in the same
    // transaction.
    super::work::clock_changed(uow, &change, WorkUpdateKind::Suspended).await?;
    Ok(change)
}

/// Records the notice's receipt: the 10-day window opens, and its timer is set for the
/// day after it ends.
pub async fn received(
    uow: &mut UnitOfWork,
    context: &CallContext,
    receipt: &Receipt,
) -> Result<Change, ServiceError> {
    let change = locked(uow, context, receipt.id).await?;
    let Some((_, sent)) = change.notice_sent.clone() else {
        return Err(RegistryError::Precondition(
            "residence_change_id: nessun preavviso inviato / no notice of reasons against was sent"
                .into(),
        )
        .into());
    };
    if change.notice_received.is_some() {
        return Err(RegistryError::Precondition(
            "residence_change_id: la ricezione del preavviso è già registrata / the notice's \
             receipt is recorded already"
                .into(),
        )
        .into());
    }
    let today = rome::date_of(uow.now());
    not_in_future("received_date", receipt.received_on, today)?;
    let clock = clock_of(
        "received_date",
        &change,
        NoticeDates {
            sent,
            received: Some(receipt.received_on),
            observations: None,
        },
    )?;
    let change =
        store::notice_received(uow, &change, receipt.delivery, receipt.received_on, clock).await?;
    let id = change.id.to_string();
    let window_end = clock
        .observations_window_end
        .ok_or_else(|| ServiceError::internal("a received notice without its window"))?;
    let due = rome::end_of_day(window_end).map_err(ServiceError::internal)?;
    uow.schedule_timer(WINDOW_TIMER, &id, due, serde_json::json!({}))
        .await?;
    uow.emit(
        &ResidenceChangeNoticeReceived {
            residence_change_id: id.clone(),
            observations_window_end: window_end.to_string(),
        },
        aggregate(&change, &id),
    )
    .await?;
    Ok(change)
}

/// Records the citizen's observations, only within the window (L. 241/1990 art. 10-bis).
pub async fn observations(
    uow: &mut UnitOfWork,
    context: &CallContext,
    observations: &Observations,
) -> Result<Change, ServiceError> {
    let change = locked(uow, context, observations.id).await?;
    let (Some((_, sent)), Some((_, received_on)), Some(window_end)) = (
        change.notice_sent.clone(),
        change.notice_received,
        change.clock.observations_window_end,
    ) else {
        return Err(RegistryError::Precondition(
            "residence_change_id: la ricezione del preavviso non è registrata e il termine di \
             10 giorni decorre da essa / the notice's receipt is not recorded, and the 10-day \
             window counts from it (L. 241/1990 art. 10-bis)"
                .into(),
        )
        .into());
    };
    if change.observations.is_some() {
        return Err(RegistryError::Precondition(
            "residence_change_id: le osservazioni sono già registrate / the observations are \
             recorded already"
                .into(),
        )
        .into());
    }
    let today = rome::date_of(uow.now());
    not_in_future("received_date", observations.received_on, today)?;
    if observations.received_on < received_on {
        return Err(RegistryError::invalid(
            "received_date",
            format!(
                "è prima della ricezione del preavviso / is before the notice was received \
                 ({received_on})"
            ),
        )
        .into());
    }
    if observations.received_on > window_end {
        return Err(RegistryError::Precondition(format!(
            "received_date: osservazioni fuori termine, il termine di 10 giorni è scaduto il \
             {window_end} / observations after the 10-day window of L. 241/1990 art. 10-bis, \
             which ended {window_end}"
        ))
        .into());
    }
    let clock = clock_of(
        "received_date",
        &change,
        NoticeDates {
            sent,
            received: Some(received_on),
            observations: Some(observations.received_on),
        },
    )?;
    let change = store::observations(
        uow,
        &change,
        observations.received_on,
        &observations.text,
        clock,
    )
    .await?;
    let id = change.id.to_string();
    uow.cancel_timer(WINDOW_TIMER, &id).await?;
    uow.emit(
        &ResidenceChangeObservationsRecorded {
            residence_change_id: id.clone(),
        },
        aggregate(&change, &id),
    )
    .await?;
    Ok(change)
}

/// Answers the observations: accepted confirms the move, rejected restores the previous
/// state. Returns the change and the order to close the check's case.
pub async fn answer(
    uow: &mut UnitOfWork,
    outgoing: &dyn ProtocolRegister,
    context: &CallContext,
    answer: &Answer,
) -> Result<(Change, CloseOrder), ServiceError> {
    let change = locked(uow, context, answer.id).await?;
    if change.observations.is_none() {
        return Err(RegistryError::Precondition(
            "residence_change_id: nessuna osservazione da valutare / no observations to answer"
                .into(),
        )
        .into());
    }
    if change.observations_answer.is_some() {
        return Err(RegistryError::Precondition(
            "residence_change_id: le osservazioni hanno già risposta / the observations are \
             answered already"
                .into(),
        )
        .into());
    }
    let change = store::answer(uow, &change, answer.accepted, &answer.reasons).await?;
    let mut order = CloseOrder {
        actor: context.actor().to_owned(),
        purpose: context.purpose().to_owned(),
        outcome: Basis::Check.outcome_code().to_owned(),
        reason: "the observations on the notice of reasons against were accepted".to_owned(),
    };
    let change = if answer.accepted {
        let change = store::confirm(uow, &change, Basis::Check).await?;
        timers::confirmed(uow, &change, &order).await?;
        change
    } else {
        order.outcome = REJECTED_OUTCOME.to_owned();
        order.reason = answer.reasons.chars().take(200).collect();
        reject(uow, outgoing, &change, &answer.reasons, &order).await?
    };
    uow.cancel_timer(SILENCE_TIMER, &change.id.to_string())
        .await?;
    Ok((change, order))
}

/// Restores the previous state (art. 18-bis c. 2), registers the rejection to the
/// declarant and the communications DL 5/2012 art. 5 c. 4 requires as outgoing protocol
/// entries (DPR 445/2000 art. 53 c. 5), emits the rejection with those communications
/// and the appeal, and orders the case closed.
///
/// The entries are registered inside the rejecting transaction, after the rejection's
/// own checks: should the commit fail, the retry (the call, or the timer firing again)
/// gets the same entries through their derived keys.
pub async fn reject(
    uow: &mut UnitOfWork,
    outgoing: &dyn ProtocolRegister,
    change: &Change,
    reason: &str,
    order: &CloseOrder,
) -> Result<Change, ServiceError> {
    let change = store::reject(uow, change, reason).await?;
    let id = change.id.to_string();
    let declarant = declarant_ref(uow, &change).await?;
    let municipality = change.municipality;
    let communication = |recipient: &str| {
        Outgoing::of_procedure(
            municipality,
            &id,
            OutgoingKind::Communication,
            recipient,
            "Comunicazione del rigetto della dichiarazione di residenza (DL 5/2012 art. 5 c. 4)",
            reason,
        )
    };
    let mut documents = vec![
        Outgoing::of_procedure(
            municipality,
            &id,
            OutgoingKind::Rejection,
            &declarant,
            "Rigetto della dichiarazione di residenza (DPR 223/1989 art. 18-bis c. 2)",
            reason,
        ),
        // The public-security authority of the municipality: a code, not a name.
        communication(&format!("pubblica_sicurezza:{municipality}")),
    ];
    if let Some(origin) = &change.origin_municipality {
        documents.push(communication(&format!("istat:{origin}")));
    }
    let caller = order.context(&change)?;
    for document in &documents {
        outgoing.register_outgoing(&caller, document).await?;
    }
    uow.emit(
        &ResidenceChangeRejected {
            residence_change_id: id.clone(),
            resident_ids: change.members.iter().map(|(m, _)| m.to_string()).collect(),
            communications: COMMUNICATIONS
                .iter()
                .map(|c| (*c).to_owned())
                .chain(
                    change
                        .origin_municipality
                        .as_ref()
                        .map(|_| "municipality_of_origin".to_owned()),
                )
                .collect(),
            appeal: APPEAL.to_owned(),
        },
        aggregate(&change, &id),
    )
    .await?;
    timers::order_close(uow, &change, order).await?;
    Ok(change)
}

/// The window passed unused: the change is rejected on the notice's reasons.
#[derive(Debug, Clone)]
pub struct WindowLapsed {
    /// Where the rejection and its communications are registered.
    pub outgoing: std::sync::Arc<dyn ProtocolRegister>,
}

impl TimerHandler for WindowLapsed {
    fn fire<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        timer: &'a Timer,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let id: ResidenceChangeId = timer.key.parse().map(ResidenceChangeId).map_err(|_| {
                ServiceError::internal("a window timer whose key is not a change id")
            })?;
            let Some(change) = store::lock(uow.conn(), id).await? else {
                return Ok(());
            };
            let today = rome::date_of(uow.now());
            // Decided, or observations arrived, since the timer was set: nothing to do.
            if change.status != Status::Recorded
                || change.observations.is_some()
                || store::may_reject(&change, today).is_err()
            {
                return Ok(());
            }
            let reasons = change
                .reasons_against
                .as_ref()
                .map(|(_, r)| r.clone())
                .ok_or_else(|| ServiceError::internal("a notice without its reasons"))?;
            let order = CloseOrder {
                actor: "system:observations-window".into(),
                purpose: "residence.reasons_against".into(),
                outcome: REJECTED_OUTCOME.into(),
                reason:
                    "the 10-day window for observations passed unused (L. 241/1990 art. 10-bis)"
                        .into(),
            };
            let change = reject(uow, self.outgoing.as_ref(), &change, &reasons, &order).await?;
            tracing::info!(residence_change_id = %change.id, "rejected: the window for observations passed unused");
            Ok(())
        })
    }
}
