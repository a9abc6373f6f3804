//! The statutory clock: when a procedure's term ends, as a pure function of the day
//! of receipt, the procedure, the calendar and what stopped the clock.
//!
//! Counting follows art. 2963 c.c. and art. 155 c.p.c.: the day of receipt is not
//! counted (*dies a quo non computatur*); holidays inside the period count; a term in
//! months ends on the same day of the final month, or its last day when that day does
//! not exist; a term whose last day is a holiday (see
//! [`crate::calendar::Calendar::moves_deadline`])
//! ends on the next day that is not. Terms in working days count only days the office
//! is open.
//!
//! Suspensions pause the clock: the deadline moves by the days between the stop and
//! the resumption (overlapping suspensions count once). Interruptions restart it: the
//! term runs again from the new day. See [`Stop`] for each kind's rule.

mod compute;
mod error;
mod matter;
mod procedure;
mod stop;

use std::fmt;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

pub use compute::{deadline, term_end};
pub use error::ClockError;
pub use matter::Matter;
pub use procedure::{Procedure, ProcedureError};
pub use stop::{ObservationWindow, Stop};

/// A term's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Term {
    /// Calendar days.
    Days(u32),
    /// Calendar months (art. 2963 c. 4-5 c.c.).
    Months(u32),
    /// Days the office is open.
    WorkingDays(u32),
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Term::Days(n) => write!(f, "{n} days"),
            Term::Months(n) => write!(f, "{n} months"),
            Term::WorkingDays(n) => write!(f, "{n} working days"),
        }
    }
}

/// What happens when the term expires with nothing done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The application is granted by silence (L. 241/1990 art. 20, or the specific rule).
    SilenceAssent,
    /// The deadline passed and the decision is still due: the office is in breach of
    /// its duty to decide (L. 241/1990 art. 2 c. 8-9).
    Breach,
    /// The law makes silence a rejection (L. 241/1990 art. 20 c. 4, last cases).
    SilenceRejection,
    /// SCIA: the power to prohibit the activity lapses (art. 19 c. 3; only self-annulment
    /// under art. 21-nonies remains).
    ControlsLapsed,
    /// SCIA: the measures an order to conform asked for were not taken in time, so the
    /// activity is prohibited (L. 241/1990 art. 19 c. 3).
    ActivityProhibited,
    /// Opinion: the requester may proceed without it (art. 16 c. 2).
    ProceedWithout,
    /// Opinion of a body protecting the environment, landscape, territory or health:
    /// still required, the requester may not proceed without it (art. 16 c. 3).
    OpinionStillRequired,
    /// Attestation of silence-assent not issued: the applicant's own declaration
    /// replaces it (L. 241/1990 art. 20 c. 2-bis; DPR 445/2000 art. 47).
    SelfDeclaration,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::SilenceAssent => "silence-assent",
            Outcome::Breach => "deadline passed, decision due (breach of the duty to decide)",
            Outcome::SilenceRejection => "deemed rejected",
            Outcome::ControlsLapsed => "power to prohibit lapses",
            Outcome::ActivityProhibited => "activity prohibited",
            Outcome::ProceedWithout => "requester may proceed without it",
            Outcome::OpinionStillRequired => "opinion still required",
            Outcome::SelfDeclaration => "the applicant's own declaration replaces the attestation",
        })
    }
}

/// Settings of a computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockOptions {
    /// Warn when this share of the term (1-99 %) has run.
    pub warning_percent: u8,
}

impl Default for ClockOptions {
    fn default() -> Self {
        ClockOptions {
            warning_percent: 80,
        }
    }
}

/// The state of a procedure's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deadline {
    /// Procedure id.
    pub procedure: &'static str,
    /// The rule that sets the term.
    pub rule: &'static str,
    /// Day of receipt.
    pub received: Date,
    /// The term now running (changed by an interruption, or by an order to conform:
    /// then it is the citizen's term to take the measures).
    pub term: Term,
    /// The day the current term counts from.
    pub counting_from: Date,
    /// Days added by suspensions.
    pub suspended_days: i64,
    /// The office's clock is stopped waiting for the citizen or another body. No
    /// deadline runs, except after an order to conform, where `due` is the citizen's
    /// last day to take the measures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting: Option<Waiting>,
    /// The latest 10-bis notice and the applicant's window for observations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observation_window: Option<ObservationWindow>,
    /// The term's last day by counting, before holiday roll-over.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nominal: Option<Date>,
    /// The last day to act: `nominal`, moved past holidays.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due: Option<Date>,
    /// The day to warn the office (a working day, at the configured share of the term).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<Date>,
    /// What happens the day after `due` with nothing done.
    pub outcome_on_expiry: Outcome,
    /// The rule that gives `outcome_on_expiry` (for SUAP: the matter's silence-assent rule).
    pub outcome_rule: &'static str,
    /// How the result was reached, one line per rule applied.
    pub steps: Vec<String>,
}

/// A stop with no answer yet: the clock waits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waiting {
    /// Stop kind.
    pub kind: &'static str,
    /// Since when.
    pub since: Date,
    /// What it waits for (`the day the notice was received`, `the integration`, …).
    pub awaiting: &'static str,
    /// The rule.
    pub rule: &'static str,
}

#[cfg(test)]
mod tests;
