//! An application's clock as routing sees it, and the one durable timer that gives the
//! end of its term its legal effect (silence-assent, the controls lapsing, a prohibition
//! for measures not taken, or the decision falling due). Routing's timers only warn and
//! escalate; this one decides.

use jiff::civil::Date;
use sportello_kit::{ServiceError, UnitOfWork};
use sportello_pa::{Deadline, Outcome, Stop, calendar::rome};
use sportello_proto::routing::v1::{ClockSuspension, OutcomeOnExpiry, StatutoryClock};

use super::{domain, store::Application};

/// The timer that fires the day after the current term's last day.
pub const EXPIRY_TIMER: &str = "suap.application_term";

/// The application's deadline now; `None` for a communication.
pub fn deadline(app: &Application) -> Result<Option<Deadline>, ServiceError> {
    domain::deadline(app.municipality, app.regime, app.received_on, &app.stops)
        .map_err(ServiceError::internal)
}

/// The clock for routing's work: the term now running, with its suspensions.
pub fn statutory_clock(app: &Application) -> Result<Option<StatutoryClock>, ServiceError> {
    let Some(deadline) = deadline(app)? else {
        return Ok(None);
    };
    let outcome = match deadline.outcome_on_expiry {
        Outcome::SilenceAssent => OutcomeOnExpiry::SilenceAssent,
        Outcome::SilenceRejection => OutcomeOnExpiry::SilenceRejection,
        Outcome::Breach => OutcomeOnExpiry::DecisionDue,
        _ => OutcomeOnExpiry::RuleDefined,
    };
    let suspensions = app
        .stops
        .iter()
        .filter_map(|stop| match stop {
            Stop::SuapIntegration { from, until } => Some(ClockSuspension {
                reason: "integration_requested".into(),
                from_date: from.to_string(),
                until_date: until.map(|d| d.to_string()).unwrap_or_default(),
            }),
            // Suspended from the notice; the term runs again 10 days after the
            // observations or at the window's end (art. 10-bis).
            Stop::ReasonsAgainst {
                sent, observations, ..
            } => Some(ClockSuspension {
                reason: "reasons_against".into(),
                from_date: sent.to_string(),
                until_date: observations
                    .and_then(|o| o.checked_add(jiff::Span::new().days(10)).ok())
                    .or_else(|| deadline.observation_window.as_ref().and_then(|w| w.ends))
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
            }),
            _ => None,
        })
        .collect();
    // After an order to conform the term restarts from the day the measures were
    // reported: that is the start routing counts from.
    Ok(Some(StatutoryClock {
        rule: deadline.procedure.to_owned(),
        start_date: deadline.counting_from.to_string(),
        due_date: deadline.due.map(|d| d.to_string()).unwrap_or_default(),
        warning_date: deadline.warning.map(|d| d.to_string()).unwrap_or_default(),
        outcome_on_expiry: outcome as i32,
        suspensions,
    }))
}

/// The last day of the term now running, if one runs: while the clock waits for the
/// business (an integration) none does; after an order to conform the business's term
/// to take the measures does.
pub fn running_due(app: &Application) -> Result<Option<Date>, ServiceError> {
    if app.status.is_final() {
        return Ok(None);
    }
    Ok(deadline(app)?.and_then(|d| d.due))
}

/// Sets the expiry timer on the current term, or cancels it when none runs.
pub async fn schedule(uow: &mut UnitOfWork, app: &Application) -> Result<(), ServiceError> {
    let key = app.id.to_string();
    match running_due(app)? {
        Some(due) => {
            let at = rome::end_of_day(due).map_err(ServiceError::internal)?;
            uow.schedule_timer(EXPIRY_TIMER, &key, at, serde_json::Value::Null)
                .await?;
        }
        None => {
            uow.cancel_timer(EXPIRY_TIMER, &key).await?;
        }
    }
    Ok(())
}
