//! The statutory clock: when a procedure's term ends, as a pure function of the day
//! of receipt, the procedure, the calendar and what stopped the clock.
//!
//! Counting follows art. 2963 c.c. and art. 155 c.p.c.: the day of receipt is not
//! counted (*dies a quo non computatur*); holidays inside the period count; a term in
//! months ends on the same day of the final month, or its last day when that day does
//! not exist; a term whose last day is a holiday (see [`Calendar::moves_deadline`])
//! ends on the next day that is not. Terms in working days count only days the office
//! is open.
//!
//! Suspensions pause the clock: the deadline moves by the days between the stop and
//! the resumption (overlapping suspensions count once). Interruptions restart it: the
//! term runs again from the new day. See [`Stop`] for each kind's rule.

mod procedure;
mod stop;

use std::fmt;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;

pub use procedure::Procedure;
pub use stop::Stop;

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
    /// The office is in breach of its duty to decide (L. 241/1990 art. 2 c. 8-9).
    Breach,
    /// SCIA: the power to prohibit the activity lapses (art. 19 c. 3; only self-annulment
    /// under art. 21-nonies remains).
    ControlsLapsed,
    /// Opinion: the requester may proceed without it (art. 16 c. 2).
    ProceedWithout,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::SilenceAssent => "silence-assent",
            Outcome::Breach => "breach of the duty to decide",
            Outcome::ControlsLapsed => "power to prohibit lapses",
            Outcome::ProceedWithout => "requester may proceed without it",
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

/// Why a clock cannot be computed: the stops contradict the rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// A stop before the day of receipt.
    #[error("{kind} on {from} is before the day of receipt {received}")]
    BeforeReceipt {
        /// Stop kind.
        kind: &'static str,
        /// Its start.
        from: Date,
        /// Day of receipt.
        received: Date,
    },
    /// A stop that ends before it starts.
    #[error("{kind} ends on {until}, before it starts on {from}")]
    EndsBeforeStart {
        /// Stop kind.
        kind: &'static str,
        /// Start.
        from: Date,
        /// End.
        until: Date,
    },
    /// A stop kind the procedure does not have.
    #[error("{kind} does not apply to procedure {procedure}")]
    NotAllowed {
        /// Stop kind.
        kind: &'static str,
        /// Procedure id.
        procedure: &'static str,
    },
    /// A stop allowed only once, given twice.
    #[error("{kind} is allowed only once ({citation})")]
    OnlyOnce {
        /// Stop kind.
        kind: &'static str,
        /// The rule.
        citation: &'static str,
    },
    /// A stop after the term had already expired.
    #[error("{kind} on {from} comes after the term expired on {due}")]
    AfterExpiry {
        /// Stop kind.
        kind: &'static str,
        /// Its start.
        from: Date,
        /// When the term had ended.
        due: Date,
    },
    /// A SUAP integration asked after the 30-day window.
    #[error(
        "integration requested on {from}, after the 30-day window ended on {window_end} (DPR 160/2010 art. 7 c. 1)"
    )]
    IntegrationTooLate {
        /// Day of the request.
        from: Date,
        /// Last day it could be asked.
        window_end: Date,
    },
    /// Warning share outside 1-99.
    #[error("warning percent {0} is not 1-99")]
    WarningPercent(u8),
    /// A date beyond what the calendar handles.
    #[error("date out of range")]
    OutOfRange,
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
    /// The term now running (changed by an interruption).
    pub term: Term,
    /// The day the current term counts from.
    pub counting_from: Date,
    /// Days added by suspensions.
    pub suspended_days: i64,
    /// The clock is stopped waiting for the citizen or another body; no deadline runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting: Option<Waiting>,
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
    /// How the result was reached, one line per rule applied.
    pub steps: Vec<String>,
}

/// A stop with no end yet: the clock waits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waiting {
    /// Stop kind.
    pub kind: &'static str,
    /// Since when.
    pub since: Date,
    /// The rule.
    pub rule: &'static str,
}

fn add_days(d: Date, n: i64) -> Result<Date, ClockError> {
    d.checked_add(jiff::Span::new().days(n))
        .map_err(|_| ClockError::OutOfRange)
}

fn days_between(a: Date, b: Date) -> i64 {
    a.until(b).map(|s| i64::from(s.get_days())).unwrap_or(0)
}

/// The last day of a term counted from `from` (not counted), before roll-over.
pub fn term_end(calendar: &Calendar, from: Date, term: Term) -> Result<Date, ClockError> {
    match term {
        Term::Days(n) => add_days(from, i64::from(n)),
        Term::Months(n) => from
            .checked_add(jiff::Span::new().months(i64::from(n)))
            .map_err(|_| ClockError::OutOfRange),
        Term::WorkingDays(n) => Ok(calendar.add_working_days(from, n)),
    }
}

fn allowed(procedure: &Procedure, stop: &Stop) -> bool {
    use Procedure as P;
    match stop {
        Stop::InformationRequest { .. } | Stop::ReasonsAgainst { .. } => {
            matches!(
                procedure,
                P::Generic { .. } | P::ResidenceCheck | P::SuapOrdinary
            )
        }
        Stop::SciaConformOrder { .. } => matches!(procedure, P::Scia | P::SciaBuilding),
        Stop::SuapIntegration { .. } => matches!(procedure, P::SuapOrdinary),
        Stop::InstructionRequest { .. } => matches!(procedure, P::Opinion | P::Assent { .. }),
    }
}

/// Computes a procedure's deadline.
///
/// `received` is the day the application (or declaration, or request) was received,
/// in Rome ([`crate::calendar::rome::date_of`]); `stops` may come in any order.
pub fn deadline(
    calendar: &Calendar,
    procedure: Procedure,
    received: Date,
    stops: &[Stop],
    options: ClockOptions,
) -> Result<Deadline, ClockError> {
    if !(1..=99).contains(&options.warning_percent) {
        return Err(ClockError::WarningPercent(options.warning_percent));
    }
    let mut stops = stops.to_vec();
    stops.sort_by_key(Stop::from);

    let mut anchor = received;
    let mut term = procedure.term();
    let mut extension: i64 = 0;
    let mut paused_until: Option<Date> = None;
    let mut outcome = procedure.outcome();
    let mut steps = vec![format!(
        "received {received}; term {term} ({})",
        procedure.citation()
    )];
    let (mut info_seen, mut instr_seen, mut integ_seen) = (false, false, false);

    for stop in &stops {
        let kind = stop.kind_id();
        let from = stop.from();
        if from < received {
            return Err(ClockError::BeforeReceipt {
                kind,
                from,
                received,
            });
        }
        if let Some(until) = stop.until()
            && until < from
        {
            return Err(ClockError::EndsBeforeStart { kind, from, until });
        }
        if !allowed(&procedure, stop) {
            return Err(ClockError::NotAllowed {
                kind,
                procedure: procedure.id(),
            });
        }
        if let Stop::SuapIntegration { .. } = stop {
            // The window is a term too: it ends on a working day (art. 155 c.p.c.).
            let window_end = calendar.roll_forward(add_days(received, 30)?);
            if from > window_end {
                return Err(ClockError::IntegrationTooLate { from, window_end });
            }
        }
        let due_so_far =
            calendar.roll_forward(add_days(term_end(calendar, anchor, term)?, extension)?);
        if from > due_so_far {
            return Err(ClockError::AfterExpiry {
                kind,
                from,
                due: due_so_far,
            });
        }

        // Suspensions: returns the resumption day.
        let mut suspend = |resume: Date, note: String| {
            let start = paused_until.map_or(from, |p| p.max(from));
            let days = days_between(start, resume).max(0);
            extension += days;
            paused_until = Some(paused_until.map_or(resume, |p| p.max(resume)));
            steps.push(format!("{note}: +{days} days ({})", stop.citation()));
        };

        match *stop {
            Stop::InformationRequest { until, .. } => {
                if std::mem::replace(&mut info_seen, true) {
                    return Err(ClockError::OnlyOnce {
                        kind,
                        citation: stop.citation(),
                    });
                }
                let cap = add_days(from, 30)?;
                let resume = until.map_or(cap, |u| u.min(cap));
                suspend(
                    resume,
                    format!("information requested {from}, clock resumes {resume}"),
                );
            }
            Stop::ReasonsAgainst { until, .. } => {
                let window_end = add_days(from, 10)?;
                let resume = match until {
                    Some(obs) if obs <= window_end => add_days(obs, 10)?,
                    _ => window_end,
                };
                let note = match until {
                    Some(obs) if obs <= window_end => {
                        format!("10-bis notice {from}, observations {obs}, clock resumes {resume}")
                    }
                    Some(obs) => format!(
                        "10-bis notice {from}, observations {obs} after the window: clock resumes {resume}"
                    ),
                    None => {
                        format!("10-bis notice {from}, no observations, clock resumes {resume}")
                    }
                };
                suspend(resume, note);
                if procedure == Procedure::ResidenceCheck && outcome == Outcome::SilenceAssent {
                    outcome = Outcome::Breach;
                    steps.push(
                        "a 10-bis notice was sent: no silence-assent on change of residence (DL 5/2012 art. 5 c. 3)"
                            .to_string(),
                    );
                }
            }
            Stop::SciaConformOrder { until, .. }
            | Stop::SuapIntegration { until, .. }
            | Stop::InstructionRequest { until, .. } => {
                let new_term = match stop {
                    Stop::SciaConformOrder { .. } => procedure.term(),
                    Stop::SuapIntegration { .. } => {
                        if std::mem::replace(&mut integ_seen, true) {
                            return Err(ClockError::OnlyOnce {
                                kind,
                                citation: stop.citation(),
                            });
                        }
                        Term::Days(30)
                    }
                    _ => {
                        if std::mem::replace(&mut instr_seen, true) {
                            return Err(ClockError::OnlyOnce {
                                kind,
                                citation: stop.citation(),
                            });
                        }
                        if procedure == Procedure::Opinion {
                            Term::Days(15)
                        } else {
                            Term::Days(30)
                        }
                    }
                };
                match until {
                    Some(u) => {
                        anchor = u;
                        term = new_term;
                        extension = 0;
                        paused_until = None;
                        steps.push(format!(
                            "{kind} {from}, answered {u}: term restarts, {new_term} from {u} ({})",
                            stop.citation()
                        ));
                    }
                    None => {
                        steps.push(format!(
                            "{kind} {from}: clock stopped until answered ({})",
                            stop.citation()
                        ));
                        return Ok(Deadline {
                            procedure: procedure.id(),
                            rule: procedure.citation(),
                            received,
                            term,
                            counting_from: anchor,
                            suspended_days: extension,
                            waiting: Some(Waiting {
                                kind,
                                since: from,
                                rule: stop.citation(),
                            }),
                            nominal: None,
                            due: None,
                            warning: None,
                            outcome_on_expiry: outcome,
                            steps,
                        });
                    }
                }
            }
        }
    }

    let nominal = add_days(term_end(calendar, anchor, term)?, extension)?;
    let due = calendar.roll_forward(nominal);
    steps.push(format!("term ends {nominal} ({})", nominal.weekday_name()));
    if due != nominal {
        let mut why = Vec::new();
        let mut d = nominal;
        while d < due {
            why.push(describe_non_day(calendar, d));
            d = add_days(d, 1)?;
        }
        steps.push(format!(
            "{}: deadline moves to {due} (art. 2963 c. 3 c.c., art. 155 c.p.c.)",
            why.join(", ")
        ));
    }
    let span = days_between(anchor, nominal);
    let warn_raw = add_days(anchor, span * i64::from(options.warning_percent) / 100)?;
    let warning = calendar.working_day_on_or_before(warn_raw).max(anchor);
    steps.push(format!("outcome on expiry: {outcome}"));

    Ok(Deadline {
        procedure: procedure.id(),
        rule: procedure.citation(),
        received,
        term,
        counting_from: anchor,
        suspended_days: extension,
        waiting: None,
        nominal: Some(nominal),
        due: Some(due),
        warning: Some(warning),
        outcome_on_expiry: outcome,
        steps,
    })
}

fn describe_non_day(calendar: &Calendar, d: Date) -> String {
    let names: Vec<String> = calendar
        .entries_on(d)
        .into_iter()
        .filter(|e| e.moves_deadlines)
        .map(|e| e.name)
        .collect();
    if !names.is_empty() {
        format!("{d} is {}", names.join(" / "))
    } else {
        format!("{d} is a {}", d.weekday_name())
    }
}

trait WeekdayName {
    fn weekday_name(&self) -> &'static str;
}

impl WeekdayName for Date {
    fn weekday_name(&self) -> &'static str {
        use jiff::civil::Weekday as W;
        match self.weekday() {
            W::Monday => "Monday",
            W::Tuesday => "Tuesday",
            W::Wednesday => "Wednesday",
            W::Thursday => "Thursday",
            W::Friday => "Friday",
            W::Saturday => "Saturday",
            W::Sunday => "Sunday",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn due(p: Procedure, received: Date, stops: &[Stop]) -> Date {
        deadline(
            &Calendar::for_municipality("011015"),
            p,
            received,
            stops,
            ClockOptions::default(),
        )
        .unwrap()
        .due
        .unwrap()
    }

    #[test]
    fn generic_thirty_days() {
        let g = Procedure::Generic {
            term: Term::Days(30),
            silence_assent: false,
        };
        // 2 March 2026 + 30 = 1 April (Wednesday).
        assert_eq!(due(g, date(2026, 3, 2), &[]), date(2026, 4, 1));
    }

    #[test]
    fn information_request_is_capped_and_once_only() {
        let g = Procedure::Generic {
            term: Term::Days(30),
            silence_assent: false,
        };
        let s = Stop::InformationRequest {
            from: date(2026, 3, 10),
            until: None,
        };
        // +30 days: 1 April -> 1 May (holiday) -> 2 May (Saturday, no roll-over).
        assert_eq!(due(g, date(2026, 3, 2), &[s]), date(2026, 5, 2));
        let err = deadline(
            &Calendar::national(),
            g,
            date(2026, 3, 2),
            &[s, s],
            ClockOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(err, ClockError::OnlyOnce { .. }));
    }

    #[test]
    fn open_interruption_waits() {
        let d = deadline(
            &Calendar::national(),
            Procedure::Scia,
            date(2026, 3, 2),
            &[Stop::SciaConformOrder {
                from: date(2026, 3, 20),
                until: None,
            }],
            ClockOptions::default(),
        )
        .unwrap();
        assert!(d.due.is_none());
        assert_eq!(d.waiting.unwrap().since, date(2026, 3, 20));
    }
}
