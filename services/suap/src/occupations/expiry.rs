//! A temporary occupation's end: the day after its period's last day a durable timer marks
//! it expired (granted or valid → expired) and says so in an event. The database's
//! conflict rule compares periods already, so the place is free for other periods either
//! way; the status is what the desk, the map and a renewal read.

use futures::future::BoxFuture;
use sportello_kit::{ServiceError, Timer, TimerHandler, UnitOfWork};
use sportello_pa::calendar::rome;
use sportello_proto::suap::v1::OccupationExpired;
use uuid::Uuid;

use super::{events, flow::aggregate, store};

/// The timer that fires the day after an occupation's last day.
pub const EXPIRY_TIMER: &str = "suap.occupation_expiry";

/// Sets the expiry of a temporary occupation (a permanent one has none).
pub async fn schedule(
    uow: &mut UnitOfWork,
    occupation: &store::Occupation,
) -> Result<(), ServiceError> {
    let Some(end) = occupation.period.end else {
        return Ok(());
    };
    let at = rome::end_of_day(end).map_err(ServiceError::internal)?;
    uow.schedule_timer(
        EXPIRY_TIMER,
        &occupation.id.to_string(),
        at,
        serde_json::Value::Null,
    )
    .await?;
    Ok(())
}

/// Marks the occupation expired when its timer fires.
#[derive(Debug, Clone, Copy, Default)]
pub struct Expire;

impl TimerHandler for Expire {
    fn fire<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        timer: &'a Timer,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let id = Uuid::parse_str(&timer.key)
                .map_err(|_| ServiceError::internal("an occupation timer whose key is no id"))?;
            let Some(occupation) = store::lock(uow, id).await? else {
                return Ok(());
            };
            let Some(end) = occupation.period.end else {
                return Ok(());
            };
            if rome::date_of(uow.now()) <= end {
                // A clock set back by hand: the renewal of the timer comes with the grant.
                return Ok(());
            }
            let Some(version) = store::expire(uow, id).await? else {
                // Revoked, or never granted: nothing expires.
                return Ok(());
            };
            tracing::info!(occupation_id = %id, %end, "occupation expired");
            let key = id.to_string();
            uow.emit_as(
                events::EXPIRED.into(),
                &OccupationExpired {
                    occupation_id: key.clone(),
                    municipality_istat_code: occupation.municipality.to_string(),
                    end_date: end.to_string(),
                },
                aggregate(&key, version, occupation.municipality),
            )
            .await?;
            Ok(())
        })
    }
}
