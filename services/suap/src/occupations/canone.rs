//! The canone unico patrimoniale for an occupation of public land (L. 160/2019
//! c. 816-836) and the canone mercatale for market stalls (c. 837-845): pure arithmetic on
//! a tariff, an area and a period, in euro cents.
//!
//! The rules applied:
//!
//! - **Standard tariffs** by the municipality's population: c. 826 (annual, for permanent
//!   occupations) and c. 827 (daily, for temporary ones); the mercatale's c. 841-842 set
//!   the same figures (as transcribed here: check against the Gazzetta Ufficiale text
//!   before going live). [`standard_tariffs`].
//! - **Municipal coefficients** (c. 817: the municipality may modulate the standard tariff
//!   by zone, kind and purpose) per zone category (categoria di strada), kind and
//!   duration, in thousandths; a **reduction** in percent per rate, for the 30-40% weekly
//!   market reduction of c. 843.
//! - **Area**: c. 824 bills by the area "espressa in metri quadrati"; the true area, taken
//!   to the square centimetre, is rounded **up** to the whole square metre, as municipal
//!   regulations do (e.g. Magliano Alfieri's canone mercatale: "arrotondamento delle
//!   frazioni al metro quadrato superiore"; some, like Ancona's art. 26, round fractions
//!   after the first m² to the half m² — not implemented).
//! - **Permanent** (a year or more, or open-ended) pays the annual tariff per m² per solar
//!   year; the first year is pro-rata by days (days occupied / days of the year), as
//!   municipal regulations apply the annual tariff to the fraction of the year; each later
//!   year is billed on its own with that year's tariffs (not done here).
//! - **Temporary** (under a year) pays the daily tariff per m² per day, first and last day
//!   included, all at the tariffs of the start date's year. The hourly fractions of c. 843
//!   (markets under 9 hours) are not implemented: a market day is a day.
//! - **Money**: the product is exact in integers (cents × thousandths × m² × days × %) and
//!   rounded once, half up, to the cent.

use jiff::{ToSpan, civil::Date};

/// What an occupation is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Outdoor seating.
    Dehors,
    /// Scaffolding or a building site.
    Scaffolding,
    /// An event.
    Event,
    /// A market stall: canone mercatale.
    MarketStall,
}

impl Kind {
    /// The database's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dehors => "dehors",
            Self::Scaffolding => "scaffolding",
            Self::Event => "event",
            Self::MarketStall => "market_stall",
        }
    }

    /// From the database's name.
    pub fn from_db(name: &str) -> Option<Self> {
        [
            Self::Dehors,
            Self::Scaffolding,
            Self::Event,
            Self::MarketStall,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }

    /// Whether it pays the canone mercatale (c. 837-845) rather than the canone unico.
    pub fn is_mercatale(self) -> bool {
        self == Self::MarketStall
    }
}

/// The standard tariffs of a population class, in cents per m².
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standard {
    /// Per year (c. 826, c. 841).
    pub annual_cents: i64,
    /// Per day (c. 827, c. 842).
    pub daily_cents: i64,
}

/// The standard tariffs for a municipality of `population` residents (c. 826-827):
/// over 500,000: €70.00 / €2.00; over 100,000: €60.00 / €1.30; over 30,000: €50.00 /
/// €1.20; over 10,000: €40.00 / €0.70; up to 10,000: €30.00 / €0.60.
pub fn standard_tariffs(population: i64) -> Standard {
    let (annual_cents, daily_cents) = match population {
        p if p > 500_000 => (7_000, 200),
        p if p > 100_000 => (6_000, 130),
        p if p > 30_000 => (5_000, 120),
        p if p > 10_000 => (4_000, 70),
        _ => (3_000, 60),
    };
    Standard {
        annual_cents,
        daily_cents,
    }
}

/// The municipality's rate for one zone, kind and duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Multiplies the standard tariff, in thousandths.
    pub coefficient_milli: i32,
    /// Taken off the total, in percent.
    pub reduction_percent: i32,
}

/// An occupation's period: first day and last day, inclusive; `None` is open-ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First day.
    pub start: Date,
    /// Last day, inclusive.
    pub end: Option<Date>,
}

impl Period {
    /// Permanent: open-ended, or lasting at least a year (the annual tariff of c. 826
    /// applies to occupations "di durata non inferiore all'anno").
    pub fn is_permanent(&self) -> bool {
        match self.end {
            None => true,
            Some(end) => self
                .start
                .checked_add(1.year())
                .and_then(|d| d.checked_sub(1.day()))
                .is_ok_and(|year_later| end >= year_later),
        }
    }

    /// The tariff year: the start date's.
    pub fn tariff_year(&self) -> i16 {
        self.start.year()
    }
}

/// A computed canone and what it was computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Computation {
    /// The amount due, in cents.
    pub amount_cents: i64,
    /// The area billed, m².
    pub billed_area_m2: i64,
    /// The days billed.
    pub billed_days: i64,
    /// The standard tariff used (annual or daily), in cents.
    pub standard_cents: i64,
    /// The rate used.
    pub rate: Rate,
    /// Permanent (annual tariff) or temporary.
    pub permanent: bool,
}

/// The billed area: the true area to the cm², rounded up to the whole m² (so float noise
/// on a drawn 20.000000001 m² does not bill 21), at least 1 m².
pub fn billed_area(area_m2: f64) -> i64 {
    let square_cm = (area_m2 * 10_000.0).round();
    // Areas are checked to be under 25 km² at the edge: the cast cannot saturate.
    let whole = (square_cm / 10_000.0).ceil() as i64;
    whole.max(1)
}

/// The canone of `area_m2` over `period` at `standard` and `rate`.
pub fn compute(area_m2: f64, period: Period, standard: Standard, rate: Rate) -> Computation {
    let permanent = period.is_permanent();
    let billed_area_m2 = billed_area(area_m2);
    let year = period.start.year();
    let year_end = Date::new(year, 12, 31).unwrap_or(period.start);
    let (standard_cents, days, per) = if permanent {
        // The first solar year, pro-rata by days.
        let last = period.end.map_or(year_end, |end| end.min(year_end));
        let year_days = if period.start.in_leap_year() {
            366
        } else {
            365
        };
        (
            standard.annual_cents,
            days_between(period.start, last),
            year_days,
        )
    } else {
        let last = period.end.unwrap_or(period.start);
        (standard.daily_cents, days_between(period.start, last), 1)
    };
    let numerator = i128::from(standard_cents)
        * i128::from(rate.coefficient_milli)
        * i128::from(billed_area_m2)
        * i128::from(days)
        * i128::from(100 - rate.reduction_percent);
    let denominator = 1_000 * 100 * i128::from(per);
    let amount = (numerator + denominator / 2) / denominator;
    Computation {
        amount_cents: i64::try_from(amount).unwrap_or(i64::MAX),
        billed_area_m2,
        billed_days: days,
        standard_cents,
        rate,
        permanent,
    }
}

/// Days from `first` to `last`, both included.
fn days_between(first: Date, last: Date) -> i64 {
    first
        .until(last)
        .map(|span| i64::from(span.get_days()) + 1)
        .unwrap_or(1)
        .max(1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use jiff::civil::date;

    use super::*;

    /// La Spezia: about 93,000 residents, so the class over 30,000 up to 100,000.
    const SPEZIA: i64 = 92_659;

    #[test]
    fn standard_tariffs_by_population_class() {
        assert_eq!(
            standard_tariffs(SPEZIA),
            Standard {
                annual_cents: 5_000,
                daily_cents: 120
            }
        );
        assert_eq!(standard_tariffs(10_000).daily_cents, 60);
        assert_eq!(standard_tariffs(10_001).daily_cents, 70);
        assert_eq!(standard_tariffs(100_001).annual_cents, 6_000);
        assert_eq!(standard_tariffs(2_700_000).annual_cents, 7_000);
    }

    #[test]
    fn a_summer_dehors_worked_example() {
        // A dehors of 23.4 m² (billed 24 m²) in via del Prione (zone 1, coefficient 1.5),
        // 1 June - 30 September 2027 = 122 days, daily tariff €1.20:
        // 1.20 × 1.5 × 24 × 122 = €5,270.40.
        let period = Period {
            start: date(2027, 6, 1),
            end: Some(date(2027, 9, 30)),
        };
        let rate = Rate {
            coefficient_milli: 1_500,
            reduction_percent: 0,
        };
        let c = compute(23.4, period, standard_tariffs(SPEZIA), rate);
        assert!(!c.permanent);
        assert_eq!(c.billed_area_m2, 24);
        assert_eq!(c.billed_days, 122);
        assert_eq!(c.amount_cents, 527_040);
    }

    #[test]
    fn a_permanent_dehors_pays_the_first_year_pro_rata() {
        // 12 m², zone 2 (coefficient 0.8), from 1 April 2027 open-ended: 275 days of 365
        // at €50.00 × 0.8 = €40.00 per m² per year: 40 × 12 × 275 / 365 = €361.6438… → €361.64.
        let period = Period {
            start: date(2027, 4, 1),
            end: None,
        };
        let rate = Rate {
            coefficient_milli: 800,
            reduction_percent: 0,
        };
        let c = compute(12.0, period, standard_tariffs(SPEZIA), rate);
        assert!(c.permanent);
        assert_eq!(c.billed_days, 275);
        assert_eq!(c.amount_cents, 36_164);
    }

    #[test]
    fn a_weekly_market_stall_gets_the_reduction() {
        // 10.2 m² → 11 m², 52 market days billed as one temporary occupation each
        // (here a single day), coefficient 1.0, weekly-market reduction 35% (c. 843):
        // 1.20 × 11 × 0.65 = €8.58.
        let period = Period {
            start: date(2027, 3, 3),
            end: Some(date(2027, 3, 3)),
        };
        let rate = Rate {
            coefficient_milli: 1_000,
            reduction_percent: 35,
        };
        let c = compute(10.2, period, standard_tariffs(SPEZIA), rate);
        assert_eq!(c.amount_cents, 858);
        assert!(Kind::MarketStall.is_mercatale() && !Kind::Dehors.is_mercatale());
    }

    #[test]
    fn rounding_is_half_up_to_the_cent_once() {
        // 0.60 × 1.333 × 1 m² × 1 day = 0.7998 → 80 cents.
        let period = Period {
            start: date(2027, 1, 1),
            end: Some(date(2027, 1, 1)),
        };
        let rate = Rate {
            coefficient_milli: 1_333,
            reduction_percent: 0,
        };
        assert_eq!(
            compute(0.4, period, standard_tariffs(5_000), rate).amount_cents,
            80
        );
    }

    #[test]
    fn a_year_or_more_is_permanent() {
        let start = date(2027, 3, 1);
        assert!(
            !Period {
                start,
                end: Some(date(2028, 2, 27))
            }
            .is_permanent()
        );
        assert!(
            Period {
                start,
                end: Some(date(2028, 2, 29))
            }
            .is_permanent()
        );
        assert!(Period { start, end: None }.is_permanent());
    }

    #[test]
    fn billed_area_rounds_up_but_ignores_float_noise() {
        assert_eq!(billed_area(20.000_000_001), 20);
        assert_eq!(billed_area(20.01), 21);
        assert_eq!(billed_area(0.2), 1);
    }
}
