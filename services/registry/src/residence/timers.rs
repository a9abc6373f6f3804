//! The procedure's durable timers: silence-assent on the day the statutory clock gives,
//! and closing the check's case in routing after a decision (retried with backoff while
//! routing is away).

use std::sync::Arc;

use futures::future::BoxFuture;
use sportello_kit::{Aggregate, CallContext, ServiceError, Timer, TimerHandler, UnitOfWork};
use sportello_proto::registry::v1::{ConfirmationBasis, ResidenceChangeConfirmed};

use super::{
    domain::{Basis, Status},
    intake::Intake,
    store::{self, Change},
};
use crate::domain::ResidenceChangeId;

/// Silence-assent: confirms a change 45 days on, unless decided or noticed meanwhile.
pub const SILENCE_TIMER: &str = "registry.residence_silence_assent";
/// Closes the check's case in routing with the decision's outcome.
pub const CLOSE_TIMER: &str = "registry.residence_close_check";

/// Who closes the check, and how: kept with the close timer.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CloseOrder {
    /// The acting user (the checker, or `system:silence-assent`).
    pub actor: String,
    /// The purpose.
    pub purpose: String,
    /// The case's outcome code.
    pub outcome: String,
    /// Why, without personal data (at most 200 characters).
    pub reason: String,
}

impl CloseOrder {
    /// The context to call routing with on the actor's behalf.
    pub fn context(&self, change: &Change) -> Result<CallContext, ServiceError> {
        CallContext::new(
            "registry",
            &self.actor,
            change.municipality.as_str(),
            &self.purpose,
        )
        .map_err(ServiceError::internal)
    }
}

fn change_id(timer: &Timer) -> Result<ResidenceChangeId, ServiceError> {
    timer
        .key
        .parse()
        .map(ResidenceChangeId)
        .map_err(|_| ServiceError::internal("a residence timer whose key is not a change id"))
}

/// Emits the confirmation and orders the case closed, in `uow`.
pub async fn confirmed(
    uow: &mut UnitOfWork,
    change: &Change,
    order: &CloseOrder,
) -> Result<(), ServiceError> {
    let id = change.id.to_string();
    let basis = match change.basis {
        Some(Basis::SilenceAssent) => ConfirmationBasis::SilenceAssent,
        _ => ConfirmationBasis::Check,
    };
    uow.emit(
        &ResidenceChangeConfirmed {
            residence_change_id: id.clone(),
            basis: basis as i32,
            resident_ids: change.members.iter().map(|(m, _)| m.to_string()).collect(),
        },
        Aggregate {
            kind: "registry.residence_change",
            id: &id,
            version: change.version,
            municipality: change.municipality,
        },
    )
    .await?;
    order_close(uow, change, order).await
}

/// Schedules the close timer, due now.
pub async fn order_close(
    uow: &mut UnitOfWork,
    change: &Change,
    order: &CloseOrder,
) -> Result<(), ServiceError> {
    let payload = serde_json::to_value(order).map_err(ServiceError::internal)?;
    let now = uow.now();
    uow.schedule_timer(CLOSE_TIMER, &change.id.to_string(), now, payload)
        .await?;
    Ok(())
}

/// Fires silence-assent.
#[derive(Debug, Clone, Copy, Default)]
pub struct SilenceAssent;

impl TimerHandler for SilenceAssent {
    fn fire<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        timer: &'a Timer,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let id = change_id(timer)?;
            let Some(change) = store::lock(uow.conn(), id).await? else {
                return Ok(());
            };
            // Decided, or a notice was sent, since the timer was set: nothing to do.
            if change.status != Status::Recorded || change.reasons_against.is_some() {
                return Ok(());
            }
            let change = store::confirm(uow, &change, Basis::SilenceAssent).await?;
            tracing::info!(residence_change_id = %change.id, "confirmed by silence-assent");
            confirmed(
                uow,
                &change,
                &CloseOrder {
                    actor: "system:silence-assent".into(),
                    purpose: "residence.silence_assent".into(),
                    outcome: Basis::SilenceAssent.outcome_code().into(),
                    reason:
                        "45 days passed without a notice of reasons against (DPR 223/1989 art. 18-bis c. 1; DL 5/2012 art. 5 c. 5)"
                            .into(),
                },
            )
            .await
        })
    }
}

/// Closes the check's case in routing.
#[derive(Debug, Clone)]
pub struct CloseCheck {
    /// Routing.
    pub intake: Arc<dyn Intake>,
}

impl TimerHandler for CloseCheck {
    fn fire<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        timer: &'a Timer,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let id = change_id(timer)?;
            let Some(change) = store::get(uow.conn(), id).await? else {
                return Ok(());
            };
            if change.case_closed_at.is_some() {
                return Ok(());
            }
            let order: CloseOrder =
                serde_json::from_value(timer.payload.clone()).map_err(ServiceError::internal)?;
            close(self.intake.as_ref(), uow, &change, &order).await
        })
    }
}

/// Closes the check's case and notes it, in `uow`.
pub async fn close(
    intake: &dyn Intake,
    uow: &mut UnitOfWork,
    change: &Change,
    order: &CloseOrder,
) -> Result<(), ServiceError> {
    let context = order.context(change)?;
    intake
        .close_check(
            &context,
            &change.check_case_id,
            &order.outcome,
            &order.reason,
        )
        .await?;
    let now = uow.now();
    store::mark_case_closed(uow.conn(), change.id, now).await?;
    Ok(())
}
