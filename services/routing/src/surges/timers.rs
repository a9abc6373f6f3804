//! The surges' durable timers: the start at 00:00 of the window's first day, the end at
//! the end of its last (Europe/Rome). Each finds the surge as it is now, and does nothing
//! when it already started or ended.

use futures::future::BoxFuture;
use sportello_kit::{ServiceError, Timer, TimerHandler, UnitOfWork};
use uuid::Uuid;

use super::{END_TIMER, flow::SurgeFlow};

fn surge_of(timer: &Timer) -> Result<Uuid, ServiceError> {
    timer
        .payload
        .get("surge")
        .and_then(|v| v.as_str())
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| ServiceError::internal(format!("timer {} names no surge", timer.id)))
}

/// Starts and ends surges.
#[derive(Debug, Clone)]
pub struct SurgeTimers(pub SurgeFlow);

impl TimerHandler for SurgeTimers {
    fn fire<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        timer: &'a Timer,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let surge = surge_of(timer)?;
            if timer.kind == END_TIMER {
                self.0.end(uow, surge).await
            } else {
                self.0.start(uow, surge).await
            }
        })
    }
}
