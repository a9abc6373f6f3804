//! Writing case events, and explaining decisions.

use jiff::Timestamp;
use sportello_kit::{Aggregate, UnitOfWork};
use sportello_proto::{
    Event,
    routing::v1::{Decision, DecisionReason},
};

use super::domain::Case;

/// Writes a case event to the outbox, with the case's version.
pub async fn emit<E: Event>(
    uow: &mut UnitOfWork,
    event: &E,
    case: &Case,
) -> Result<(), sqlx::Error> {
    let id = case.id.to_string();
    let aggregate = Aggregate {
        kind: "routing.case",
        id: &id,
        version: case.version,
        municipality: case.municipality,
    };
    uow.emit(event, aggregate).await.map(|_| ())
}

/// Explains a decision in one sentence (English, for audits; the UI words it from the
/// reason code).
pub fn decision(
    reason: DecisionReason,
    case: Option<&Case>,
    now: Timestamp,
    bound_minutes: i16,
    groups: &[String],
) -> Decision {
    let label = case
        .map(|c| {
            c.ticket_label
                .clone()
                .unwrap_or_else(|| format!("case {}", c.id))
        })
        .unwrap_or_default();
    let waited = case.map_or(0, |c| {
        now.duration_since(c.arrival_at).as_secs().max(0) / 60
    });
    let queues = groups.join(", ");
    let explanation = match reason {
        DecisionReason::PriorityFirst => format!(
            "Priority ticket {label} goes first: no ordinary ticket in your queues has waited {bound_minutes} minutes."
        ),
        DecisionReason::BoundReached => format!(
            "{label} has waited {waited} min, past the {bound_minutes}-minute bound: no priority ticket that arrived after it may pass it."
        ),
        DecisionReason::Fifo => {
            format!("{label} is the oldest waiting ticket in your queues ({queues}).")
        }
        DecisionReason::SpecificTicket => format!("{label} called by its number."),
        DecisionReason::SameTicket => {
            format!("{label}: the ticket's next service, at the same counter.")
        }
        DecisionReason::NothingWaiting => {
            format!("Nothing you may serve is waiting in your queues ({queues}).")
        }
        DecisionReason::AlreadyCalled | DecisionReason::Unspecified => format!(
            "{label} is already called to your counter; complete, park or transfer it first."
        ),
    };
    Decision {
        reason: reason as i32,
        explanation,
        considered_groups: groups.to_vec(),
        waited_minutes: u32::try_from(waited).unwrap_or(u32::MAX),
        bound_minutes: u32::try_from(bound_minutes).unwrap_or_default(),
    }
}
