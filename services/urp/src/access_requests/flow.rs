//! What every step of an access request shares: the request locked in the caller's
//! municipality, the term recomputed from its stops, the timer that gives access to
//! documents' silence its effect. Each step is one unit of work — lock, decide what the
//! law allows now, save, tell routing, set or cancel the timer, commit — in its own file.
//! Letters a step sends are registered in the protocol register first, keyed from the
//! request and the step, so a retry gets the same number.

use jiff::civil::Date;
use sportello_kit::{CallContext, ServiceError, UnitOfWork};
use sportello_pa::calendar::rome;
use uuid::Uuid;

use super::{
    domain::{Kind, State},
    store::{self, Access},
    terms, work,
};
use crate::error::UrpError;

/// The timer that gives the term of an access to documents its effect: silence is
/// refusal (L. 241/1990 art. 25 c. 4).
pub const EXPIRY_TIMER: &str = "urp.access_term";

pub(super) fn refuse(message: String) -> ServiceError {
    UrpError::Precondition(message).into()
}

pub(super) fn today(uow: &UnitOfWork) -> Date {
    rome::date_of(uow.now())
}

/// Locks request `id` of the caller's municipality.
pub(super) async fn locked(
    uow: &mut UnitOfWork,
    context: &CallContext,
    id: Uuid,
) -> Result<Access, ServiceError> {
    let a = store::lock(uow, id)
        .await?
        .ok_or_else(|| UrpError::RequestNotFound(id.to_string()))?;
    context.ensure_municipality(a.municipality)?;
    Ok(a)
}

/// Recomputes the decision's term from the stops; the clock routing gets.
pub(super) fn refresh(
    a: &mut Access,
) -> Result<sportello_proto::routing::v1::StatutoryClock, ServiceError> {
    let deadline = terms::decision(a.municipality, a.kind, a.received_on, &a.stops)?;
    a.due_date = deadline.due;
    Ok(work::clock(&deadline, &a.stops, a.objection_deadline))
}

/// Access to documents: the timer on the term's last day while the request waits for a
/// decision; none otherwise (civic access's term passing opens the review, no timer
/// needed: the review's check reads the day).
pub(super) async fn schedule_expiry(uow: &mut UnitOfWork, a: &Access) -> Result<(), ServiceError> {
    let key = a.id.to_string();
    match (a.kind, a.state, a.due_date) {
        (Kind::Documents, State::Received, Some(due)) => {
            let at = rome::end_of_day(due).map_err(ServiceError::internal)?;
            uow.schedule_timer(EXPIRY_TIMER, &key, at, serde_json::Value::Null)
                .await?;
        }
        _ => {
            uow.cancel_timer(EXPIRY_TIMER, &key).await?;
        }
    }
    Ok(())
}

pub(super) fn what(kind: Kind) -> &'static str {
    match kind {
        Kind::Documents => "Richiesta di accesso agli atti",
        Kind::CivicSimple => "Richiesta di accesso civico semplice",
        Kind::CivicGeneralised => "Richiesta di accesso civico generalizzato",
    }
}
