//! Presence changes, and the rule that turns a silent operator offline.
//!
//! Presence changes only when the operator acts (set presence, call, complete, park,
//! transfer) or a rule fires (a lost heartbeat). Every change is an event that says why;
//! nothing ever makes an operator available by itself.

use futures::future::BoxFuture;
use jiff::{SignedDuration, Timestamp};
use sportello_kit::{
    Aggregate, ServiceError, Timer, TimerHandler, UnitOfWork, events::to_proto_timestamp,
};
use sportello_proto::routing::v1::{OperatorPresenceChanged, Presence, PresenceChangeReason};

use super::{domain::Operator, store};
use crate::{cases, error::RoutingError};

/// The timer kind that checks an operator's heartbeat.
pub const HEARTBEAT_TIMER: &str = "operator.heartbeat";

/// Changes a locked operator's presence, records the wrap-up time when leaving wrap-up,
/// and writes the event. No change, no event.
pub async fn change(
    uow: &mut UnitOfWork,
    mut operator: Operator,
    to: Presence,
    reason: PresenceChangeReason,
) -> Result<Operator, RoutingError> {
    let from = operator.presence;
    if from == to {
        return Ok(operator);
    }
    let now = uow.now();
    let wrap_up_seconds = if from == Presence::WrapUp {
        let seconds = now.duration_since(operator.presence_since).as_secs().max(0);
        let seconds = i32::try_from(seconds).unwrap_or(i32::MAX);
        if let Some(case) = operator.wrap_up_case.take() {
            cases::store::record_wrap_up(uow, case, seconds).await?;
        }
        u32::try_from(seconds).unwrap_or_default()
    } else {
        0
    };
    operator.presence = to;
    operator.presence_since = now;
    let operator = store::save(uow, operator).await?;
    let event = OperatorPresenceChanged {
        operator_id: operator.profile.id.clone(),
        municipality_istat_code: operator.profile.municipality.to_string(),
        site_id: operator
            .seat
            .map(|(s, _)| s.to_string())
            .unwrap_or_default(),
        from: from as i32,
        to: to as i32,
        reason: reason as i32,
        wrap_up_seconds,
        time: Some(to_proto_timestamp(now)),
    };
    let aggregate = Aggregate {
        kind: "routing.operator",
        id: &operator.profile.id,
        version: operator.version,
        municipality: operator.profile.municipality,
    };
    uow.emit(&event, aggregate).await?;
    Ok(operator)
}

/// Moves the heartbeat deadline of an operator to `due`.
pub async fn schedule_check(
    uow: &mut UnitOfWork,
    operator_id: &str,
    due: Timestamp,
) -> Result<(), RoutingError> {
    uow.schedule_timer(HEARTBEAT_TIMER, operator_id, due, serde_json::Value::Null)
        .await?;
    Ok(())
}

/// Fires when an operator's client may have gone silent: turns them offline, saying why,
/// if no heartbeat came within the timeout (a later heartbeat moved the timer, so this
/// rarely finds a live client; the check makes sure).
#[derive(Debug, Clone)]
pub struct HeartbeatCheck {
    /// The heartbeat timeout.
    pub timeout: std::time::Duration,
}

impl TimerHandler for HeartbeatCheck {
    fn fire<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        timer: &'a Timer,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let operator = match store::lock(uow, &timer.key).await {
                Ok(operator) => operator,
                Err(RoutingError::OperatorNotFound) => return Ok(()),
                Err(error) => return Err(error.into()),
            };
            if operator.presence == Presence::Offline {
                return Ok(());
            }
            let timeout = SignedDuration::try_from(self.timeout).unwrap_or(SignedDuration::MAX);
            let silent_since = operator
                .last_heartbeat_at
                .unwrap_or(operator.presence_since)
                .max(operator.presence_since);
            if uow.now().duration_since(silent_since) < timeout {
                // Still alive: check again when this silence would reach the timeout.
                let due = silent_since.checked_add(timeout).unwrap_or(timer.due_at);
                schedule_check(uow, &operator.profile.id, due).await?;
                return Ok(());
            }
            // A case in hand goes back to its queue keeping its place: a citizen is never
            // left called to the counter of an operator who is gone.
            if let Some(case) = cases::store::held_by(uow.conn(), &operator.profile.id).await? {
                cases::counter::requeue(
                    uow,
                    case,
                    "system:heartbeat",
                    "operator offline: heartbeat lost",
                )
                .await?;
            }
            tracing::info!("heartbeat lost: operator offline");
            change(
                uow,
                operator,
                Presence::Offline,
                PresenceChangeReason::HeartbeatLost,
            )
            .await?;
            Ok(())
        })
    }
}
