//! The terms of an access request, as pure functions of its days: the decision's term
//! and the review's (the PA library's clock), the counter-interested parties' 10 days,
//! the 15 days before data granted over an objection may be sent, the term to ask for
//! review, the remedies a decision must name, and what copies cost.

use jiff::{Span, civil::Date};
use sportello_kit::{MunicipalityCode, ServiceError};
use sportello_pa::{
    Deadline, Stop,
    calendar::Calendar,
    clock::{self, ClockOptions, Procedure},
};

use super::domain::Kind;

/// Days a counter-interested party has to object from receiving the request (D.Lgs
/// 33/2013 art. 5 c. 5; DPR 184/2006 art. 3 c. 2).
pub const OBJECTION_DAYS: i64 = 10;
/// Days after the counter-interested parties are told of a grant over their objection
/// before the data may be sent (D.Lgs 33/2013 art. 5 c. 6).
pub const DELIVERY_DAYS: i64 = 15;
/// Days to ask for review, from the decision or from the term's end without one. The law
/// sets none; municipal access regulations set 30, the term of the court remedy it
/// stands beside (art. 116 c.p.a.).
pub const REVIEW_REQUEST_DAYS: i64 = 30;

fn add(day: Date, days: i64) -> Result<Date, ServiceError> {
    day.checked_add(Span::new().days(days))
        .map_err(|_| ServiceError::internal("a date out of range"))
}

fn calendar(municipality: MunicipalityCode) -> Calendar {
    Calendar::for_municipality(municipality.as_str())
}

/// The PA library's procedure for `kind`.
pub fn procedure(kind: Kind) -> Procedure {
    match kind {
        Kind::Documents => Procedure::DocumentAccess,
        Kind::CivicSimple | Kind::CivicGeneralised => Procedure::CivicAccess,
    }
}

/// The decision's term now: due day (none while waiting for a corrected request), the
/// warning day, what its end brings. A stop the law does not allow is bad input.
pub fn decision(
    municipality: MunicipalityCode,
    kind: Kind,
    received: Date,
    stops: &[Stop],
) -> Result<Deadline, ServiceError> {
    clock::deadline(
        &calendar(municipality),
        procedure(kind),
        received,
        stops,
        ClockOptions::default(),
    )
    .map_err(|e| {
        ServiceError::new(
            sportello_kit::ErrorKind::FailedPrecondition,
            format!("il termine non lo consente: {e} / the term does not allow it: {e}"),
        )
    })
}

/// The review's term: 20 days from its request, suspended for the Garante.
pub fn review(
    municipality: MunicipalityCode,
    requested: Date,
    stops: &[Stop],
) -> Result<Deadline, ServiceError> {
    clock::deadline(
        &calendar(municipality),
        Procedure::CivicAccessReview,
        requested,
        stops,
        ClockOptions::default(),
    )
    .map_err(|e| ServiceError::new(sportello_kit::ErrorKind::FailedPrecondition, format!(
        "il termine del riesame non lo consente: {e} / the review's term does not allow it: {e}"
    )))
}

/// The counter-interested parties' last day to object, past a holiday like any term.
pub fn objection_deadline(
    municipality: MunicipalityCode,
    notified: Date,
) -> Result<Date, ServiceError> {
    Ok(calendar(municipality).roll_forward(add(notified, OBJECTION_DAYS)?))
}

/// The first day data granted over an objection may be sent.
pub fn deliver_from(decided: Date) -> Result<Date, ServiceError> {
    add(decided, DELIVERY_DAYS)
}

/// The last day review may be asked, counted from the decision or the term's end.
pub fn review_deadline(municipality: MunicipalityCode, from: Date) -> Result<Date, ServiceError> {
    Ok(calendar(municipality).roll_forward(add(from, REVIEW_REQUEST_DAYS)?))
}

/// The remedies a limiting decision (or silence) names, as the law requires.
pub fn remedies(kind: Kind, review_until: Option<Date>) -> String {
    match (kind, review_until) {
        (Kind::Documents, _) => "Entro 30 giorni: ricorso al Tribunale amministrativo regionale \
             (art. 116 c.p.a.) o richiesta di riesame al difensore civico (L. 241/1990 art. 25 \
             c. 4). / Within 30 days: an appeal to the regional administrative court or a \
             request for review to the ombudsman."
            .to_owned(),
        (_, Some(until)) => format!(
            "Richiesta di riesame al responsabile della prevenzione della corruzione e della \
             trasparenza entro il {until} (D.Lgs 33/2013 art. 5 c. 7); ricorso al Tribunale \
             amministrativo regionale (art. 116 c.p.a.) o al difensore civico (art. 5 c. 8). / \
             Review by the transparency officer until {until}; an appeal to the administrative \
             court or the ombudsman."
        ),
        (_, None) => "Ricorso al Tribunale amministrativo regionale (art. 116 c.p.a.), D.Lgs \
             33/2013 art. 5 c. 8. / An appeal to the regional administrative court."
            .to_owned(),
    }
}

/// What `pages` of copies cost at `cents_per_page`: the cost of reproduction only (DPR
/// 184/2006 art. 7 c. 1; civic access is free but for it, D.Lgs 33/2013 art. 5 c. 4).
pub fn copy_cost(pages: u32, cents_per_page: u32) -> u64 {
    u64::from(pages) * u64::from(cents_per_page)
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn spezia() -> MunicipalityCode {
        "011015".parse().expect("ISTAT code")
    }

    #[test]
    fn the_objection_window_ends_past_a_sunday() {
        // Notified Thursday 5 March 2026: the 10th day is Sunday 15 March.
        assert_eq!(
            objection_deadline(spezia(), date(2026, 3, 5)).expect("date"),
            date(2026, 3, 16)
        );
    }

    #[test]
    fn data_granted_over_an_objection_wait_fifteen_days() {
        assert_eq!(
            deliver_from(date(2026, 4, 7)).expect("date"),
            date(2026, 4, 22)
        );
    }

    #[test]
    fn review_may_be_asked_for_thirty_days() {
        // Decided Tuesday 7 April 2026: 7 May, a Thursday.
        assert_eq!(
            review_deadline(spezia(), date(2026, 4, 7)).expect("date"),
            date(2026, 5, 7)
        );
    }

    #[test]
    fn remedies_name_the_review_for_civic_access_and_the_ombudsman_for_documents() {
        let civic = remedies(Kind::CivicGeneralised, Some(date(2026, 5, 7)));
        assert!(civic.contains("2026-05-07") && civic.contains("art. 5 c. 7"));
        assert!(remedies(Kind::Documents, None).contains("art. 25 c. 4"));
    }

    #[test]
    fn copies_cost_their_pages() {
        assert_eq!(copy_cost(12, 25), 300);
    }
}
