//! How permits end by the calendar: at the start of the day after their last (the expiry
//! timer, scheduled when issued), or when a review's grace runs out with the office not
//! having kept the permit (the grace timer, scheduled when the review opens). Each end is
//! an event, so the whitelist drops the plates at once, and gives back the quota's place.

use futures::future::BoxFuture;
use jiff::{ToSpan, civil::Date};
use sportello_kit::{
    Aggregate, ServiceError, UnitOfWork,
    timers::{Timer, TimerHandler},
};
use sportello_pa::calendar::rome;
use sportello_proto::mobility::v1::PermitEnded;
use uuid::Uuid;

use super::{
    domain::State,
    store::{self, Permit},
    work,
};

/// The timer that ends a permit after its last day.
pub const EXPIRY_TIMER: &str = "mobility.permit_expiry";
/// The timer that ends a permit whose review's grace ran out.
pub const GRACE_TIMER: &str = "mobility.permit_grace";
/// The timer that lapses a permit whose notice was not paid by its due date.
pub const UNPAID_TIMER: &str = "mobility.permit_unpaid";

/// Schedules the lapse of an unpaid permit: the start of the day after `due`.
pub async fn schedule_unpaid(
    uow: &mut UnitOfWork,
    permit: Uuid,
    due: Date,
) -> Result<(), ServiceError> {
    let day = due.checked_add(1.day()).map_err(ServiceError::internal)?;
    let at = rome::start_of_day(day).map_err(ServiceError::internal)?;
    uow.schedule_timer(
        UNPAID_TIMER,
        &permit.to_string(),
        at,
        serde_json::Value::Null,
    )
    .await?;
    Ok(())
}

/// Schedules the end of `permit` at the start of `day` (Europe/Rome).
pub async fn schedule_expiry(
    uow: &mut UnitOfWork,
    permit: &Permit,
    day: Date,
) -> Result<(), ServiceError> {
    let at = rome::start_of_day(day).map_err(ServiceError::internal)?;
    uow.schedule_timer(
        EXPIRY_TIMER,
        &permit.id.to_string(),
        at,
        serde_json::Value::Null,
    )
    .await?;
    Ok(())
}

/// Schedules the end of the grace: the start of the day after `grace_until`.
pub async fn schedule_grace(
    uow: &mut UnitOfWork,
    permit: Uuid,
    grace_until: Date,
) -> Result<(), ServiceError> {
    let day = grace_until
        .checked_add(1.day())
        .map_err(ServiceError::internal)?;
    let at = rome::start_of_day(day).map_err(ServiceError::internal)?;
    uow.schedule_timer(
        GRACE_TIMER,
        &permit.to_string(),
        at,
        serde_json::Value::Null,
    )
    .await?;
    Ok(())
}

/// Ends `permit` in `uow` for `cause`, saying `reason`, and publishes it; its timers are
/// cancelled, except `firing` (the one ending it, which the worker marks fired).
pub async fn end(
    uow: &mut UnitOfWork,
    permit: &Permit,
    cause: &str,
    reason: &str,
    firing: Option<&str>,
) -> Result<(), ServiceError> {
    store::end(uow, permit, reason).await?;
    let id = permit.id.to_string();
    uow.emit(
        &PermitEnded {
            permit_id: id.clone(),
            municipality_istat_code: permit.municipality.to_string(),
            zone_code: permit.zone_code.clone(),
            cause: cause.to_owned(),
        },
        Aggregate {
            kind: "mobility.permit",
            id: &id,
            version: permit.version + 1,
            municipality: permit.municipality,
        },
    )
    .await?;
    for timer in [EXPIRY_TIMER, GRACE_TIMER, UNPAID_TIMER] {
        if firing != Some(timer) {
            uow.cancel_timer(timer, &id).await?;
        }
    }
    tracing::info!(permit_id = %id, cause, "permit ended");
    Ok(())
}

fn permit_id(timer: &Timer) -> Result<Uuid, ServiceError> {
    Uuid::parse_str(&timer.key)
        .map_err(|_| ServiceError::internal("a permit timer whose key is no id"))
}

/// Ends a permit after its last day.
#[derive(Debug, Clone, Copy, Default)]
pub struct Expiry;

impl TimerHandler for Expiry {
    fn fire<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        timer: &'a Timer,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let Some(permit) = store::lock(uow, permit_id(timer)?).await? else {
                return Ok(());
            };
            let today = rome::date_of(uow.now());
            if permit.state == State::Ended || today <= permit.valid_until {
                return Ok(());
            }
            let reason = format!(
                "scaduto il {day} / expired on {day}",
                day = permit.valid_until
            );
            // Under review to its last day: the review has nothing left to decide.
            if permit.state == State::UnderReview {
                work::decided(uow, &permit, "expired").await?;
            }
            end(uow, &permit, "expired", &reason, Some(EXPIRY_TIMER)).await
        })
    }
}

/// Ends a permit whose review's grace ran out, and tells routing the review is decided.
#[derive(Debug, Clone, Copy, Default)]
pub struct Grace;

impl TimerHandler for Grace {
    fn fire<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        timer: &'a Timer,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let Some(permit) = store::lock(uow, permit_id(timer)?).await? else {
                return Ok(());
            };
            let (State::UnderReview, Some(grace_until)) = (permit.state, permit.grace_until) else {
                return Ok(());
            };
            if rome::date_of(uow.now()) <= grace_until {
                return Ok(());
            }
            let reason = format!(
                "periodo di tolleranza finito il {grace_until} senza conferma dell'ufficio / \
                 grace period over on {grace_until} without the office keeping it"
            );
            work::decided(uow, &permit, "grace_over").await?;
            end(uow, &permit, "grace_over", &reason, Some(GRACE_TIMER)).await
        })
    }
}

/// Lapses a permit still unpaid after its notice's due date: its quota place and plates
/// go back. A receipt arriving later is recorded and left to the office (a refund).
#[derive(Debug, Clone, Copy, Default)]
pub struct Unpaid;

impl TimerHandler for Unpaid {
    fn fire<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        timer: &'a Timer,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let Some(permit) = store::lock(uow, permit_id(timer)?).await? else {
                return Ok(());
            };
            if permit.state == State::Ended || permit.activated_at.is_some() {
                return Ok(());
            }
            if permit.state == State::UnderReview {
                work::decided(uow, &permit, "unpaid").await?;
            }
            let reason = "decaduto: l'avviso pagoPA non è stato pagato entro la scadenza / \
                          lapsed: its pagoPA notice was not paid by its due date";
            end(uow, &permit, "unpaid", reason, Some(UNPAID_TIMER)).await
        })
    }
}
