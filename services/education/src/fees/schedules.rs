//! Publishing a fee schedule's version: one unit of work — number, save, emit, commit.

use sportello_kit::{Aggregate, CallContext, IdempotencyKey, Role, ServiceError};
use sportello_proto::education::v1::{
    FeeScheduleSet, SetFeeScheduleRequest, SetFeeScheduleResponse,
};

use super::{Desk, domain::NewSchedule, message, store};

/// Publishes a schedule.
pub async fn set(
    desk: &Desk,
    context: &CallContext,
    request: SetFeeScheduleRequest,
) -> Result<SetFeeScheduleResponse, ServiceError> {
    context.require_role(&[Role::Admin, Role::BackOffice])?;
    let new = NewSchedule::try_from(&request)?;
    context.ensure_municipality(new.municipality)?;
    let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
    let fingerprint = SetFeeScheduleRequest {
        idempotency_key: String::new(),
        ..request
    };
    desk.office
        .db
        .idempotent("education.set_fee_schedule", key, &fingerprint, |uow| {
            Box::pin(async move {
                let schedule = store::insert_schedule(uow, &new).await?;
                let id = format!(
                    "{}:{}:{}",
                    schedule.municipality,
                    schedule.kind.name(),
                    schedule.year
                );
                uow.emit(
                    &FeeScheduleSet {
                        municipality_istat_code: schedule.municipality.to_string(),
                        kind: schedule.kind.message() as i32,
                        school_year: i32::from(schedule.year),
                        version: u32::try_from(schedule.version).unwrap_or_default(),
                    },
                    Aggregate {
                        kind: "education.fee_schedule",
                        id: &id,
                        version: i64::from(schedule.version),
                        municipality: schedule.municipality,
                    },
                )
                .await?;
                Ok(SetFeeScheduleResponse {
                    schedule: Some(message::schedule(&schedule)),
                })
            })
        })
        .await
}
