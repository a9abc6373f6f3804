//! The deadline table: each row a case across Easter, 19 March (La Spezia's patron day),
//! 4 October (a national holiday again from 2026), year ends and weekends, with
//! suspensions and interruptions; its expected date and the rule that gives it.
//!
//! Every expected date was also computed by an independent model (Python, with
//! `dateutil.easter` and `relativedelta` for months) before being written here.
//!
//! Issue 11 corrected three rules, and the rows that encoded the old ones changed with
//! them: a 10-bis notice has the day it is sent and the day it is received (the window
//! counts from receipt); the SUAP ordinary decision term runs 30 days after the 30-day
//! integration window (DPR 160/2010 art. 7 c. 2); an order to conform has its own term,
//! after which the activity is prohibited (L. 241/1990 art. 19 c. 3).

// Helpers outside #[test] fns are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jiff::civil::{Date, date};
use sportello_pa::calendar::Calendar;
use sportello_pa::clock::{
    ClockError, ClockOptions, Matter, Outcome, Procedure, Stop, Term, deadline,
};

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
/// A 10-bis notice handed over (or delivered by PEC) the day it was sent.
fn reasons(on: Date, observations: Option<Date>) -> Stop {
    notice(on, Some(on), observations)
}
/// A 10-bis notice: sent (outgoing protocol date), received, observations.
fn notice(sent: Date, received: Option<Date>, observations: Option<Date>) -> Stop {
    Stop::ReasonsAgainst {
        sent,
        received,
        observations,
    }
}
fn suap() -> Procedure {
    Procedure::SuapOrdinary {
        matter: Matter::General,
    }
}
fn conform(from: Date, days: u32, until: Option<Date>) -> Stop {
    Stop::SciaConformOrder { from, days, until }
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
        row(
            "10-bis received four days after it was sent",
            sp(),
            days(30),
            date(2026, 3, 2),
            vec![notice(date(2026, 3, 20), Some(date(2026, 3, 24)), None)],
            date(2026, 4, 15),
            "art. 10-bis: suspended from sending; the 10 days count from receipt (to 3 April): +14",
        ),
        row(
            "10-bis observations within a window counted from receipt",
            sp(),
            days(30),
            date(2026, 3, 2),
            vec![notice(
                date(2026, 3, 20),
                Some(date(2026, 3, 24)),
                Some(date(2026, 4, 1)),
            )],
            date(2026, 4, 23),
            "observations on 1 April fall in the window that ends 3 April; resumes 11 April: +22",
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
            "residence check: the observation window ends on a Sunday",
            sp(),
            P::ResidenceCheck,
            date(2026, 2, 2),
            vec![notice(date(2026, 3, 2), Some(date(2026, 3, 5)), None)],
            date(2026, 4, 2),
            "received 5 March, window to Sunday 15 moves to 16; suspended 2-16 March: +14",
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
            vec![conform(date(2026, 2, 10), 30, Some(date(2026, 3, 2)))],
            date(2026, 5, 2),
            "art. 19 c. 3: interrupted, 60 days from the measures; 1 May skipped",
        ),
        row(
            "SCIA order to conform with no measures reported",
            sp(),
            P::Scia,
            date(2026, 1, 18),
            vec![conform(date(2026, 2, 10), 30, None)],
            date(2026, 3, 12),
            "art. 19 c. 3: the order's 30 days; then the activity is prohibited",
        ),
        row(
            "SCIA order to conform with 45 days ending on 19 March",
            sp(),
            P::Scia,
            date(2026, 1, 18),
            vec![conform(date(2026, 2, 2), 45, None)],
            date(2026, 3, 20),
            "the order's own term moves past the patron day",
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
            "SUAP ordinary without integration: 60 days",
            nat(),
            suap(),
            date(2026, 5, 4),
            vec![],
            date(2026, 7, 3),
            "DPR 160/2010 art. 7 c. 1-2: window to 3 June, decision 30 days after it",
        ),
        row(
            "SUAP ordinary: the window ends on Easter",
            sp(),
            suap(),
            date(2026, 3, 6),
            vec![],
            date(2026, 5, 7),
            "window to 5 April moves past Easter Monday to 7 April; decision 30 days after it",
        ),
        row(
            "SUAP integration arriving inside the window",
            sp(),
            suap(),
            date(2026, 3, 2),
            vec![Stop::SuapIntegration {
                from: date(2026, 3, 10),
                until: Some(date(2026, 3, 18)),
            }],
            date(2026, 5, 2),
            "art. 7 c. 2: 30 days from the window's end (1 April), the later date; 1 May skipped",
        ),
        row(
            "SUAP integration arriving after the window",
            sp(),
            suap(),
            date(2026, 3, 2),
            vec![Stop::SuapIntegration {
                from: date(2026, 3, 25),
                until: Some(date(2026, 4, 20)),
            }],
            date(2026, 5, 20),
            "30 days from the integration's arrival, the later date",
        ),
        row(
            "SUAP integration then 10-bis",
            sp(),
            suap(),
            date(2026, 3, 2),
            vec![
                Stop::SuapIntegration {
                    from: date(2026, 3, 10),
                    until: Some(date(2026, 3, 18)),
                },
                reasons(date(2026, 4, 10), None),
            ],
            date(2026, 5, 11),
            "decision due 1 May, then a 10-day suspension",
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
            "opinion of a health body with its own 45 days",
            sp(),
            P::ProtectedOpinion {
                term: Term::Days(45),
            },
            date(2026, 2, 2),
            vec![],
            date(2026, 3, 20),
            "art. 16 c. 3: the body's own term; patron day moves it",
        ),
        row(
            "attestation of silence-assent at Christmas",
            sp(),
            P::SilenceAssentAttestation,
            date(2026, 12, 16),
            vec![],
            date(2026, 12, 28),
            "art. 20 c. 2-bis: 10 days; Santo Stefano and Sunday",
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
    assert_eq!(o(suap(), &[]), Outcome::SilenceAssent);
    assert_eq!(
        o(Procedure::SilenceAssentAttestation, &[]),
        Outcome::SelfDeclaration
    );
}

/// DPR 223/1989 art. 18-bis c. 1 ("se entro tale termine l'ufficiale d'anagrafe ... non
/// invia all'interessato la comunicazione di cui all'articolo 10-bis"): the day the
/// notice is *sent* must fall within the 45 days, and sending it is what removes
/// silence-assent, whenever it is received.
#[test]
fn dpr_223_1989_art_18_bis_the_notice_is_sent_within_the_45_days() {
    // Declaration on 2 February 2026: the 45th day is 19 March, La Spezia's patron day,
    // so the term ends on Friday 20 March.
    let check = |sent: Date, received: Option<Date>| {
        deadline(
            &sp(),
            Procedure::ResidenceCheck,
            date(2026, 2, 2),
            &[notice(sent, received, None)],
            ClockOptions::default(),
        )
    };
    let last_day = check(date(2026, 3, 20), Some(date(2026, 3, 26))).unwrap();
    assert_eq!(last_day.outcome_on_expiry, Outcome::Breach);
    assert!(last_day.outcome_rule.contains("18-bis"));
    // Received 26 March, window to 5 April (Easter) moves to 7 April; the term was
    // suspended from 20 March to 7 April (+18): 19 March + 18 = 6 April, Easter Monday,
    // so the check is due on Tuesday 7 April.
    assert_eq!(last_day.due, Some(date(2026, 4, 7)));
    let late = check(date(2026, 3, 21), Some(date(2026, 3, 21))).unwrap_err();
    assert_eq!(
        late,
        ClockError::NoticeAfterTerm {
            sent: date(2026, 3, 21),
            due: date(2026, 3, 20),
            citation: "DPR 223/1989 art. 18-bis c. 1: the notice must be sent within the 45 days",
        }
    );
    assert_eq!(
        late.to_string(),
        "10-bis notice sent on 2026-03-21, after the term ended on 2026-03-20 (DPR 223/1989 art. 18-bis c. 1: the notice must be sent within the 45 days)"
    );
}

/// The 45-day check is DPR 223/1989 art. 18-bis c. 1 and DL 5/2012 art. 5 c. 5; c. 3 of
/// the same article is the registration within 2 working days, and only that cites it.
#[test]
fn dl_5_2012_art_5_c_5_is_the_45_days_and_c_3_the_2_working_days() {
    let check = Procedure::ResidenceCheck.citation();
    assert!(check.contains("DPR 223/1989 art. 18-bis c. 1"), "{check}");
    assert!(check.contains("DL 5/2012 art. 5 c. 5"), "{check}");
    assert!(!check.contains("c. 3"), "{check}");
    assert!(
        Procedure::ResidenceCheck
            .outcome_rule()
            .contains("DL 5/2012 art. 5 c. 5")
    );
    let registration = Procedure::ResidenceRegistration.citation();
    assert!(
        registration.contains("DL 5/2012 art. 5 c. 3"),
        "{registration}"
    );
    let sent = deadline(
        &sp(),
        Procedure::ResidenceCheck,
        date(2026, 2, 2),
        &[notice(date(2026, 3, 2), None, None)],
        ClockOptions::default(),
    )
    .unwrap();
    assert!(!sent.outcome_rule.contains("c. 3"), "{}", sent.outcome_rule);
}

/// L. 241/1990 art. 10-bis ("entro il termine di dieci giorni dal ricevimento della
/// comunicazione"): the applicant's window counts from receipt, and until the receipt
/// is recorded no window runs and no deadline is given.
#[test]
fn l_241_1990_art_10_bis_the_window_counts_from_receipt() {
    let run = |stop| {
        deadline(
            &sp(),
            days(30),
            date(2026, 3, 2),
            &[stop],
            ClockOptions::default(),
        )
    };
    let pending = run(notice(date(2026, 3, 20), None, None)).unwrap();
    assert_eq!(pending.due, None);
    let waiting = pending.waiting.unwrap();
    assert_eq!(waiting.awaiting, "the day the notice was received");
    assert_eq!(waiting.since, date(2026, 3, 20));
    let window = pending.observation_window.unwrap();
    assert_eq!((window.received, window.ends), (None, None));

    let received = run(notice(date(2026, 3, 20), Some(date(2026, 3, 24)), None)).unwrap();
    let window = received.observation_window.unwrap();
    assert_eq!(window.ends, Some(date(2026, 4, 3)));
    assert_eq!(received.suspended_days, 14);

    assert_eq!(
        run(notice(date(2026, 3, 20), Some(date(2026, 3, 19)), None)).unwrap_err(),
        ClockError::ReceivedBeforeSent {
            sent: date(2026, 3, 20),
            received: date(2026, 3, 19)
        }
    );
    assert_eq!(
        run(notice(date(2026, 3, 20), None, Some(date(2026, 3, 25)))).unwrap_err(),
        ClockError::ObservationsWithoutReceipt {
            observations: date(2026, 3, 25)
        }
    );
    assert_eq!(
        run(notice(
            date(2026, 3, 20),
            Some(date(2026, 3, 24)),
            Some(date(2026, 3, 23))
        ))
        .unwrap_err(),
        ClockError::ObservationsBeforeReceipt {
            received: date(2026, 3, 24),
            observations: date(2026, 3, 23)
        }
    );
}

/// DPR 160/2010 art. 7 c. 2 ("adotta il provvedimento conclusivo entro trenta giorni,
/// decorso il termine di cui al comma 1"): the decision term follows the 30-day window
/// for integration requests, so 60 days from receipt without integration.
#[test]
fn dpr_160_2010_art_7_the_decision_term_follows_the_integration_window() {
    let d = deadline(
        &nat(),
        suap(),
        date(2026, 5, 4),
        &[],
        ClockOptions::default(),
    )
    .unwrap();
    assert_eq!(d.counting_from, date(2026, 6, 3));
    assert_eq!(d.term, Term::Days(30));
    assert_eq!(d.due, Some(date(2026, 7, 3)));
    assert!(d.steps[0].contains("integration may be asked until 2026-06-03"));
}

/// L. 241/1990 art. 20 c. 1 and c. 4: silence-assent on SUAP applications, except on
/// the matters c. 4 lists, where the term ends with the decision still due.
#[test]
fn l_241_1990_art_20_c_4_excluded_matters_end_with_the_decision_due() {
    let o = |matter| {
        deadline(
            &nat(),
            Procedure::SuapOrdinary { matter },
            date(2026, 5, 4),
            &[],
            ClockOptions::default(),
        )
        .unwrap()
    };
    let general = o(Matter::General);
    assert_eq!(general.outcome_on_expiry, Outcome::SilenceAssent);
    assert!(general.outcome_rule.contains("art. 20 c. 1"));
    // art. 20 c. 2-bis: the attestation, on request, within 10 days.
    assert!(general.outcome_rule.contains("c. 2-bis"));
    for matter in [
        Matter::Heritage,
        Matter::Environment,
        Matter::HydrogeologicalRisk,
        Matter::NationalDefence,
        Matter::PublicSafety,
        Matter::Immigration,
        Matter::Health,
        Matter::EuFormalMeasure,
        Matter::ExcludedByDecree,
    ] {
        let d = o(matter);
        assert_eq!(d.outcome_on_expiry, Outcome::Breach, "{matter}");
        assert!(
            d.outcome_rule.starts_with("L. 241/1990 art. 20 c. 4"),
            "{matter}"
        );
        // Same term: only the outcome changes.
        assert_eq!(d.due, general.due, "{matter}");
    }
    assert_eq!(
        Outcome::Breach.to_string(),
        "deadline passed, decision due (breach of the duty to decide)"
    );
    assert_eq!(
        o(Matter::SilenceIsRejection).outcome_on_expiry,
        Outcome::SilenceRejection
    );
}

/// L. 241/1990 art. 20 c. 2-bis: the attestation that silence-assent formed is due
/// within 10 days of the request; after that the applicant's own declaration replaces it.
#[test]
fn l_241_1990_art_20_c_2_bis_attestation_within_10_days() {
    let d = deadline(
        &sp(),
        Procedure::SilenceAssentAttestation,
        date(2026, 3, 2),
        &[],
        ClockOptions::default(),
    )
    .unwrap();
    assert_eq!(d.due, Some(date(2026, 3, 12)));
    assert_eq!(d.outcome_on_expiry, Outcome::SelfDeclaration);
    assert!(d.outcome_rule.contains("DPR 445/2000 art. 47"));
}

/// L. 241/1990 art. 16 c. 3: an opinion from a body protecting the environment, the
/// landscape, the territory or health never lapses into "proceed without it"; c. 4's
/// interruption belongs to c. 1's term, which c. 3 excludes.
#[test]
fn l_241_1990_art_16_c_3_a_protected_opinion_never_lapses() {
    let p = Procedure::ProtectedOpinion {
        term: Term::Days(45),
    };
    let d = deadline(&sp(), p, date(2026, 2, 2), &[], ClockOptions::default()).unwrap();
    assert_eq!(d.outcome_on_expiry, Outcome::OpinionStillRequired);
    assert!(d.outcome_rule.contains("art. 16 c. 3"));
    assert_eq!(
        deadline(
            &sp(),
            p,
            date(2026, 2, 2),
            &[Stop::InstructionRequest {
                from: date(2026, 2, 5),
                until: None
            }],
            ClockOptions::default()
        )
        .unwrap_err(),
        ClockError::NotAllowed {
            kind: "instruction",
            procedure: "opinion_protected"
        }
    );
}

/// L. 241/1990 art. 19 c. 3 ("In difetto di adozione delle misure da parte del privato,
/// decorso il suddetto termine, l'attività si intende vietata"): an order to conform
/// gives at least 30 days; without the measures the activity is prohibited when they
/// end, and measures reported late do not restart the control term.
#[test]
fn l_241_1990_art_19_c_3_no_measures_means_the_activity_is_prohibited() {
    let run = |stop| {
        deadline(
            &sp(),
            Procedure::Scia,
            date(2026, 1, 18),
            &[stop],
            ClockOptions::default(),
        )
    };
    let open = run(conform(date(2026, 2, 10), 30, None)).unwrap();
    assert_eq!(open.outcome_on_expiry, Outcome::ActivityProhibited);
    assert_eq!(open.due, Some(date(2026, 3, 12)));
    assert_eq!(
        open.waiting.unwrap().awaiting,
        "the report of the measures taken"
    );

    let late = run(conform(date(2026, 2, 10), 30, Some(date(2026, 3, 13)))).unwrap();
    assert_eq!(late.outcome_on_expiry, Outcome::ActivityProhibited);
    assert_eq!(late.due, Some(date(2026, 3, 12)));
    assert!(late.waiting.is_none());

    let in_time = run(conform(date(2026, 2, 10), 30, Some(date(2026, 3, 12)))).unwrap();
    assert_eq!(in_time.outcome_on_expiry, Outcome::ControlsLapsed);
    assert_eq!(in_time.counting_from, date(2026, 3, 12));

    assert_eq!(
        run(conform(date(2026, 2, 10), 29, None)).unwrap_err(),
        ClockError::ConformTermTooShort { days: 29 }
    );
}

#[test]
fn rules_reject_what_the_law_does_not_allow() {
    let run =
        |p, received, stops: &[Stop]| deadline(&sp(), p, received, stops, ClockOptions::default());
    assert!(matches!(
        run(
            suap(),
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
            days(30),
            date(2026, 3, 2),
            &[reasons(date(2026, 4, 2), None)]
        ),
        Err(ClockError::NoticeAfterTerm { .. })
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
