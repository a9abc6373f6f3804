//! Routing's durable inbox of each department's work: `WorkRequested` opens a case and an
//! item, `WorkUpdated` changes its clock or withdraws it. A request routing cannot take
//! (a field wrong, an unknown catalogue code or municipality, a request on another
//! department's stream) is rejected to the dead-letter subject with its reason, and
//! counted; one whose dependency is down is retried.

use futures::future::BoxFuture;
use prost::Message;
use sportello_kit::{
    ConsumerSpec, ErrorKind, EventHandler, EventRecord, HandlerError, ServiceError, UnitOfWork,
};
use sportello_proto::routing::v1::{WorkRequested, WorkUpdated};

use super::{
    domain::{WorkChange, WorkRequest},
    flow::WorkFlow,
};

/// The consumer of `department`'s work, on its stream.
pub fn spec(department: &'static str, subjects: &'static [&'static str]) -> ConsumerSpec {
    // Requests of different works are independent: applied side by side, their durable
    // commits overlap (one at a time, a department's requests queued behind each other's
    // fsync). A work's own request and updates share a lane, so they keep their order.
    ConsumerSpec::new(department_consumer_name(department), department, subjects).with_lanes(8)
}

fn department_consumer_name(department: &'static str) -> &'static str {
    match department {
        "registry" => "work-registry",
        "education" => "work-education",
        "suap" => "work-suap",
        "mobility" => "work-mobility",
        _ => "work-urp",
    }
}

/// The departments whose work routing takes, with their subjects.
pub const DEPARTMENT_SUBJECTS: [(&str, &[&str]); 5] = [
    ("registry", &["registry.work.>"]),
    ("education", &["education.work.>"]),
    ("suap", &["suap.work.>"]),
    ("mobility", &["mobility.work.>"]),
    ("urp", &["urp.work.>"]),
];

/// Applies one department's work events.
#[derive(Debug, Clone)]
pub struct WorkHandler {
    /// The department whose stream this consumer reads.
    pub department: &'static str,
    /// The back office.
    pub flow: WorkFlow,
}

/// Whether a failure can never succeed: the request itself is wrong.
fn is_permanent(error: &ServiceError) -> bool {
    matches!(
        error.kind(),
        ErrorKind::InvalidArgument
            | ErrorKind::NotFound
            | ErrorKind::PermissionDenied
            | ErrorKind::FailedPrecondition
    )
}

fn rejected(kind: &'static str, error: ServiceError) -> HandlerError {
    metrics::counter!("sportello_routing_work_rejected_total", "event" => kind).increment(1);
    HandlerError::Reject(error.to_string())
}

impl EventHandler for WorkHandler {
    fn handle<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        event: &'a EventRecord,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            if event.event_type.ends_with(".work.requested") {
                let message = WorkRequested::decode(event.data.clone())
                    .map_err(|e| HandlerError::Reject(format!("undecodable request: {e}")))?;
                let request = WorkRequest::parse(&message, self.department)
                    .map_err(|e| rejected("requested", e))?;
                match self.flow.request(uow, request).await {
                    Ok(_) => Ok(()),
                    Err(error) if is_permanent(&error) => Err(rejected("requested", error)),
                    Err(error) => Err(HandlerError::Retry(error)),
                }
            } else if event.event_type.ends_with(".work.updated") {
                let message = WorkUpdated::decode(event.data.clone())
                    .map_err(|e| HandlerError::Reject(format!("undecodable update: {e}")))?;
                let change = WorkChange::parse(&message, self.department)
                    .map_err(|e| rejected("updated", e))?;
                match self.flow.change(uow, change).await {
                    Ok(_) => Ok(()),
                    // The request may still be on its way: retry, within the limit.
                    Err(error) if error.kind() == ErrorKind::NotFound => {
                        Err(HandlerError::Retry(error))
                    }
                    Err(error) if is_permanent(&error) => Err(rejected("updated", error)),
                    Err(error) => Err(HandlerError::Retry(error)),
                }
            } else {
                Err(HandlerError::Reject(format!(
                    "{} is not a work event",
                    event.event_type
                )))
            }
        })
    }
}
