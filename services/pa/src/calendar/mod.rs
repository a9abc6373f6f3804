//! The business calendar of a municipality's offices.
//!
//! A [`Calendar`] knows three kinds of special day, each saying whether the office is
//! closed and whether it moves a legal deadline falling on it:
//!
//! * national holidays ([`holidays`]): closed, and they move deadlines (art. 2963 c. 3
//!   c.c., art. 155 c. 4 c.p.c.: a term ending on a holiday ends on the next
//!   non-holiday day); Sundays likewise;
//! * the patron day ([`patron`]): closed; it moves deadlines by default, since it is
//!   a holiday where the act must be done (configurable, as case law is not uniform);
//! * extra closures (a bridge day, a strike, a move): closed, but by default they do
//!   not move deadlines: an office's decision to close does not change the law's terms.
//!
//! Saturdays: art. 155 c. 5 c.p.c. moves court deadlines falling on a Saturday; whether
//! that reaches administrative terms is debated, so it is a per-municipality setting,
//! off by default. Working days are Monday to Friday on which the office is open.

pub mod holidays;
pub mod patron;
pub mod rome;

use jiff::civil::{Date, Weekday};
use serde::Serialize;

pub use holidays::{easter, national_holidays};
pub use patron::{PATRON_DAYS, PatronDay, patron_day};

/// What kind of special day an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A national holiday (L. 260/1949 art. 2 as amended).
    National,
    /// The municipality's patron day.
    Patron,
    /// A closure decided by the municipality.
    Closure,
}

/// One special day of the calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The day.
    pub date: Date,
    /// Its name.
    pub name: String,
    /// National, patron or closure.
    pub kind: EntryKind,
    /// The office is closed that day (not a working day).
    pub office_closed: bool,
    /// A legal deadline falling on it moves to the next day that is not such a day.
    pub moves_deadlines: bool,
}

/// An extra closure of the office.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Closure {
    /// The day.
    pub date: Date,
    /// Why.
    pub name: String,
    /// Whether a deadline falling on it moves (false unless a rule says so).
    pub moves_deadlines: bool,
}

/// Which weekdays the offices work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkingWeek {
    /// Monday to Friday (the default for municipal offices).
    #[default]
    MondayToFriday,
    /// Monday to Saturday.
    MondayToSaturday,
}

/// A municipality's calendar: national holidays, its patron day, extra closures and
/// its settings. Pure data: build it once per municipality and share it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Calendar {
    /// ISTAT code, when built for a municipality.
    pub municipality: Option<String>,
    patron: Option<(i8, i8, String, bool)>,
    closures: Vec<Closure>,
    /// A deadline falling on a Saturday moves to Monday (art. 155 c. 5 c.p.c.). Off by default.
    pub saturday_rollover: bool,
    /// Which weekdays are working days.
    pub working_week: WorkingWeek,
}

impl Default for Calendar {
    fn default() -> Self {
        Self::national()
    }
}

impl Calendar {
    /// National holidays only.
    pub fn national() -> Self {
        Calendar {
            municipality: None,
            patron: None,
            closures: Vec::new(),
            saturday_rollover: false,
            working_week: WorkingWeek::MondayToFriday,
        }
    }

    /// The calendar of a municipality: national holidays plus its patron day when the
    /// table ([`PATRON_DAYS`]) has it. Add it with [`Calendar::with_patron_day`] otherwise.
    pub fn for_municipality(istat: &str) -> Self {
        let mut c = Self::national();
        c.municipality = Some(istat.to_string());
        if let Some(p) = patron_day(istat) {
            c.patron = Some((p.month, p.day, format!("Santo patrono: {}", p.saint), true));
        }
        c
    }

    /// Sets the patron day (month, day, name); it closes the office and moves deadlines.
    pub fn with_patron_day(mut self, month: i8, day: i8, name: &str) -> Self {
        self.patron = Some((month, day, name.to_string(), true));
        self
    }

    /// Whether the patron day moves deadlines (true by default).
    pub fn with_patron_moving_deadlines(mut self, moves: bool) -> Self {
        if let Some(p) = self.patron.as_mut() {
            p.3 = moves;
        }
        self
    }

    /// Adds an extra closure.
    pub fn with_closure(mut self, closure: Closure) -> Self {
        self.closures.push(closure);
        self
    }

    /// Sets the Saturday roll-over.
    pub fn with_saturday_rollover(mut self, on: bool) -> Self {
        self.saturday_rollover = on;
        self
    }

    /// Sets the working week.
    pub fn with_working_week(mut self, week: WorkingWeek) -> Self {
        self.working_week = week;
        self
    }

    /// Whether a patron day is known.
    pub fn has_patron_day(&self) -> bool {
        self.patron.is_some()
    }

    /// Every special day on `date` (a patron day may fall on a national holiday).
    pub fn entries_on(&self, date: Date) -> Vec<Entry> {
        let mut out = Vec::new();
        // Two national holidays can share a day (Easter and 25 April in 2038).
        for h in holidays::national_holidays(date.year())
            .into_iter()
            .filter(|h| h.date == date)
        {
            out.push(Entry {
                date,
                name: h.name.to_string(),
                kind: EntryKind::National,
                office_closed: true,
                moves_deadlines: true,
            });
        }
        if let Some((m, d, name, moves)) = &self.patron
            && date.month() == *m
            && date.day() == *d
        {
            out.push(Entry {
                date,
                name: name.clone(),
                kind: EntryKind::Patron,
                office_closed: true,
                moves_deadlines: *moves,
            });
        }
        for c in self.closures.iter().filter(|c| c.date == date) {
            out.push(Entry {
                date,
                name: c.name.clone(),
                kind: EntryKind::Closure,
                office_closed: true,
                moves_deadlines: c.moves_deadlines,
            });
        }
        out
    }

    /// Every special day of a year, in date order (Sundays not listed).
    pub fn entries(&self, year: i16) -> Vec<Entry> {
        let mut days: Vec<Date> = holidays::national_holidays(year)
            .into_iter()
            .map(|h| h.date)
            .collect();
        if let Some((m, d, _, _)) = &self.patron
            && let Ok(date) = Date::new(year, *m, *d)
        {
            days.push(date);
        }
        days.extend(
            self.closures
                .iter()
                .filter(|c| c.date.year() == year)
                .map(|c| c.date),
        );
        days.sort();
        days.dedup();
        days.into_iter().flat_map(|d| self.entries_on(d)).collect()
    }

    /// A legal deadline cannot end on this day: Sunday, a holiday that moves deadlines,
    /// or a Saturday when the roll-over is on.
    pub fn moves_deadline(&self, date: Date) -> bool {
        holidays::is_sunday(date)
            || (self.saturday_rollover && date.weekday() == Weekday::Saturday)
            || self.entries_on(date).iter().any(|e| e.moves_deadlines)
    }

    /// The day a deadline nominally ending on `date` really ends: `date`, or the first
    /// following day that [`Calendar::moves_deadline`] does not skip.
    pub fn roll_forward(&self, date: Date) -> Date {
        let mut d = date;
        // At most a few days in a row are holidays; the bound keeps this total.
        for _ in 0..60 {
            if !self.moves_deadline(d) {
                return d;
            }
            match d.tomorrow() {
                Ok(next) => d = next,
                Err(_) => return d,
            }
        }
        d
    }

    /// Whether the office is open: a working weekday with no closing entry.
    pub fn is_working_day(&self, date: Date) -> bool {
        let weekday_ok = match date.weekday() {
            Weekday::Sunday => false,
            Weekday::Saturday => self.working_week == WorkingWeek::MondayToSaturday,
            _ => true,
        };
        weekday_ok && !self.entries_on(date).iter().any(|e| e.office_closed)
    }

    /// The `n`-th working day after `date` (the start day is not counted, art. 2963 c.c.);
    /// `n = 0` gives `date` itself.
    pub fn add_working_days(&self, date: Date, n: u32) -> Date {
        let mut d = date;
        let mut left = n;
        while left > 0 {
            match d.tomorrow() {
                Ok(next) => d = next,
                Err(_) => return d,
            }
            if self.is_working_day(d) {
                left -= 1;
            }
        }
        d
    }

    /// The last working day on or before `date`.
    pub fn working_day_on_or_before(&self, date: Date) -> Date {
        let mut d = date;
        for _ in 0..60 {
            if self.is_working_day(d) {
                return d;
            }
            match d.yesterday() {
                Ok(prev) => d = prev,
                Err(_) => return d,
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn la_spezia_closes_on_19_march() {
        let c = Calendar::for_municipality("011015");
        assert!(!c.is_working_day(date(2026, 3, 19)));
        assert!(c.moves_deadline(date(2026, 3, 19)));
        assert!(Calendar::national().is_working_day(date(2026, 3, 19)));
        assert_eq!(c.entries(2026).len(), 14);
    }

    #[test]
    fn holidays_sharing_a_day_are_both_listed() {
        let names: Vec<String> = Calendar::national()
            .entries_on(date(2038, 4, 25))
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["Festa della Liberazione", "Pasqua"]);
    }

    #[test]
    fn working_days_skip_weekends_and_holidays() {
        let c = Calendar::for_municipality("011015");
        // Wed 18 March 2026 + 2 working days: Thu 19 is the patron day, so Fri 20, Mon 23.
        assert_eq!(c.add_working_days(date(2026, 3, 18), 2), date(2026, 3, 23));
        // Thu 2 April 2026 + 2: Fri 3, (Easter 5, Monday 6) Tue 7.
        assert_eq!(c.add_working_days(date(2026, 4, 2), 2), date(2026, 4, 7));
        assert_eq!(c.add_working_days(date(2026, 4, 2), 0), date(2026, 4, 2));
    }

    #[test]
    fn closures_close_but_do_not_move_deadlines_by_default() {
        let c = Calendar::national().with_closure(Closure {
            date: date(2026, 12, 24),
            name: "Chiusura natalizia".into(),
            moves_deadlines: false,
        });
        assert!(!c.is_working_day(date(2026, 12, 24)));
        assert!(!c.moves_deadline(date(2026, 12, 24)));
        assert_eq!(c.roll_forward(date(2026, 12, 25)), date(2026, 12, 28));
    }

    #[test]
    fn saturday_rollover_is_a_setting() {
        let sat = date(2026, 5, 30);
        assert_eq!(Calendar::national().roll_forward(sat), sat);
        assert_eq!(
            Calendar::national()
                .with_saturday_rollover(true)
                .roll_forward(sat),
            date(2026, 6, 1)
        );
        // Monday 1 June is fine; Tuesday 2 June is the Republic's day.
    }
}
