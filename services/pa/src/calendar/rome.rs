//! Europe/Rome dates and times. Sportello stores UTC and shows, counts and books in
//! Rome's civil time (CET/CEST): an application received at 23:30 UTC on 31 March is
//! received on 1 April, and a day can last 23 or 25 hours.

use std::sync::LazyLock;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

/// Rome's time zone from the bundled tz database. Should the database ever lack it, the
/// POSIX rule in force since 1996 (EU summer time) is used: right for every date the
/// services handle.
static ROME: LazyLock<TimeZone> = LazyLock::new(|| {
    TimeZone::get("Europe/Rome")
        .or_else(|_| TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3"))
        .unwrap_or_else(|_| TimeZone::fixed(jiff::tz::offset(1)))
});

/// The Europe/Rome time zone.
pub fn tz() -> TimeZone {
    ROME.clone()
}

/// An instant in Rome's civil time.
pub fn zoned(ts: Timestamp) -> Zoned {
    ts.to_zoned(tz())
}

/// The Rome calendar day an instant falls on.
pub fn date_of(ts: Timestamp) -> Date {
    zoned(ts).date()
}

/// The first instant of a Rome day (midnight; Italy's clock changes happen at 02:00 and
/// 03:00, so midnight always exists).
pub fn start_of_day(date: Date) -> Result<Timestamp, jiff::Error> {
    date.to_zoned(tz()).map(|z| z.timestamp())
}

/// The first instant of the next Rome day: a day's end, exclusive.
pub fn end_of_day(date: Date) -> Result<Timestamp, jiff::Error> {
    start_of_day(date.tomorrow()?)
}

/// The length of a Rome day in hours (23 in late March, 25 in late October, else 24).
pub fn hours_in_day(date: Date) -> Result<i64, jiff::Error> {
    let secs = end_of_day(date)?.as_second() - start_of_day(date)?.as_second();
    Ok(secs / 3600)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn the_bundled_database_has_rome() {
        assert!(TimeZone::get("Europe/Rome").is_ok());
    }

    #[test]
    fn late_evening_utc_is_the_next_day_in_rome() {
        let ts: Timestamp = "2026-03-31T23:30:00Z".parse().unwrap();
        assert_eq!(date_of(ts), date(2026, 4, 1));
        let winter: Timestamp = "2026-01-15T23:30:00Z".parse().unwrap();
        assert_eq!(date_of(winter), date(2026, 1, 16));
        let before: Timestamp = "2026-01-15T22:59:59Z".parse().unwrap();
        assert_eq!(date_of(before), date(2026, 1, 15));
    }

    #[test]
    fn daylight_saving_days() {
        assert_eq!(hours_in_day(date(2026, 3, 29)).unwrap(), 23);
        assert_eq!(hours_in_day(date(2026, 10, 25)).unwrap(), 25);
        assert_eq!(hours_in_day(date(2026, 6, 1)).unwrap(), 24);
        assert_eq!(
            start_of_day(date(2026, 7, 1)).unwrap().to_string(),
            "2026-06-30T22:00:00Z"
        );
    }
}
