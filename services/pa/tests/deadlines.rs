//! The deadline table: each row a case across Easter, 19 March (La Spezia's patron day),
//! 4 October (a national holiday again from 2026), year ends and weekends, with
//! suspensions and interruptions; its expected date and the rule that gives it.
//!
//! Every expected date was also computed by an independent model (Python, with
//! `dateutil.easter` and `relativedelta` for months) before being written here.

// Helpers outside #[test] fns are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jiff::civil::{Date, date};
use sportello_pa::calendar::Calendar;
use sportello_pa::clock::{ClockError, ClockOptions, Outcome, Procedure, Stop, Term, deadline};

fn sp() -> Calendar {
    Calendar::for_municipality("011015") // La Spezia: patron day 19 March
}
fn nat() -> Calendar {
    Calendar::national()
}
fn sp_sat() -> Calendar {
    sp().with_saturday_rollover(true)
}
fn bologna() -> Calendar {
    Calendar::for_municipality("037006") // patron San Petronio, 4 October
}
fn days(n: u32) -> Procedure {
    Procedure::Generic {
        term: Term::Days(n),
        silence_assent: false,
    }
}
fn months(n: u32) -> Procedure {
    Procedure::Generic {
        term: Term::Months(n),
        silence_assent: false,
    }
}
fn info(from: Date, until: Option<Date>) -> Stop {
    Stop::InformationRequest { from, until }
}
fn reasons(from: Date, until: Option<Date>) -> Stop {
    Stop::ReasonsAgainst { from, until }
}

struct Row {
    case: &'static str,
    calendar: Calendar,
    procedure: Procedure,
    received: Date,
    stops: Vec<Stop>,
    due: Date,
    rule: &'static str,
}

fn row(
    case: &'static str,
    calendar: Calendar,
    procedure: Procedure,
    received: Date,
    stops: Vec<Stop>,
    due: Date,
    rule: &'static str,
) -> Row {
    Row {
        case,
        calendar,
        procedure,
        received,
        stops,
        due,
        rule,
    }
}

fn table() -> Vec<Row> {
    use Procedure as P;
    vec![
        row(
            "30 days ending on 19 March, national calendar",
            nat(),
            days(30),
            date(2026, 2, 17),
            vec![],
            date(2026, 3, 19),
            "art. 2963 c.c.: start day not counted; 19 March is not a national holiday",
        ),
        row(
            "30 days ending on 19 March in La Spezia",
            sp(),
            days(30),
            date(2026, 2, 17),
            vec![],
            date(2026, 3, 20),
            "patron day moves the deadline to the next day",
        ),
        row(
            "19 March 2027 is a Friday: moves to Saturday",
            sp(),
            days(30),
            date(2027, 2, 17),
            vec![],
            date(2027, 3, 20),
            "Saturday roll-over off by default",
        ),
        row(
            "same with Saturday roll-over",
            sp_sat(),
            days(30),
            date(2027, 2, 17),
            vec![],
            date(2027, 3, 22),
            "art. 155 c. 5 c.p.c. setting on: Saturday and Sunday skipped",
        ),
        row(
            "ending on Easter Sunday 2026",
            sp(),
            days(30),
            date(2026, 3, 6),
            vec![],
            date(2026, 4, 7),
            "Easter and Easter Monday skipped",
        ),
        row(
            "ending on Easter Monday 2027",
            nat(),
            days(30),
            date(2027, 2, 27),
            vec![],
            date(2027, 3, 30),
            "Easter Monday is a national holiday",
        ),
        row(
            "10 days across 19 March to Easter 2027",
            sp(),
            days(10),
            date(2027, 3, 18),
            vec![],
            date(2027, 3, 30),
            "holidays inside the period count; only the last day moves",
        ),
        row(
            "4 October 2027, a Monday",
            nat(),
            days(30),
            date(2027, 9, 4),
            vec![],
            date(2027, 10, 5),
            "L. 151/2025: 4 October a national holiday from 2026",
        ),
        row(
            "4 October 2025 was not yet a holiday",
            nat(),
            days(30),
            date(2025, 9, 4),
            vec![],
            date(2025, 10, 4),
            "L. 151/2025 applies from 2026; Saturday roll-over off",
        ),
        row(
            "4 October 2026 is a Sunday",
            nat(),
            days(30),
            date(2026, 9, 4),
            vec![],
            date(2026, 10, 5),
            "Sunday moves the deadline",
        ),
        row(
            "Bologna: patron day and national holiday together",
            bologna(),
            days(30),
            date(2028, 9, 4),
            vec![],
            date(2028, 10, 5),
            "one day, two reasons: moves once",
        ),
        row(
            "Christmas, Santo Stefano and Sunday",
            nat(),
            days(30),
            date(2026, 11, 25),
            vec![],
            date(2026, 12, 28),
            "25, 26 December and Sunday skipped",
        ),
        row(
            "New Year's Day 2027 then Saturday",
            nat(),
            days(30),
            date(2026, 12, 2),
            vec![],
            date(2027, 1, 2),
            "1 January skipped, Saturday kept",
        ),
        row(
            "New Year's Day with Saturday roll-over",
            sp_sat(),
            days(30),
            date(2026, 12, 2),
            vec![],
            date(2027, 1, 4),
            "1 January, Saturday, Sunday skipped",
        ),
        row(
            "Epiphany",
            nat(),
            days(30),
            date(2026, 12, 7),
            vec![],
            date(2027, 1, 7),
            "6 January is a national holiday",
        ),
        row(
            "one month from 31 January",
            nat(),
            months(1),
            date(2026, 1, 31),
            vec![],
            date(2026, 2, 28),
            "art. 2963 c. 5 c.c.: no 31 February, last day of the month",
        ),
        row(
            "one month from 19 March ends on a Sunday",
            nat(),
            months(1),
            date(2026, 3, 19),
            vec![],
            date(2026, 4, 20),
            "art. 2963 c. 4 c.c.: same day of the month, then Sunday moves",
        ),
        row(
            "two months across the year end",
            nat(),
            months(2),
            date(2026, 12, 31),
            vec![],
            date(2027, 3, 1),
            "28 February 2027 is a Sunday",
        ),
        row(
            "received on 1 May, ends on a Sunday",
            nat(),
            days(30),
            date(2026, 5, 1),
            vec![],
            date(2026, 6, 1),
            "Sunday moves to Monday 1 June",
        ),
        row(
            "ends on a plain Monday",
            nat(),
            days(30),
            date(2026, 5, 2),
            vec![],
            date(2026, 6, 1),
            "no roll-over",
        ),
        row(
            "ends on 2 June",
            nat(),
            days(30),
            date(2026, 5, 3),
            vec![],
            date(2026, 6, 3),
            "Festa della Repubblica",
        ),
        row(
            "Ferragosto on a Saturday",
            nat(),
            days(30),
            date(2026, 7, 16),
            vec![],
            date(2026, 8, 17),
            "15 August holiday, then Sunday",
        ),
        row(
            "25 April on a Saturday",
            nat(),
            days(30),
            date(2026, 3, 26),
            vec![],
            date(2026, 4, 27),
            "Liberation Day, then Sunday",
        ),
        row(
            "1 November on a Sunday",
            nat(),
            days(30),
            date(2026, 10, 2),
            vec![],
            date(2026, 11, 2),
            "All Saints",
        ),
        row(
            "8 December",
            nat(),
            days(30),
            date(2026, 11, 8),
            vec![],
            date(2026, 12, 9),
            "Immacolata",
        ),
        row(
            "Easter 2038 falls on 25 April",
            nat(),
            days(30),
            date(2038, 3, 26),
            vec![],
            date(2038, 4, 27),
            "Easter Sunday = Liberation Day, then Easter Monday",
        ),
        // Suspensions.
        row(
            "art. 2 c. 7 suspension of 5 days",
            sp(),
            days(30),
            date(2026, 2, 17),
            vec![info(date(2026, 2, 20), Some(date(2026, 2, 25)))],
            date(2026, 3, 24),
            "L. 241/1990 art. 2 c. 7: the days suspended are added",
        ),
        row(
            "art. 2 c. 7 capped at 30 days",
            sp(),
            days(30),
            date(2026, 2, 2),
            vec![info(date(2026, 2, 5), Some(date(2026, 3, 22)))],
            date(2026, 4, 3),
            "at most 30 days, even if the answer comes later",
        ),
        row(
            "art. 2 c. 7 never answered resumes by itself",
            sp(),
            days(30),
            date(2026, 2, 17),
            vec![info(date(2026, 2, 20), None)],
            date(2026, 4, 18),
            "resumes after 30 days; lands on Saturday",
        ),
        row(
            "same with Saturday roll-over",
            sp_sat(),
            days(30),
            date(2026, 2, 17),
            vec![info(date(2026, 2, 20), None)],
            date(2026, 4, 20),
            "Saturday and Sunday skipped",
        ),
        row(
            "10-bis without observations",
            sp(),
            days(30),
            date(2026, 3, 2),
            vec![reasons(date(2026, 3, 20), None)],
            date(2026, 4, 11),
            "art. 10-bis: resumes when the 10-day window ends",
        ),
        row(
            "10-bis with observations",
            sp(),
            days(30),
            date(2026, 3, 2),
            vec![reasons(date(2026, 3, 20), Some(date(2026, 3, 25)))],
            date(2026, 4, 16),
            "resumes 10 days after the observations",
        ),
        row(
            "10-bis with late observations",
            sp(),
            days(30),
            date(2026, 3, 2),
            vec![reasons(date(2026, 3, 20), Some(date(2026, 4, 2)))],
            date(2026, 4, 11),
            "late observations do not extend: window end",
        ),
        row(
            "overlapping suspensions count once",
            sp(),
            days(30),
            date(2026, 3, 2),
            vec![
                info(date(2026, 3, 10), Some(date(2026, 3, 20))),
                reasons(date(2026, 3, 15), None),
            ],
            date(2026, 4, 16),
            "10 + 5 days: the overlap 15-20 March counted once",
        ),
        // Change of residence.
        row(
            "residence check: 45 days to 19 March",
            sp(),
            P::ResidenceCheck,
            date(2026, 2, 2),
            vec![],
            date(2026, 3, 20),
            "DL 5/2012 art. 5: 45 days; patron day moves it",
        ),
        row(
            "residence check with 10-bis",
            sp(),
            P::ResidenceCheck,
            date(2026, 2, 2),
            vec![reasons(date(2026, 3, 1), None)],
            date(2026, 3, 30),
            "10-bis suspends 10 days; Sunday moves it",
        ),
        row(
            "residence registration before 19 March",
            sp(),
            P::ResidenceRegistration,
            date(2026, 3, 18),
            vec![],
            date(2026, 3, 23),
            "2 working days: the patron day is not one",
        ),
        row(
            "residence registration over Easter",
            sp(),
            P::ResidenceRegistration,
            date(2026, 4, 2),
            vec![],
            date(2026, 4, 7),
            "Friday, then Tuesday after Easter Monday",
        ),
        row(
            "residence registration over Christmas",
            sp(),
            P::ResidenceRegistration,
            date(2026, 12, 23),
            vec![],
            date(2026, 12, 28),
            "24 December, then Monday 28",
        ),
        // SCIA.
        row(
            "SCIA 60 days to 19 March",
            sp(),
            P::Scia,
            date(2026, 1, 18),
            vec![],
            date(2026, 3, 20),
            "L. 241/1990 art. 19 c. 3: 60 days",
        ),
        row(
            "SCIA order to conform restarts the 60 days",
            sp(),
            P::Scia,
            date(2026, 1, 18),
            vec![Stop::SciaConformOrder {
                from: date(2026, 2, 10),
                until: Some(date(2026, 3, 2)),
            }],
            date(2026, 5, 2),
            "art. 19 c. 3: interrupted, 60 days from the measures; 1 May skipped",
        ),
        row(
            "building SCIA ending on 4 October 2026",
            sp(),
            P::SciaBuilding,
            date(2026, 9, 4),
            vec![],
            date(2026, 10, 5),
            "art. 19 c. 6-bis: 30 days; Sunday and national holiday",
        ),
        // SUAP.
        row(
            "SUAP ordinary ending on Easter",
            sp(),
            P::SuapOrdinary,
            date(2026, 3, 6),
            vec![],
            date(2026, 4, 7),
            "DPR 160/2010 art. 7 c. 2: 30 days",
        ),
        row(
            "SUAP integration restarts the decision term",
            sp(),
            P::SuapOrdinary,
            date(2026, 3, 2),
            vec![Stop::SuapIntegration {
                from: date(2026, 3, 10),
                until: Some(date(2026, 3, 18)),
            }],
            date(2026, 4, 17),
            "30 days from the integration's receipt",
        ),
        row(
            "SUAP integration then 10-bis",
            sp(),
            P::SuapOrdinary,
            date(2026, 3, 2),
            vec![
                Stop::SuapIntegration {
                    from: date(2026, 3, 10),
                    until: Some(date(2026, 3, 18)),
                },
                reasons(date(2026, 4, 10), None),
            ],
            date(2026, 4, 27),
            "restart, then a 10-day suspension",
        ),
        // Opinions and assents.
        row(
            "opinion ending on Santo Stefano",
            sp(),
            P::Opinion,
            date(2026, 12, 6),
            vec![],
            date(2026, 12, 28),
            "art. 16 c. 1: 20 days",
        ),
        row(
            "opinion with a request for elements",
            sp(),
            P::Opinion,
            date(2026, 3, 2),
            vec![Stop::InstructionRequest {
                from: date(2026, 3, 5),
                until: Some(date(2026, 3, 9)),
            }],
            date(2026, 3, 24),
            "art. 16 c. 4: 15 days from the elements",
        ),
        row(
            "assent at Christmas",
            sp(),
            P::Assent { sensitive: false },
            date(2026, 11, 25),
            vec![],
            date(2026, 12, 28),
            "art. 17-bis c. 1: 30 days",
        ),
        row(
            "heritage assent ending on Easter",
            sp(),
            P::Assent { sensitive: true },
            date(2026, 1, 5),
            vec![],
            date(2026, 4, 7),
            "art. 17-bis c. 3: 90 days",
        ),
        row(
            "heritage assent interrupted",
            sp(),
            P::Assent { sensitive: true },
            date(2026, 1, 5),
            vec![Stop::InstructionRequest {
                from: date(2026, 1, 20),
                until: Some(date(2026, 3, 20)),
            }],
            date(2026, 4, 20),
            "art. 17-bis c. 1: 30 days from the elements; Sunday moves it",
        ),
    ]
}

#[test]
fn the_table_has_at_least_40_cases() {
    assert!(table().len() >= 40, "{}", table().len());
}

#[test]
fn every_row_gives_its_expected_date() {
    let mut failures = Vec::new();
    for r in table() {
        let got = deadline(
            &r.calendar,
            r.procedure,
            r.received,
            &r.stops,
            ClockOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", r.case));
        if got.due != Some(r.due) {
            failures.push(format!(
                "{} ({}): expected {}, got {:?}\n  {:#?}",
                r.case, r.rule, r.due, got.due, got.steps
            ));
        }
        assert!(got.warning.unwrap() <= got.due.unwrap(), "{}", r.case);
        assert!(got.nominal.unwrap() <= got.due.unwrap(), "{}", r.case);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn outcomes_on_expiry() {
    let o = |p, stops: &[Stop]| {
        deadline(&sp(), p, date(2026, 2, 2), stops, ClockOptions::default())
            .unwrap()
            .outcome_on_expiry
    };
    assert_eq!(o(Procedure::ResidenceCheck, &[]), Outcome::SilenceAssent);
    assert_eq!(
        o(
            Procedure::ResidenceCheck,
            &[reasons(date(2026, 3, 1), None)]
        ),
        Outcome::Breach
    );
    assert_eq!(o(Procedure::Scia, &[]), Outcome::ControlsLapsed);
    assert_eq!(o(Procedure::Opinion, &[]), Outcome::ProceedWithout);
    assert_eq!(
        o(Procedure::Assent { sensitive: true }, &[]),
        Outcome::SilenceAssent
    );
    assert_eq!(o(days(30), &[]), Outcome::Breach);
}

#[test]
fn rules_reject_what_the_law_does_not_allow() {
    let run =
        |p, received, stops: &[Stop]| deadline(&sp(), p, received, stops, ClockOptions::default());
    assert!(matches!(
        run(
            Procedure::SuapOrdinary,
            date(2026, 3, 2),
            &[Stop::SuapIntegration {
                from: date(2026, 4, 2),
                until: None
            }]
        ),
        Err(ClockError::IntegrationTooLate { .. })
    ));
    assert!(matches!(
        run(days(30), date(2026, 3, 2), &[info(date(2026, 4, 2), None)]),
        Err(ClockError::AfterExpiry { .. })
    ));
    assert!(matches!(
        run(
            Procedure::Scia,
            date(2026, 3, 2),
            &[info(date(2026, 3, 5), None)]
        ),
        Err(ClockError::NotAllowed { .. })
    ));
    assert!(matches!(
        run(days(30), date(2026, 3, 2), &[info(date(2026, 3, 1), None)]),
        Err(ClockError::BeforeReceipt { .. })
    ));
    assert!(matches!(
        run(
            days(30),
            date(2026, 3, 2),
            &[info(date(2026, 3, 5), Some(date(2026, 3, 4)))]
        ),
        Err(ClockError::EndsBeforeStart { .. })
    ));
    let twice = [
        Stop::InstructionRequest {
            from: date(2026, 3, 3),
            until: Some(date(2026, 3, 4)),
        },
        Stop::InstructionRequest {
            from: date(2026, 3, 5),
            until: Some(date(2026, 3, 6)),
        },
    ];
    assert!(matches!(
        run(Procedure::Opinion, date(2026, 3, 2), &twice),
        Err(ClockError::OnlyOnce { .. })
    ));
}

#[test]
fn warning_at_a_share_of_the_term() {
    let d = |pct| {
        deadline(
            &nat(),
            days(30),
            date(2026, 3, 2),
            &[],
            ClockOptions {
                warning_percent: pct,
            },
        )
        .unwrap()
        .warning
        .unwrap()
    };
    // 80 % of 30 days = day 24: 26 March (Thursday).
    assert_eq!(d(80), date(2026, 3, 26));
    // 50 %: day 15 = 17 March (Tuesday).
    assert_eq!(d(50), date(2026, 3, 17));
    // 90 %: day 27 = 29 March, a Sunday: warn on Friday 27.
    assert_eq!(d(90), date(2026, 3, 27));
    assert!(matches!(
        deadline(
            &nat(),
            days(30),
            date(2026, 3, 2),
            &[],
            ClockOptions { warning_percent: 0 }
        ),
        Err(ClockError::WarningPercent(0))
    ));
}
