//! Italian national holidays: L. 260/1949 art. 2 as amended by L. 54/1977, DPR 792/1985
//! (6 January restored), L. 336/2000 (2 June restored) and L. 151/2025 (4 October, the
//! feast of St Francis, a national holiday again from 2026). Sundays are holidays too.
//!
//! The list is today's law applied to every year from 2001 on (when 2 June returned);
//! earlier years get the same list, which is close but not exact (2 June was moved to
//! the first Sunday of June 1977-2000), and are not what the clock is for.

use jiff::civil::{Date, Weekday};
use serde::Serialize;

/// A national holiday on a given date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NationalHoliday {
    /// The day.
    pub date: Date,
    /// Its Italian name.
    pub name: &'static str,
}

/// Easter Sunday (Gregorian computus, the anonymous "Meeus/Jones/Butcher" algorithm).
pub fn easter(year: i16) -> Date {
    let y = i32::from(year);
    let a = y % 19;
    let b = y / 100;
    let c = y % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    // Month is 3 or 4 and day 1-31 by construction.
    Date::new(year, month as i8, day as i8).unwrap_or(Date::MIN)
}

/// The national holidays of a year, in date order (Sundays not listed).
pub fn national_holidays(year: i16) -> Vec<NationalHoliday> {
    let fixed: &[(i8, i8, &'static str)] = &[
        (1, 1, "Capodanno"),
        (1, 6, "Epifania"),
        (4, 25, "Festa della Liberazione"),
        (5, 1, "Festa del Lavoro"),
        (6, 2, "Festa della Repubblica"),
        (8, 15, "Assunzione (Ferragosto)"),
        (11, 1, "Ognissanti"),
        (12, 8, "Immacolata Concezione"),
        (12, 25, "Natale"),
        (12, 26, "Santo Stefano"),
    ];
    let mut out: Vec<NationalHoliday> = fixed
        .iter()
        .filter_map(|&(m, d, name)| {
            Date::new(year, m, d)
                .ok()
                .map(|date| NationalHoliday { date, name })
        })
        .collect();
    if year >= 2026
        && let Ok(date) = Date::new(year, 10, 4)
    {
        out.push(NationalHoliday {
            date,
            name: "San Francesco d'Assisi, patrono d'Italia",
        });
    }
    // One-off holiday for the 150th anniversary of unification.
    if year == 2011
        && let Ok(date) = Date::new(2011, 3, 17)
    {
        out.push(NationalHoliday {
            date,
            name: "150° anniversario dell'Unità d'Italia",
        });
    }
    let e = easter(year);
    out.push(NationalHoliday {
        date: e,
        name: "Pasqua",
    });
    if let Ok(monday) = e.tomorrow() {
        out.push(NationalHoliday {
            date: monday,
            name: "Lunedì dell'Angelo",
        });
    }
    out.sort_by_key(|h| h.date);
    out
}

/// The national holiday on `date`, if any (Sundays excluded).
pub fn national_holiday(date: Date) -> Option<NationalHoliday> {
    national_holidays(date.year())
        .into_iter()
        .find(|h| h.date == date)
}

/// Sundays are public holidays for every legal purpose.
pub fn is_sunday(date: Date) -> bool {
    date.weekday() == Weekday::Sunday
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn easter_dates() {
        // Published Easter dates.
        for (y, m, d) in [
            (2024, 3, 31),
            (2025, 4, 20),
            (2026, 4, 5),
            (2027, 3, 28),
            (2019, 4, 21),
            (2038, 4, 25),
        ] {
            assert_eq!(easter(y), date(y, m, d), "{y}");
        }
    }

    #[test]
    fn fourth_of_october_from_2026() {
        assert!(national_holiday(date(2025, 10, 4)).is_none());
        assert!(national_holiday(date(2026, 10, 4)).is_some());
        assert!(national_holiday(date(2027, 10, 4)).is_some());
        assert_eq!(national_holidays(2026).len(), 13);
        assert_eq!(national_holidays(2025).len(), 12);
    }
}
