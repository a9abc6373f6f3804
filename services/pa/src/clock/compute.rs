//! Computing a deadline: the term from receipt, then each stop in date order, each by
//! its own rule.

use jiff::civil::Date;

use super::stop::ObservationWindow;
use super::{ClockError, ClockOptions, Deadline, Outcome, Procedure, Stop, Term, Waiting};
use crate::calendar::Calendar;

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
                P::Generic { .. } | P::ResidenceCheck | P::SuapOrdinary { .. }
            )
        }
        Stop::SciaConformOrder { .. } => matches!(procedure, P::Scia | P::SciaBuilding),
        Stop::SuapIntegration { .. } => matches!(procedure, P::SuapOrdinary { .. }),
        // Art. 16 c. 4 interrupts "the term of c. 1", which c. 3 excludes for protected
        // opinions: they have no such interruption.
        Stop::InstructionRequest { .. } => matches!(procedure, P::Opinion | P::Assent { .. }),
        Stop::IrregularRequest { .. } => matches!(procedure, P::DocumentAccess),
        // Access to documents gives the counter-interested parties their 10 days too
        // (DPR 184/2006 art. 3 c. 2) but without suspending the 30: only civic access
        // suspends (D.Lgs 33/2013 art. 5 c. 5).
        Stop::CounterInterested { .. } => matches!(procedure, P::CivicAccess),
        Stop::GaranteOpinion { .. } => matches!(procedure, P::CivicAccessReview),
    }
}

/// Checks a stop's own dates against each other, before any rule of the procedure.
fn check_dates(stop: &Stop) -> Result<(), ClockError> {
    match *stop {
        Stop::ReasonsAgainst {
            sent,
            received,
            observations,
        } => match (received, observations) {
            (Some(received), _) if received < sent => {
                Err(ClockError::ReceivedBeforeSent { sent, received })
            }
            (None, Some(observations)) => {
                Err(ClockError::ObservationsWithoutReceipt { observations })
            }
            (Some(received), Some(observations)) if observations < received => {
                Err(ClockError::ObservationsBeforeReceipt {
                    received,
                    observations,
                })
            }
            _ => Ok(()),
        },
        Stop::SciaConformOrder { days, .. } if days < 30 => {
            Err(ClockError::ConformTermTooShort { days })
        }
        _ => match stop.until() {
            Some(until) if until < stop.from() => Err(ClockError::EndsBeforeStart {
                kind: stop.kind_id(),
                from: stop.from(),
                until,
            }),
            _ => Ok(()),
        },
    }
}

/// A computation under way.
struct Run<'a> {
    calendar: &'a Calendar,
    procedure: Procedure,
    received: Date,
    options: ClockOptions,
    /// The day the running term counts from.
    anchor: Date,
    term: Term,
    /// Days added by suspensions since `anchor`.
    extension: i64,
    /// The latest resumption day of the suspensions so far (overlaps count once).
    paused_until: Option<Date>,
    outcome: Outcome,
    outcome_rule: &'static str,
    window: Option<ObservationWindow>,
    steps: Vec<String>,
}

impl Run<'_> {
    /// The last day of the term as it stands, holidays rolled over.
    fn due_so_far(&self) -> Result<Date, ClockError> {
        let end = add_days(
            term_end(self.calendar, self.anchor, self.term)?,
            self.extension,
        )?;
        Ok(self.calendar.roll_forward(end))
    }

    /// Pauses the clock from `from` to `resume`; a pause inside an earlier one counts
    /// only for the days beyond it.
    fn suspend(&mut self, from: Date, resume: Date, note: String, citation: &str) {
        let start = self.paused_until.map_or(from, |p| p.max(from));
        let days = days_between(start, resume).max(0);
        self.extension += days;
        self.paused_until = Some(self.paused_until.map_or(resume, |p| p.max(resume)));
        self.steps
            .push(format!("{note}: +{days} days ({citation})"));
    }

    /// Starts `term` again from `from`: what ran before no longer counts.
    fn restart(&mut self, from: Date, term: Term) {
        self.anchor = from;
        self.term = term;
        self.extension = 0;
        self.paused_until = None;
    }

    /// The clock stopped with nothing running: no deadline.
    fn waiting(self, stop: &Stop) -> Deadline {
        Deadline {
            procedure: self.procedure.id(),
            rule: self.procedure.citation(),
            received: self.received,
            term: self.term,
            counting_from: self.anchor,
            suspended_days: self.extension,
            waiting: Some(waiting_on(stop)),
            observation_window: self.window,
            nominal: None,
            due: None,
            warning: None,
            outcome_on_expiry: self.outcome,
            outcome_rule: self.outcome_rule,
            steps: self.steps,
        }
    }

    /// The running term's end, holidays rolled over, and the warning day.
    fn running(mut self) -> Result<Deadline, ClockError> {
        let nominal = add_days(
            term_end(self.calendar, self.anchor, self.term)?,
            self.extension,
        )?;
        let due = self.calendar.roll_forward(nominal);
        self.steps
            .push(format!("term ends {nominal} ({})", weekday_name(nominal)));
        if let Some(why) = why_moved(self.calendar, nominal, due)? {
            self.steps.push(format!(
                "{why}: deadline moves to {due} (art. 2963 c. 3 c.c., art. 155 c.p.c.)"
            ));
        }
        let span = days_between(self.anchor, nominal);
        let warn_raw = add_days(
            self.anchor,
            span * i64::from(self.options.warning_percent) / 100,
        )?;
        let warning = self
            .calendar
            .working_day_on_or_before(warn_raw)
            .max(self.anchor);
        self.steps.push(format!(
            "outcome on expiry: {}; {}",
            self.outcome, self.outcome_rule
        ));
        Ok(Deadline {
            procedure: self.procedure.id(),
            rule: self.procedure.citation(),
            received: self.received,
            term: self.term,
            counting_from: self.anchor,
            suspended_days: self.extension,
            waiting: None,
            observation_window: self.window,
            nominal: Some(nominal),
            due: Some(due),
            warning: Some(warning),
            outcome_on_expiry: self.outcome,
            outcome_rule: self.outcome_rule,
            steps: self.steps,
        })
    }
}

fn waiting_on(stop: &Stop) -> Waiting {
    Waiting {
        kind: stop.kind_id(),
        since: stop.from(),
        awaiting: stop.awaiting(),
        rule: stop.citation(),
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

    // SUAP ordinary procedure: the decision term runs after the 30-day window for
    // integration requests (DPR 160/2010 art. 7 c. 2, "decorso il termine di cui al
    // comma 1"). The window is a term too, so it ends on a day that is not a holiday.
    let suap_window = match procedure {
        Procedure::SuapOrdinary { .. } => Some(calendar.roll_forward(add_days(received, 30)?)),
        _ => None,
    };
    let term = procedure.term();
    let first = match suap_window {
        Some(w) => {
            let thirtieth = add_days(received, 30)?;
            let moved = match why_moved(calendar, thirtieth, w)? {
                Some(why) => format!("; {why}: the window moves to {w}"),
                None => String::new(),
            };
            format!(
                "received {received}; integration may be asked until {w} (DPR 160/2010 art. 7 c. 1{moved}); decision within {term} after that (c. 2)"
            )
        }
        None => format!(
            "received {received}; term {term} ({})",
            procedure.citation()
        ),
    };
    let mut run = Run {
        calendar,
        procedure,
        received,
        options,
        anchor: suap_window.unwrap_or(received),
        term,
        extension: 0,
        paused_until: None,
        outcome: procedure.outcome(),
        outcome_rule: procedure.outcome_rule(),
        window: None,
        steps: vec![first],
    };
    let (mut info_seen, mut instr_seen, mut integ_seen) = (false, false, false);
    let (mut irregular_seen, mut garante_seen) = (false, false);

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
        check_dates(stop)?;
        if !allowed(&procedure, stop) {
            return Err(ClockError::NotAllowed {
                kind,
                procedure: procedure.id(),
            });
        }
        if let (Stop::SuapIntegration { .. }, Some(window_end)) = (stop, suap_window)
            && from > window_end
        {
            return Err(ClockError::IntegrationTooLate { from, window_end });
        }
        let due_so_far = run.due_so_far()?;
        if from > due_so_far {
            return Err(match stop {
                Stop::ReasonsAgainst { sent, .. } => ClockError::NoticeAfterTerm {
                    sent: *sent,
                    due: due_so_far,
                    citation: if procedure == Procedure::ResidenceCheck {
                        "DPR 223/1989 art. 18-bis c. 1: the notice must be sent within the 45 days"
                    } else {
                        "L. 241/1990 art. 10-bis: the notice comes before the decision, within the term"
                    },
                },
                _ => ClockError::AfterExpiry {
                    kind,
                    from,
                    due: due_so_far,
                },
            });
        }

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
                run.suspend(
                    from,
                    resume,
                    format!("information requested {from}, clock resumes {resume}"),
                    stop.citation(),
                );
            }
            Stop::ReasonsAgainst {
                sent,
                received: got,
                observations,
            } => {
                // Sending the notice within the term is what removes silence-assent on
                // a change of residence (DPR 223/1989 art. 18-bis c. 1: "non invia").
                if procedure == Procedure::ResidenceCheck && run.outcome == Outcome::SilenceAssent {
                    run.outcome = Outcome::Breach;
                    run.outcome_rule = "DPR 223/1989 art. 18-bis c. 1, DL 5/2012 art. 5 c. 5: preavviso di rigetto (art. 10-bis) inviato entro i 45 giorni, quindi niente silenzio-assenso; la decisione resta dovuta / a 10-bis notice was sent within the 45 days, so no silence-assent; the decision is still due";
                    run.steps.push(format!(
                        "10-bis notice sent {sent}, within the term ending {due_so_far}: no silence-assent on change of residence (DPR 223/1989 art. 18-bis c. 1; DL 5/2012 art. 5 c. 5)"
                    ));
                }
                let Some(got) = got else {
                    run.window = Some(ObservationWindow {
                        sent,
                        received: None,
                        ends: None,
                    });
                    run.steps.push(format!(
                        "10-bis notice sent {sent}, receipt not recorded: no window for observations runs yet and the term stays suspended ({})",
                        stop.citation()
                    ));
                    return Ok(run.waiting(stop));
                };
                // The applicant's 10 days count from receipt and, like any term, end
                // on a day that is not a holiday.
                let window_end = calendar.roll_forward(add_days(got, 10)?);
                run.window = Some(ObservationWindow {
                    sent,
                    received: Some(got),
                    ends: Some(window_end),
                });
                let (resume, note) = match observations {
                    Some(obs) if obs <= window_end => {
                        let resume = add_days(obs, 10)?;
                        (
                            resume,
                            format!(
                                "10-bis notice sent {sent}, received {got}, observations {obs}: clock resumes {resume}, 10 days after them"
                            ),
                        )
                    }
                    Some(obs) => (
                        window_end,
                        format!(
                            "10-bis notice sent {sent}, received {got}, observations {obs} after the window ended {window_end}: clock resumes {window_end}"
                        ),
                    ),
                    None => (
                        window_end,
                        format!(
                            "10-bis notice sent {sent}, received {got}, no observations: clock resumes {window_end}, when the window for them ends"
                        ),
                    ),
                };
                run.suspend(sent, resume, note, stop.citation());
            }
            Stop::SciaConformOrder { days, until, .. } => {
                // The order gives the citizen a term of its own; it ends on a day that
                // is not a holiday, like any term.
                let measures_due = calendar.roll_forward(add_days(from, i64::from(days))?);
                match until {
                    Some(u) if u <= measures_due => {
                        run.restart(u, procedure.term());
                        run.steps.push(format!(
                            "order to conform {from}, measures reported {u}: term restarts, {} from {u} ({})",
                            procedure.term(),
                            stop.citation()
                        ));
                    }
                    _ => {
                        // The running term is now the citizen's: without the measures
                        // the activity is prohibited when it ends (art. 19 c. 3).
                        run.restart(from, Term::Days(days));
                        run.outcome = Outcome::ActivityProhibited;
                        run.outcome_rule = "L. 241/1990 art. 19 c. 3: without the measures, once the term the order set has passed the activity is prohibited";
                        let deadline = match until {
                            Some(u) => {
                                run.steps.push(format!(
                                    "order to conform {from}, {days} days for the measures; reported {u}, after the term ended {measures_due}: the activity was prohibited from the next day, and a late report does not restart the control term ({})",
                                    stop.citation()
                                ));
                                run.running()?
                            }
                            None => {
                                run.steps.push(format!(
                                    "order to conform {from}, {days} days for the measures, none reported yet: the control term is interrupted ({})",
                                    stop.citation()
                                ));
                                let mut d = run.running()?;
                                d.waiting = Some(waiting_on(stop));
                                d
                            }
                        };
                        return Ok(deadline);
                    }
                }
            }
            Stop::SuapIntegration { until, .. } => {
                if std::mem::replace(&mut integ_seen, true) {
                    return Err(ClockError::OnlyOnce {
                        kind,
                        citation: stop.citation(),
                    });
                }
                let Some(u) = until else {
                    run.steps.push(format!(
                        "integration requested {from}: clock stopped until it arrives ({})",
                        stop.citation()
                    ));
                    return Ok(run.waiting(stop));
                };
                let window_end = suap_window.unwrap_or(received);
                let start = u.max(window_end);
                run.restart(start, Term::Days(30));
                run.steps.push(format!(
                    "integration requested {from}, arrived {u}: decision within 30 days from {start}, the later of its arrival and the window's end {window_end} ({})",
                    stop.citation()
                ));
            }
            Stop::InstructionRequest { until, .. } => {
                if std::mem::replace(&mut instr_seen, true) {
                    return Err(ClockError::OnlyOnce {
                        kind,
                        citation: stop.citation(),
                    });
                }
                let new_term = if procedure == Procedure::Opinion {
                    Term::Days(15)
                } else {
                    Term::Days(30)
                };
                let Some(u) = until else {
                    run.steps.push(format!(
                        "{kind} {from}: clock stopped until answered ({})",
                        stop.citation()
                    ));
                    return Ok(run.waiting(stop));
                };
                run.restart(u, new_term);
                run.steps.push(format!(
                    "{kind} {from}, answered {u}: term restarts, {new_term} from {u} ({})",
                    stop.citation()
                ));
            }
            Stop::IrregularRequest { corrected, .. } => {
                if std::mem::replace(&mut irregular_seen, true) {
                    return Err(ClockError::OnlyOnce {
                        kind,
                        citation: stop.citation(),
                    });
                }
                // The notice restarts the term only if given within 10 days of receipt
                // (art. 6 c. 5: "entro dieci giorni").
                let limit = add_days(received, 10)?;
                if from > limit {
                    return Err(ClockError::IrregularNoticeTooLate {
                        notified: from,
                        limit,
                    });
                }
                let Some(c) = corrected else {
                    run.steps.push(format!(
                        "irregular request notified {from}: no term runs until the corrected request arrives ({})",
                        stop.citation()
                    ));
                    return Ok(run.waiting(stop));
                };
                run.restart(c, procedure.term());
                run.steps.push(format!(
                    "irregular request notified {from}, corrected {c}: the term starts again, {} from {c} ({})",
                    procedure.term(),
                    stop.citation()
                ));
            }
            Stop::CounterInterested { objection, .. } => {
                // Their 10 days end on a day that is not a holiday, like any term.
                let window_end = calendar.roll_forward(add_days(from, 10)?);
                let (resume, note) = match objection {
                    Some(o) if o <= window_end => (
                        o,
                        format!(
                            "counter-interested parties notified {from}, objection {o}: clock resumes {o}"
                        ),
                    ),
                    _ => (
                        window_end,
                        format!(
                            "counter-interested parties notified {from}, no objection within their 10 days: clock resumes {window_end}"
                        ),
                    ),
                };
                run.suspend(from, resume, note, stop.citation());
            }
            Stop::GaranteOpinion { given, .. } => {
                if std::mem::replace(&mut garante_seen, true) {
                    return Err(ClockError::OnlyOnce {
                        kind,
                        citation: stop.citation(),
                    });
                }
                let cap = add_days(from, 10)?;
                let resume = given.map_or(cap, |g| g.min(cap));
                run.suspend(
                    from,
                    resume,
                    format!("Garante's opinion asked {from}, clock resumes {resume}"),
                    stop.citation(),
                );
            }
        }
    }
    run.running()
}

/// Why a term's last day moved from `nominal` to `due`: each day skipped, named.
fn why_moved(calendar: &Calendar, nominal: Date, due: Date) -> Result<Option<String>, ClockError> {
    if due == nominal {
        return Ok(None);
    }
    let mut why = Vec::new();
    let mut d = nominal;
    while d < due {
        why.push(describe_non_day(calendar, d));
        d = add_days(d, 1)?;
    }
    Ok(Some(why.join(", ")))
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
        format!("{d} is a {}", weekday_name(d))
    }
}

fn weekday_name(d: Date) -> &'static str {
    use jiff::civil::Weekday as W;
    match d.weekday() {
        W::Monday => "Monday",
        W::Tuesday => "Tuesday",
        W::Wednesday => "Wednesday",
        W::Thursday => "Thursday",
        W::Friday => "Friday",
        W::Saturday => "Saturday",
        W::Sunday => "Sunday",
    }
}
