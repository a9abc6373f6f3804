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

/// L. 241/1990 art. 25 c. 4: 30 days, and silence is refusal.
#[test]
fn document_access_thirty_days_then_silence_is_refusal() {
    // 2 March 2026 + 30 = Wednesday 1 April.
    assert_eq!(
        due(Procedure::DocumentAccess, date(2026, 3, 2), &[]),
        date(2026, 4, 1)
    );
    assert_eq!(
        Procedure::DocumentAccess.outcome(),
        Outcome::SilenceRejection
    );
}

/// DPR 184/2006 art. 6 c. 5: an irregular request notified within 10 days restarts the
/// term from the corrected one; notified later it restarts nothing; not corrected yet,
/// no term runs.
#[test]
fn an_irregular_request_restarts_the_term_only_if_notified_within_ten_days() {
    let received = date(2026, 3, 2);
    let corrected = Stop::IrregularRequest {
        notified: date(2026, 3, 9),
        corrected: Some(date(2026, 3, 16)),
    };
    // 16 March + 30 = Wednesday 15 April.
    assert_eq!(
        due(Procedure::DocumentAccess, received, &[corrected]),
        date(2026, 4, 15)
    );
    let waiting = deadline(
        &Calendar::national(),
        Procedure::DocumentAccess,
        received,
        &[Stop::IrregularRequest {
            notified: date(2026, 3, 9),
            corrected: None,
        }],
        ClockOptions::default(),
    )
    .unwrap();
    assert_eq!(waiting.due, None);
    assert_eq!(
        waiting.waiting.map(|w| w.awaiting),
        Some("the corrected request")
    );
    // The 10 days end on 12 March: a notice on the 13th is too late.
    let late = deadline(
        &Calendar::national(),
        Procedure::DocumentAccess,
        received,
        &[Stop::IrregularRequest {
            notified: date(2026, 3, 13),
            corrected: Some(date(2026, 3, 20)),
        }],
        ClockOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(late, ClockError::IrregularNoticeTooLate { .. }));
    // Only for access to documents.
    assert!(matches!(
        deadline(
            &Calendar::national(),
            Procedure::CivicAccess,
            received,
            &[corrected],
            ClockOptions::default()
        ),
        Err(ClockError::NotAllowed { .. })
    ));
}

/// D.Lgs 33/2013 art. 5 c. 5: the 30 days are suspended while the counter-interested
/// parties may object — until their objection, or the end of their 10 days.
#[test]
fn civic_access_is_suspended_for_the_counter_interested_parties() {
    let received = date(2026, 3, 2);
    // Notified 5 March, objection 10 March: 5 days added, 1 April -> 6 April, Easter
    // Monday 2026, a holiday -> Tuesday 7 April.
    let objected = Stop::CounterInterested {
        notified: date(2026, 3, 5),
        objection: Some(date(2026, 3, 10)),
    };
    assert_eq!(
        due(Procedure::CivicAccess, received, &[objected]),
        date(2026, 4, 7)
    );
    // No objection: their 10 days end on Sunday 15 March, so Monday 16 March; 11 days
    // added: 12 April, a Sunday -> Monday 13 April.
    let silent = Stop::CounterInterested {
        notified: date(2026, 3, 5),
        objection: None,
    };
    assert_eq!(
        due(Procedure::CivicAccess, received, &[silent]),
        date(2026, 4, 13)
    );
    // Access to documents gives them 10 days without suspending the term.
    assert!(matches!(
        deadline(
            &Calendar::national(),
            Procedure::DocumentAccess,
            received,
            &[silent],
            ClockOptions::default()
        ),
        Err(ClockError::NotAllowed { .. })
    ));
}

/// D.Lgs 33/2013 art. 5 c. 7: the review takes 20 days, suspended until the Garante's
/// opinion and at most 10 days.
#[test]
fn the_review_is_suspended_for_the_garante_at_most_ten_days() {
    let received = date(2026, 3, 2);
    // 2 March + 20 = Sunday 22 March -> Monday 23 March.
    assert_eq!(
        due(Procedure::CivicAccessReview, received, &[]),
        date(2026, 3, 23)
    );
    // Asked 10 March, no opinion: the 10 days count in full, 22 March + 10 = 1 April.
    let unanswered = Stop::GaranteOpinion {
        asked: date(2026, 3, 10),
        given: None,
    };
    assert_eq!(
        due(Procedure::CivicAccessReview, received, &[unanswered]),
        date(2026, 4, 1)
    );
    // Given on the 15th: 5 days, Friday 27 March.
    let answered = Stop::GaranteOpinion {
        asked: date(2026, 3, 10),
        given: Some(date(2026, 3, 15)),
    };
    assert_eq!(
        due(Procedure::CivicAccessReview, received, &[answered]),
        date(2026, 3, 27)
    );
}
