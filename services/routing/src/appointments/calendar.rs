//! Slots from calendars, as pure functions of the day, the site's hours, an operator's
//! schedule and the rules — so the search and the booking agree on what a slot is, and
//! the tests can check holidays and daylight-saving days without a database.
//!
//! Times of day are Europe/Rome civil times; a slot is an absolute range. A block is laid
//! out in absolute time from its start: on the day the clocks go forward a block from
//! 01:00 to 04:00 lasts two hours, on the day they go back four — the office is open for
//! the time that really passes.

use jiff::{
    SignedDuration, Timestamp,
    civil::{Date, Time},
    tz::TimeZone,
};
use sportello_pa::calendar::{Calendar, rome};

/// A range of local time on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    /// From.
    pub starts: Time,
    /// To (after `starts`).
    pub ends: Time,
}

/// A slot: where in the day's sequence of a block it falls, and its absolute range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaidSlot {
    /// 0 for a block's first slot, 1 for the next, …: deals slots into release tranches.
    pub ordinal: u32,
    /// Start.
    pub start: Timestamp,
    /// End, exclusive.
    pub end: Timestamp,
}

/// The instant a Rome civil time stands for; a time the clocks skip (02:30 on the last
/// Sunday of March) is read as the instant after the gap, as jiff's "compatible" rule
/// does, and a repeated one as its first occurrence.
fn instant(date: Date, time: Time, tz: &TimeZone) -> Option<Timestamp> {
    date.to_datetime(time)
        .to_zoned(tz.clone())
        .ok()
        .map(|z| z.timestamp())
}

/// Whether the site is closed on `date`: a national holiday, the patron day, or a
/// closure of the site. Weekdays without hours are closed by having no hours.
pub fn closed(date: Date, calendar: &Calendar, site_closures: &[Date]) -> bool {
    site_closures.contains(&date) || calendar.entries_on(date).iter().any(|e| e.office_closed)
}

/// The slots of a schedule block on `date`: laid every `length` from its start, each
/// wholly inside the block and inside one of the site's `hours` that day.
pub fn lay_block(date: Date, block: Span, hours: &[Span], length: SignedDuration) -> Vec<LaidSlot> {
    let tz = rome::tz();
    let (Some(from), Some(to)) = (
        instant(date, block.starts, &tz),
        instant(date, block.ends, &tz),
    ) else {
        return Vec::new();
    };
    let open: Vec<(Timestamp, Timestamp)> = hours
        .iter()
        .filter_map(|h| Some((instant(date, h.starts, &tz)?, instant(date, h.ends, &tz)?)))
        .collect();
    if length <= SignedDuration::ZERO {
        return Vec::new();
    }
    let mut slots = Vec::new();
    let mut start = from;
    let mut ordinal = 0;
    while let Ok(end) = start.checked_add(length) {
        if end > to {
            break;
        }
        if open.iter().any(|(o, c)| *o <= start && end <= *c) {
            slots.push(LaidSlot {
                ordinal,
                start,
                end,
            });
            ordinal += 1;
        }
        start = end;
    }
    slots
}

/// When a slot of `date` dealt into tranche `ordinal % tranches` is released: the
/// release time `days_ahead` days before, plus the tranche's delay.
pub fn released_at(
    date: Date,
    ordinal: u32,
    days_ahead: i16,
    release_time: Time,
    tranches: i16,
    interval: SignedDuration,
) -> Option<Timestamp> {
    let day = date.checked_sub(jiff::Span::new().days(days_ahead)).ok()?;
    let first = instant(day, release_time, &rome::tz())?;
    let tranche = i64::from(ordinal) % i64::from(tranches.max(1));
    first
        .checked_add(interval.checked_mul(i32::try_from(tranche).ok()?)?)
        .ok()
}

#[cfg(test)]
mod tests {
    use jiff::civil::{date, time};

    use super::*;

    fn span(a: Time, b: Time) -> Span {
        Span { starts: a, ends: b }
    }

    fn utc(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_morning_is_cut_into_slots_that_end_inside_the_hours() {
        // 09:00-12:00, 25-minute slots (20 expected + 5 buffer): 7 fit (the 8th would end
        // at 12:20), in winter time (UTC+1).
        let day = date(2027, 2, 3);
        let block = span(time(9, 0, 0, 0), time(12, 0, 0, 0));
        let slots = lay_block(day, block, &[block], SignedDuration::from_mins(25));
        assert_eq!(slots.len(), 7);
        assert_eq!(slots[0].start, utc("2027-02-03T08:00:00Z"));
        assert_eq!(slots[6].end, utc("2027-02-03T10:55:00Z"));
        assert_eq!(slots[6].ordinal, 6);
    }

    #[test]
    fn the_site_hours_bound_the_block() {
        // The operator is scheduled 08:00-13:00, the site receives 09:00-11:00 and
        // 11:30-13:00: slots of 30 minutes only where both agree.
        let day = date(2027, 2, 3);
        let hours = [
            span(time(9, 0, 0, 0), time(11, 0, 0, 0)),
            span(time(11, 30, 0, 0), time(13, 0, 0, 0)),
        ];
        let slots = lay_block(
            day,
            span(time(8, 0, 0, 0), time(13, 0, 0, 0)),
            &hours,
            SignedDuration::from_mins(30),
        );
        let starts: Vec<String> = slots
            .iter()
            .map(|s| rome::zoned(s.start).time().to_string())
            .collect();
        assert_eq!(
            starts,
            [
                "09:00:00", "09:30:00", "10:00:00", "10:30:00", "11:30:00", "12:00:00", "12:30:00"
            ]
        );
    }

    #[test]
    fn summer_time_moves_the_instants_not_the_local_times() {
        // 09:00 Rome is 08:00Z in winter and 07:00Z in summer.
        let block = span(time(9, 0, 0, 0), time(10, 0, 0, 0));
        let winter = lay_block(
            date(2027, 3, 27),
            block,
            &[block],
            SignedDuration::from_mins(30),
        );
        let summer = lay_block(
            date(2027, 3, 28),
            block,
            &[block],
            SignedDuration::from_mins(30),
        );
        assert_eq!(winter[0].start, utc("2027-03-27T08:00:00Z"));
        assert_eq!(summer[0].start, utc("2027-03-28T07:00:00Z"));
        assert_eq!((winter.len(), summer.len()), (2, 2));
        let autumn = lay_block(
            date(2027, 10, 31),
            block,
            &[block],
            SignedDuration::from_mins(30),
        );
        assert_eq!(autumn[0].start, utc("2027-10-31T08:00:00Z"));
    }

    #[test]
    fn a_block_across_the_clock_change_lasts_the_time_that_passes() {
        // 01:00-04:00 local: two hours on 28 March 2027 (02:00 becomes 03:00), four on
        // 31 October 2027 (03:00 becomes 02:00 again), three on an ordinary day.
        let block = span(time(1, 0, 0, 0), time(4, 0, 0, 0));
        let count = |d| lay_block(d, block, &[block], SignedDuration::from_mins(60)).len();
        assert_eq!(count(date(2027, 3, 28)), 2);
        assert_eq!(count(date(2027, 10, 31)), 4);
        assert_eq!(count(date(2027, 3, 21)), 3);
        let spring = lay_block(
            date(2027, 3, 28),
            block,
            &[block],
            SignedDuration::from_mins(60),
        );
        assert_eq!(rome::zoned(spring[1].start).time(), time(3, 0, 0, 0));
    }

    #[test]
    fn holidays_and_the_patron_day_are_closed() {
        // La Spezia (011015): San Giuseppe, 19 March, is its patron day.
        let spezia = Calendar::for_municipality("011015");
        assert!(closed(date(2027, 3, 19), &spezia, &[]));
        assert!(closed(date(2027, 12, 8), &spezia, &[]), "Immacolata");
        assert!(closed(date(2027, 3, 29), &spezia, &[]), "Pasquetta 2027");
        assert!(!closed(date(2027, 3, 18), &spezia, &[]));
        assert!(closed(date(2027, 3, 18), &spezia, &[date(2027, 3, 18)]));
        // Elsewhere 19 March is a working day.
        assert!(!closed(date(2027, 3, 19), &Calendar::national(), &[]));
    }

    #[test]
    fn tranches_are_dealt_round_robin_after_the_release_time() {
        // Released 30 days ahead at 08:00 Rome, three tranches an hour apart.
        let at = |ordinal| {
            released_at(
                date(2027, 3, 3),
                ordinal,
                30,
                time(8, 0, 0, 0),
                3,
                SignedDuration::from_mins(60),
            )
            .unwrap()
        };
        assert_eq!(at(0), utc("2027-02-01T07:00:00Z"));
        assert_eq!(at(1), utc("2027-02-01T08:00:00Z"));
        assert_eq!(at(2), utc("2027-02-01T09:00:00Z"));
        assert_eq!(at(3), at(0));
    }
}
