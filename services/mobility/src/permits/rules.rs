//! The rules of each kind of permit, pure and tested with worked examples: how long it
//! lasts, how many plates it carries, what it costs, whether the holder must live in the
//! zone and whether it counts against the zone's quota.
//!
//! The days follow the municipal regulations of the kind Italian cities publish for
//! their ZTLs and resident parking (permessi residenti, ospiti, cantieri, carico e
//! scarico): a resident's permit for a year, a guest's for at most 30 days and one car,
//! works for at most 180 days, deliveries for at most a year; a permit starts today or
//! on a day within the next 90, never in the past.

use jiff::{ToSpan, civil::Date};
use sportello_kit::ServiceError;

use super::domain::Kind;

/// How far ahead a permit may start.
pub const MOST_DAYS_AHEAD: i32 = 90;

/// A kind's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Most days a temporary permit lasts; `None` for a resident's year.
    pub most_days: Option<u32>,
    /// Most plates on one permit (a resident's is also bounded by the household's).
    pub most_plates: usize,
    /// The holder (the host) must live in the zone.
    pub needs_residence: bool,
    /// Counted against the zone's quota and the household's plates.
    pub counts: bool,
    /// The zone's fee is per day (temporary) rather than per permit.
    pub fee_per_day: bool,
}

/// The rules of `kind`.
pub fn of(kind: Kind) -> Rules {
    match kind {
        Kind::Resident => Rules {
            most_days: None,
            most_plates: 10,
            needs_residence: true,
            counts: true,
            fee_per_day: false,
        },
        Kind::Guest => Rules {
            most_days: Some(30),
            most_plates: 1,
            needs_residence: true,
            counts: false,
            fee_per_day: true,
        },
        Kind::Works => Rules {
            most_days: Some(180),
            most_plates: 5,
            needs_residence: false,
            counts: false,
            fee_per_day: true,
        },
        Kind::Delivery => Rules {
            most_days: Some(366),
            most_plates: 5,
            needs_residence: false,
            counts: false,
            fee_per_day: true,
        },
    }
}

/// The last day of a permit of `kind` from `from` (inclusive): a resident's lasts a year
/// (the day before the anniversary), a temporary one `days` days. `days` must be 0 for a
/// resident's and 1 to the kind's most for the others.
pub fn last_day(kind: Kind, from: Date, days: u32) -> Result<Date, ServiceError> {
    let rules = of(kind);
    let span = match (rules.most_days, days) {
        (None, 0) => 1.year(),
        (None, _) => {
            return Err(ServiceError::invalid_field(
                "days",
                "il permesso residenti dura un anno: lasciare days a 0 / a resident's permit lasts a year: leave days at 0",
            ));
        }
        (Some(most), days) if (1..=most).contains(&days) => i64::from(days).days(),
        (Some(most), _) => {
            return Err(ServiceError::invalid_field(
                "days",
                format!(
                    "un {} dura da 1 a {most} giorni / a {} permit lasts 1 to {most} days",
                    kind.italian(),
                    kind.name()
                ),
            ));
        }
    };
    let out_of_range =
        |_| ServiceError::invalid_field("valid_from", "è fuori intervallo / is out of range");
    let anniversary = from.checked_add(span).map_err(out_of_range)?;
    // A year from 29 February lands on 28 February (clamped): that day is already the
    // year's last. Otherwise the last day is the one before the anniversary.
    if rules.most_days.is_none() && anniversary.day() != from.day() {
        return Ok(anniversary);
    }
    anniversary.checked_sub(1.day()).map_err(out_of_range)
}

/// What a permit of `kind` for `days` costs, given the zone's fee for the kind.
pub fn amount(kind: Kind, zone_fee_cents: i64, days: u32) -> i64 {
    if of(kind).fee_per_day {
        zone_fee_cents.saturating_mul(i64::from(days))
    } else {
        zone_fee_cents
    }
}

/// Checks the first day against `today`.
pub fn check_start(from: Date, today: Date) -> Result<(), ServiceError> {
    if from < today {
        return Err(ServiceError::invalid_field(
            "valid_from",
            "deve essere oggi o dopo: un permesso non parte nel passato / must be today or later: a permit never starts in the past",
        ));
    }
    let latest = today
        .checked_add(i64::from(MOST_DAYS_AHEAD).days())
        .map_err(ServiceError::internal)?;
    if from > latest {
        return Err(ServiceError::invalid_field(
            "valid_from",
            format!(
                "deve essere entro {MOST_DAYS_AHEAD} giorni da oggi / must be within {MOST_DAYS_AHEAD} days from today"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    #[test]
    fn a_residents_permit_lasts_a_year_to_the_day_before_the_anniversary() {
        assert_eq!(
            last_day(Kind::Resident, date(2027, 1, 15), 0).unwrap(),
            date(2028, 1, 14)
        );
        // From 29 February: to 28 February of the next year, not the 27th.
        assert_eq!(
            last_day(Kind::Resident, date(2028, 2, 29), 0).unwrap(),
            date(2029, 2, 28)
        );
        // And from 1 March 2027 to 29 February 2028, a leap day included.
        assert_eq!(
            last_day(Kind::Resident, date(2027, 3, 1), 0).unwrap(),
            date(2028, 2, 29)
        );
        assert!(last_day(Kind::Resident, date(2027, 1, 15), 30).is_err());
    }

    #[test]
    fn a_guest_stays_at_most_thirty_days_and_pays_by_the_day() {
        // A week from Saturday 9 January 2027: the last day is Friday the 15th.
        assert_eq!(
            last_day(Kind::Guest, date(2027, 1, 9), 7).unwrap(),
            date(2027, 1, 15)
        );
        assert_eq!(amount(Kind::Guest, 200, 7), 1_400);
        let too_long = last_day(Kind::Guest, date(2027, 1, 9), 31).unwrap_err();
        assert_eq!(too_long.violations()[0].field, "days");
        assert!(last_day(Kind::Guest, date(2027, 1, 9), 0).is_err());
        assert_eq!(of(Kind::Guest).most_plates, 1);
    }

    #[test]
    fn works_and_deliveries_have_their_own_terms() {
        assert_eq!(
            last_day(Kind::Works, date(2027, 3, 1), 180).unwrap(),
            date(2027, 8, 27)
        );
        assert!(last_day(Kind::Works, date(2027, 3, 1), 181).is_err());
        assert_eq!(
            last_day(Kind::Delivery, date(2027, 1, 1), 365).unwrap(),
            date(2027, 12, 31)
        );
        // A resident pays the zone's fee once, whatever the days.
        assert_eq!(amount(Kind::Resident, 3_000, 0), 3_000);
        assert!(of(Kind::Resident).counts && !of(Kind::Works).counts);
    }

    #[test]
    fn a_permit_starts_today_or_within_ninety_days() {
        let today = date(2027, 1, 10);
        assert!(check_start(today, today).is_ok());
        assert!(check_start(date(2027, 4, 10), today).is_ok());
        assert!(check_start(date(2027, 4, 11), today).is_err());
        let past = check_start(date(2027, 1, 9), today).unwrap_err();
        assert_eq!(past.violations()[0].field, "valid_from");
    }
}
