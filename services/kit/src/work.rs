//! Routing's events about a department's work (`work.<department>.<change>`), read the same
//! way by every department's consumer: the change's name, the item as it is after it,
//! and how a failure is told apart — malformed or impossible (dead-lettered at once, and
//! counted) from passing (retried). Each department then advances its own procedure.

use prost::Message as _;
use sportello_proto::routing::v1::{WorkChanged, WorkItem, WorkOrigin};
use uuid::Uuid;

use crate::{ErrorKind, EventRecord, HandlerError, ServiceError};

/// One of routing's work events, decoded.
#[derive(Debug, Clone)]
pub struct WorkEvent {
    /// `opened`, `completed`, `cancelled`, … (the subject's last part).
    pub change: String,
    /// The item after the change.
    pub item: WorkItem,
}

impl WorkEvent {
    /// Decodes `event`, which must be about `department`'s work; a malformed one is
    /// rejected (counted under `rejected_metric`).
    pub fn decode(
        event: &EventRecord,
        department: &str,
        rejected_metric: &'static str,
    ) -> Result<Self, HandlerError> {
        let prefix = format!("work.{department}.");
        let change = event.event_type.strip_prefix(&prefix).ok_or_else(|| {
            reject(
                rejected_metric,
                format!("{} is not {department} work", event.event_type),
            )
        })?;
        let message = WorkChanged::decode(event.data.clone())
            .map_err(|e| reject(rejected_metric, format!("undecodable work event: {e}")))?;
        let item = message
            .item
            .ok_or_else(|| reject(rejected_metric, "a work event without its item"))?;
        if item.origin.is_none() {
            return Err(reject(rejected_metric, "a work item without its origin"));
        }
        Ok(Self {
            change: change.to_owned(),
            item,
        })
    }

    /// Where the work comes from (always present once decoded).
    pub fn origin(&self) -> &WorkOrigin {
        // `decode` refuses an item without its origin.
        self.item.origin.as_ref().unwrap_or(&EMPTY_ORIGIN)
    }

    /// The department's procedure id, a UUID; rejected otherwise.
    pub fn procedure_id(&self, rejected_metric: &'static str) -> Result<Uuid, HandlerError> {
        Uuid::parse_str(&self.origin().procedure_id)
            .map_err(|_| reject(rejected_metric, "origin.procedure_id is not a UUID"))
    }
}

static EMPTY_ORIGIN: WorkOrigin = WorkOrigin {
    service: String::new(),
    procedure_kind: String::new(),
    procedure_id: String::new(),
};

/// A work event that can never apply: counted under `metric` and dead-lettered.
pub fn reject(metric: &'static str, why: impl Into<String>) -> HandlerError {
    metrics::counter!(metric).increment(1);
    HandlerError::Reject(why.into())
}

/// A step's failure: bad input, a missing record or a step the procedure refuses can
/// never apply (rejected, counted under `metric`); anything else may pass (retried).
pub fn retry_or_reject(metric: &'static str, error: ServiceError) -> HandlerError {
    match error.kind() {
        ErrorKind::InvalidArgument | ErrorKind::NotFound | ErrorKind::PermissionDenied => {
            reject(metric, error.to_string())
        }
        _ => HandlerError::Retry(error),
    }
}
