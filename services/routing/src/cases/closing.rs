//! Closing cases that are not at a counter, and cancelling waiting ones.

use sportello_kit::{CallContext, ServiceError};
use sportello_proto::routing::v1::{CaseCancelled, CaseCompleted, CaseStatus};
use uuid::Uuid;

use super::{Flow, counter::queue_next, domain::Case, events, store};
use crate::{domain::Stored, error::RoutingError};

impl Flow {
    /// Closes a case that is not held at a counter (back-office work, a digital request,
    /// a check another service performed) with an outcome.
    pub async fn close(
        &self,
        context: &CallContext,
        case_id: Uuid,
        outcome: &str,
        reason: &str,
    ) -> Result<Case, ServiceError> {
        let mut uow = self.db.begin().await?;
        let mut case = store::lock(&mut uow, case_id).await?;
        context.ensure_visible(case.municipality)?;
        match case.status {
            CaseStatus::Waiting | CaseStatus::Pending | CaseStatus::Parked => {}
            CaseStatus::Called => {
                return Err(RoutingError::WrongStatus {
                    status: "called to a counter",
                    hint: "the operator holding it completes it",
                }
                .into());
            }
            other => {
                return Err(RoutingError::WrongStatus {
                    status: other.to_db(),
                    hint: "it is closed already",
                }
                .into());
            }
        }
        let was_head = case.status != CaseStatus::Pending;
        let now = uow.now();
        case.status = CaseStatus::Completed;
        case.outcome_code = Some(outcome.to_owned());
        case.closed_at = Some(now);
        let why = if reason.is_empty() {
            format!("closed: {outcome}")
        } else {
            format!("closed: {outcome}: {reason}")
        };
        let case = store::save(&mut uow, case, context.actor(), &why).await?;
        let handling = now.duration_since(case.opened_at).as_secs().max(0);
        let event = CaseCompleted {
            case: Some(case.to_event()),
            handling_seconds: u32::try_from(handling).unwrap_or(u32::MAX),
        };
        events::emit(&mut uow, &event, &case).await?;
        let queued = match case.ticket_id {
            Some(ticket) if was_head => {
                let rest = store::pending_of_ticket(&mut uow, ticket).await?;
                queue_next(&mut uow, context, rest).await?
            }
            _ => Vec::new(),
        };
        uow.commit().await?;
        self.dispatcher.apply(&case);
        for queued in &queued {
            self.dispatcher.apply(queued);
        }
        Ok(case)
    }

    /// Cancels a waiting or pending case. When a ticket's queued case is cancelled, its
    /// other services take its place in their queues.
    pub async fn cancel(
        &self,
        context: &CallContext,
        case_id: Uuid,
        reason: &str,
    ) -> Result<Case, ServiceError> {
        let mut uow = self.db.begin().await?;
        let mut case = store::lock(&mut uow, case_id).await?;
        context.ensure_visible(case.municipality)?;
        if !matches!(case.status, CaseStatus::Waiting | CaseStatus::Pending) {
            return Err(RoutingError::WrongStatus {
                status: case.status.to_db(),
                hint: "only a waiting case can be cancelled",
            }
            .into());
        }
        let was_head = case.status != CaseStatus::Pending;
        case.status = CaseStatus::Cancelled;
        case.closed_at = Some(uow.now());
        let why = if reason.is_empty() {
            "cancelled".to_owned()
        } else {
            format!("cancelled: {reason}")
        };
        let case = store::save(&mut uow, case, context.actor(), &why).await?;
        events::emit(
            &mut uow,
            &CaseCancelled {
                case: Some(case.to_event()),
            },
            &case,
        )
        .await?;
        let queued = match case.ticket_id {
            Some(ticket) if was_head => {
                let rest = store::pending_of_ticket(&mut uow, ticket).await?;
                queue_next(&mut uow, context, rest).await?
            }
            _ => Vec::new(),
        };
        uow.commit().await?;
        self.dispatcher.apply(&case);
        for queued in &queued {
            self.dispatcher.apply(queued);
        }
        Ok(case)
    }
}
