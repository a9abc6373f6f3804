//! URP learns of completed cases as facts (DESIGN.md: facts move as events): a durable
//! consumer of routing's `case.completed` makes each case served in person rateable.
//! Nothing is asked of routing, and routing knows nothing of ratings.

use futures::future::BoxFuture;
use sportello_kit::{ConsumerSpec, EventHandler, EventRecord, HandlerError, UnitOfWork};
use sportello_proto::routing::v1::CaseCompleted;

use super::{
    domain::{CompletedCase, NotRateable},
    flow,
};

/// The durable consumer of routing's completed cases.
pub const CONSUMER: &str = "urp-cases";
/// What it reads: only completions (the other case events say nothing to rate).
pub const SUBJECTS: &[&str] = &["case.completed"];

/// Completed cases URP could never record (malformed events), dead-lettered.
const REJECTED: &str = "sportello_urp_case_events_rejected_total";

/// The consumer's spec, declared in URP's `ServiceSpec`.
pub fn consumer_spec() -> ConsumerSpec {
    // Cases are independent of each other: several side by side.
    ConsumerSpec::new(CONSUMER, "routing", SUBJECTS).with_lanes(4)
}

/// Records each case completed in person as rateable.
#[derive(Debug, Clone, Copy, Default)]
pub struct CompletedCases;

impl EventHandler for CompletedCases {
    fn handle<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        event: &'a EventRecord,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let completed: CaseCompleted = event.decode()?;
            let case = match CompletedCase::try_from(&completed) {
                Ok(case) => case,
                Err(NotRateable::Skip(_)) => return Ok(()),
                Err(NotRateable::Malformed(why)) => {
                    return Err(sportello_kit::work::reject(REJECTED, why));
                }
            };
            let new = flow::record_completed(uow, &case).await?;
            // Ids and codes only: no rating code (it is the citizen's key), no operator.
            tracing::debug!(
                service_code = %case.service_code,
                tier = case.tier,
                outcome = %case.outcome_code,
                new,
                "completed case rateable"
            );
            Ok(())
        })
    }
}
