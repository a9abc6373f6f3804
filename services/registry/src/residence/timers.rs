//! The procedure's durable timers: silence-assent on the day the statutory clock gives.
//! A decision reaches routing as a work update through the outbox (`super::work`), in the
//! decision's own transaction: nothing to retry by hand when routing is away.

use futures::future::BoxFuture;
use sportello_kit::{Aggregate, CallContext, ServiceError, Timer, TimerHandler, UnitOfWork};
use sportello_proto::registry::v1::{ConfirmationBasis, ResidenceChangeConfirmed};

use super::{
    domain::{Basis, Status},
    store::{self, Change},
    work,
};
use crate::domain::ResidenceChangeId;

/// Silence-assent: confirms a change 45 days on, unless decided or noticed meanwhile.
pub const SILENCE_TIMER: &str = "registry.residence_silence_assent";
/// Closed the check's case in routing with a CloseCase call before the work hand-off;
/// timers of this kind still pending from then are honoured through the outbox.
pub const CLOSE_TIMER: &str = "registry.residence_close_check";

/// Who decided, and with which outcome for the check's work.
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
    /// The context to call routing with on the actor's behalf (the outgoing protocol
    /// entries of a decision).
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

/// Tells routing the change is decided: a work update in `uow`, published after the
/// commit (nothing when routing's case is closed already).
pub async fn order_close(
    uow: &mut UnitOfWork,
    change: &Change,
    order: &CloseOrder,
) -> Result<(), ServiceError> {
    work::decided(uow, change, order).await
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

/// A close timer left from before the work hand-off: sends the decision as a work update.
#[derive(Debug, Clone, Copy, Default)]
pub struct CloseCheck;

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
            let order: CloseOrder =
                serde_json::from_value(timer.payload.clone()).map_err(ServiceError::internal)?;
            order_close(uow, &change, &order).await
        })
    }
}
