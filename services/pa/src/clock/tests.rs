//! Worked examples of the clock's rules; the full table is in `tests/deadlines.rs`.

use super::*;
use crate::calendar::Calendar;
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

/// L. 241/1990 art. 19 c. 3: an order to conform with no measures reported does not
/// wait forever; its own term runs, and when it ends the activity is prohibited.
#[test]
fn open_order_to_conform_runs_the_citizens_term() {
    let d = deadline(
        &Calendar::national(),
        Procedure::Scia,
        date(2026, 3, 2),
        &[Stop::SciaConformOrder {
            from: date(2026, 3, 20),
            days: 30,
            until: None,
        }],
        ClockOptions::default(),
    )
    .unwrap();
    assert_eq!(d.waiting.as_ref().unwrap().since, date(2026, 3, 20));
    // 20 March + 30 = 19 April 2026, a Sunday: the measures are due on Monday 20.
    assert_eq!(d.due, Some(date(2026, 4, 20)));
    assert_eq!(d.outcome_on_expiry, Outcome::ActivityProhibited);
}

/// L. 241/1990 art. 10-bis: until the notice's receipt is recorded, no window runs.
#[test]
fn an_unreceived_notice_waits() {
    let d = deadline(
        &Calendar::national(),
        Procedure::ResidenceCheck,
        date(2026, 3, 2),
        &[Stop::ReasonsAgainst {
            sent: date(2026, 3, 20),
            received: None,
            observations: None,
        }],
        ClockOptions::default(),
    )
    .unwrap();
    assert!(d.due.is_none());
    let w = d.waiting.unwrap();
    assert_eq!(
        (w.since, w.awaiting),
        (date(2026, 3, 20), "the day the notice was received")
    );
    assert_eq!(d.observation_window.unwrap().ends, None);
    assert_eq!(d.outcome_on_expiry, Outcome::Breach);
}
