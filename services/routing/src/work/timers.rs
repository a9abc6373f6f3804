//! The back office's durable timers: an offer that lapses, a search that widens, an
//! escalation step on the clock. Each finds the item as it is now and does nothing when
//! the world moved on (the offer accepted, the clock changed).

use futures::future::BoxFuture;
use sportello_kit::{ServiceError, Timer, TimerHandler, UnitOfWork};
use uuid::Uuid;

use super::flow::WorkFlow;

fn item_of(timer: &Timer) -> Result<Uuid, ServiceError> {
    timer
        .payload
        .get("item")
        .and_then(|v| v.as_str())
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| ServiceError::internal(format!("timer {} names no item", timer.id)))
}

/// Fires lapsed offers.
#[derive(Debug, Clone)]
pub struct OfferLapse(pub WorkFlow);

impl TimerHandler for OfferLapse {
    fn fire<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        timer: &'a Timer,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move { self.0.lapse(uow, item_of(timer)?).await })
    }
}

/// Widens the search for a specialist.
#[derive(Debug, Clone)]
pub struct Widening(pub WorkFlow);

impl TimerHandler for Widening {
    fn fire<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        timer: &'a Timer,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let stage = timer
                .payload
                .get("stage")
                .and_then(|v| v.as_i64())
                .unwrap_or(1);
            let since = timer
                .payload
                .get("since")
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            self.0.widen(uow, item_of(timer)?, stage, since).await
        })
    }
}

/// Escalates on the clock.
#[derive(Debug, Clone)]
pub struct Escalation(pub WorkFlow);

impl TimerHandler for Escalation {
    fn fire<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        timer: &'a Timer,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let level = timer
                .payload
                .get("level")
                .and_then(|v| v.as_i64())
                .and_then(|l| i16::try_from(l).ok())
                .unwrap_or(0);
            let due = timer
                .payload
                .get("due")
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            self.0.escalate(uow, item_of(timer)?, level, due).await
        })
    }
}
