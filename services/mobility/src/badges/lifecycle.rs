//! A badge's calendar and its end: a warning [`RENEWAL_NOTICE_DAYS`] before its last day
//! (`mobility.badge.renewal_due`, which notifications follow), its end the day after, and
//! its revocation when the holder dies. Each end is an event: the whitelist drops the
//! plates at once.

use futures::future::BoxFuture;
use jiff::ToSpan;
use sportello_kit::{
    Aggregate, ServiceError, UnitOfWork,
    timers::{Timer, TimerHandler},
};
use sportello_pa::calendar::rome;
use sportello_proto::mobility::v1::{BadgeEnded, BadgeRenewalDue};
use uuid::Uuid;

use super::store::{self, Badge};

/// The timer that warns before the last day.
pub const RENEWAL_TIMER: &str = "mobility.badge_renewal";
/// The timer that ends a badge after its last day.
pub const EXPIRY_TIMER: &str = "mobility.badge_expiry";
/// How long before its last day the holder is told to renew.
pub const RENEWAL_NOTICE_DAYS: i32 = 90;

/// Schedules the renewal warning and the end of `badge`.
pub async fn schedule(
    uow: &mut UnitOfWork,
    badge: Uuid,
    until: jiff::civil::Date,
) -> Result<(), ServiceError> {
    let key = badge.to_string();
    let warn_day = until
        .checked_sub(RENEWAL_NOTICE_DAYS.days())
        .map_err(ServiceError::internal)?;
    let warn_at = rome::start_of_day(warn_day)
        .map_err(ServiceError::internal)?
        .max(uow.now());
    uow.schedule_timer(RENEWAL_TIMER, &key, warn_at, serde_json::Value::Null)
        .await?;
    let end_day = until.checked_add(1.day()).map_err(ServiceError::internal)?;
    let end_at = rome::start_of_day(end_day).map_err(ServiceError::internal)?;
    uow.schedule_timer(EXPIRY_TIMER, &key, end_at, serde_json::Value::Null)
        .await?;
    Ok(())
}

/// Ends `badge` in `uow` (`blocked`, `revoked`, `expired`) for `cause`, and publishes it;
/// its timers are cancelled, except `firing`.
pub async fn end(
    uow: &mut UnitOfWork,
    badge: &Badge,
    state: &str,
    cause: &str,
    reason: &str,
    replaced_by: Option<Uuid>,
    firing: Option<&str>,
) -> Result<bool, ServiceError> {
    if !store::end(uow, badge.id, state, reason, replaced_by).await? {
        return Ok(false);
    }
    let id = badge.id.to_string();
    uow.emit(
        &BadgeEnded {
            badge_id: id.clone(),
            municipality_istat_code: badge.municipality.to_string(),
            cause: cause.to_owned(),
        },
        Aggregate {
            kind: "mobility.badge",
            id: &id,
            version: badge.version + 1,
            municipality: badge.municipality,
        },
    )
    .await?;
    for timer in [RENEWAL_TIMER, EXPIRY_TIMER] {
        if firing != Some(timer) {
            uow.cancel_timer(timer, &id).await?;
        }
    }
    tracing::info!(badge_id = %id, cause, "badge ended");
    Ok(true)
}

/// Revokes the holder's active badges at once: the holder died.
pub async fn revoke_of_resident(
    uow: &mut UnitOfWork,
    resident_ref: &str,
    day: &str,
) -> Result<(), ServiceError> {
    for id in store::active_of_resident(uow.conn(), resident_ref).await? {
        let Some(badge) = store::lock(uow, id).await? else {
            continue;
        };
        let reason = format!("titolare deceduto il {day} / holder deceased on {day}");
        end(
            uow,
            &badge,
            "revoked",
            "holder_deceased",
            &reason,
            None,
            None,
        )
        .await?;
    }
    Ok(())
}

fn badge_id(timer: &Timer) -> Result<Uuid, ServiceError> {
    Uuid::parse_str(&timer.key)
        .map_err(|_| ServiceError::internal("a badge timer whose key is no id"))
}

/// Warns that a badge's last day is near.
#[derive(Debug, Clone, Copy, Default)]
pub struct Renewal;

impl TimerHandler for Renewal {
    fn fire<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        timer: &'a Timer,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let Some(badge) = store::lock(uow, badge_id(timer)?).await? else {
                return Ok(());
            };
            if badge.state != "active" {
                return Ok(());
            }
            let id = badge.id.to_string();
            uow.emit(
                &BadgeRenewalDue {
                    badge_id: id.clone(),
                    municipality_istat_code: badge.municipality.to_string(),
                    valid_until: badge.valid_until.to_string(),
                },
                Aggregate {
                    kind: "mobility.badge",
                    id: &id,
                    version: badge.version,
                    municipality: badge.municipality,
                },
            )
            .await?;
            Ok(())
        })
    }
}

/// Ends a badge after its last day.
#[derive(Debug, Clone, Copy, Default)]
pub struct Expiry;

impl TimerHandler for Expiry {
    fn fire<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        timer: &'a Timer,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let Some(badge) = store::lock(uow, badge_id(timer)?).await? else {
                return Ok(());
            };
            if badge.state != "active" || rome::date_of(uow.now()) <= badge.valid_until {
                return Ok(());
            }
            let reason = format!("scaduto il {d} / expired on {d}", d = badge.valid_until);
            end(
                uow,
                &badge,
                "expired",
                "expired",
                &reason,
                None,
                Some(EXPIRY_TIMER),
            )
            .await?;
            Ok(())
        })
    }
}
