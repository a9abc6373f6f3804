//! The fee rules, pure: the band an ISEE value falls in, the reduction for a payer's
//! further children, and the charges a subscription makes — which months, how much, due
//! when. Each tested with worked examples.
//!
//! - **Band.** The first band whose bound is at least the household's ISEE value; no
//!   ISEE declared, or a child not resident (the registry's fact), the last band — the
//!   full fee, as municipal tariff regulations apply it to those who do not declare.
//! - **Siblings.** The payer's second and further child subscribed to the same service
//!   for the same year pays the fee less the schedule's percentage, rounded half up to
//!   the cent; the first child taken pays it whole.
//! - **Months.** Canteen and transport follow the school calendar, September to June;
//!   the nursery September to July. A subscription pays from September, or from the month
//!   it is taken in when later; after the last month there is nothing to take.
//! - **Due dates.** A month's fee falls due on the 15th of that month; the year's on
//!   15 September. Never sooner than 15 days from the day it is taken, so that the family
//!   has time to pay the first notice.

use jiff::{ToSpan, civil::Date};

use super::domain::{FeeKind, Plan};

/// The days a first notice leaves at least.
pub const GRACE_DAYS: i32 = 15;

/// A band of a schedule: the monthly fee up to an ISEE bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Band {
    /// Inclusive bound in euro cents; `None` for the last band.
    pub up_to_cents: Option<i64>,
    /// The monthly fee in euro cents; 0 is exempt.
    pub monthly_cents: i64,
}

/// Where a subscription falls: its band (from 1) and its monthly fee before reductions.
pub fn band_of(bands: &[Band], isee_cents: Option<i64>, resident: bool) -> (usize, i64) {
    let last = bands.len().max(1);
    let index = match (isee_cents, resident) {
        (Some(isee), true) => bands
            .iter()
            .position(|b| b.up_to_cents.is_none_or(|up_to| isee <= up_to))
            .map_or(last, |i| i + 1),
        _ => last,
    };
    let monthly = bands.get(index - 1).map_or(0, |b| b.monthly_cents);
    (index, monthly)
}

/// `monthly` less `percent`, rounded half up to the cent.
pub fn reduced(monthly: i64, percent: u8) -> i64 {
    let kept = i128::from(100 - percent.min(100));
    i64::try_from((i128::from(monthly) * kept + 50) / 100).unwrap_or(monthly)
}

/// A charge to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedCharge {
    /// `YYYY-MM` for a month, `YYYY/YY` for the year.
    pub period: String,
    /// In euro cents.
    pub amount_cents: i64,
    /// The last day to pay.
    pub due_date: Date,
}

/// Why there is nothing to charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearOver {
    /// The service's last month.
    pub last_month: Date,
}

/// The months a subscription of `kind` for `year` taken on `today` pays: their first days.
pub fn months(kind: FeeKind, year: i16, today: Date) -> Result<Vec<Date>, YearOver> {
    let first = Date::new(year, 9, 1).unwrap_or(today);
    let last = Date::new(year + 1, kind.last_month(), 1).unwrap_or(today);
    let this_month = today.first_of_month();
    let mut month = first.max(this_month);
    if month > last {
        return Err(YearOver { last_month: last });
    }
    let mut months = Vec::new();
    while month <= last {
        months.push(month);
        month = match month.checked_add(1.month()) {
            Ok(next) => next,
            Err(_) => break,
        };
    }
    Ok(months)
}

/// The charges of a subscription paying `monthly` (after reductions) for `months`, by
/// `plan`, taken on `today`. None when exempt.
pub fn charges(
    plan: Plan,
    year: i16,
    months: &[Date],
    monthly: i64,
    today: Date,
) -> Vec<PlannedCharge> {
    if monthly <= 0 || months.is_empty() {
        return Vec::new();
    }
    let earliest = today.checked_add(GRACE_DAYS.days()).unwrap_or(today);
    let due = |day: Date| day.max(earliest);
    match plan {
        Plan::Monthly => months
            .iter()
            .map(|month| PlannedCharge {
                period: format!("{:04}-{:02}", month.year(), month.month()),
                amount_cents: monthly,
                due_date: due(month.with().day(15).build().unwrap_or(*month)),
            })
            .collect(),
        Plan::Yearly => {
            let count = i64::try_from(months.len()).unwrap_or(0);
            vec![PlannedCharge {
                period: format!("{year:04}/{:02}", (year + 1) % 100),
                amount_cents: monthly.saturating_mul(count),
                due_date: due(Date::new(year, 9, 15).unwrap_or(today)),
            }]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> Date {
        s.parse().unwrap_or_default()
    }

    /// A canteen schedule: exempt up to €6,000, €35 up to €15,000, €55 up to €30,000,
    /// €80 beyond.
    fn canteen() -> Vec<Band> {
        vec![
            Band {
                up_to_cents: Some(600_000),
                monthly_cents: 0,
            },
            Band {
                up_to_cents: Some(1_500_000),
                monthly_cents: 3_500,
            },
            Band {
                up_to_cents: Some(3_000_000),
                monthly_cents: 5_500,
            },
            Band {
                up_to_cents: None,
                monthly_cents: 8_000,
            },
        ]
    }

    #[test]
    fn the_band_is_the_first_whose_bound_holds_the_isee() {
        let bands = canteen();
        assert_eq!(band_of(&bands, Some(0), true), (1, 0));
        assert_eq!(
            band_of(&bands, Some(600_000), true),
            (1, 0),
            "bounds are inclusive"
        );
        assert_eq!(band_of(&bands, Some(600_001), true), (2, 3_500));
        assert_eq!(band_of(&bands, Some(2_212_345), true), (3, 5_500));
        assert_eq!(band_of(&bands, Some(9_000_000), true), (4, 8_000));
    }

    #[test]
    fn without_an_isee_or_residence_the_last_band_applies() {
        let bands = canteen();
        assert_eq!(band_of(&bands, None, true), (4, 8_000));
        assert_eq!(band_of(&bands, Some(100_000), false), (4, 8_000));
    }

    #[test]
    fn a_reduction_rounds_half_up_to_the_cent() {
        assert_eq!(reduced(5_500, 0), 5_500);
        assert_eq!(reduced(5_500, 30), 3_850);
        // €35.50 less 25 % is €26.625: €26.63; €35.55 less 25 % is €26.6625: €26.66.
        assert_eq!(reduced(3_550, 25), 2_663);
        assert_eq!(reduced(3_555, 25), 2_666);
        assert_eq!(reduced(3_500, 100), 0);
    }

    #[test]
    fn a_canteen_taken_in_june_pays_september_to_june() {
        let months = months(FeeKind::Canteen, 2027, date("2027-06-20")).unwrap_or_default();
        assert_eq!(months.len(), 10);
        assert_eq!(months[0], date("2027-09-01"));
        assert_eq!(months[9], date("2028-06-01"));
        let nursery = super::months(FeeKind::Nursery, 2027, date("2027-06-20")).unwrap_or_default();
        assert_eq!(nursery.len(), 11, "the nursery runs to July");
    }

    #[test]
    fn a_subscription_taken_in_november_pays_from_november() {
        let months = months(FeeKind::Transport, 2027, date("2027-11-20")).unwrap_or_default();
        assert_eq!(months.len(), 8);
        assert_eq!(months[0], date("2027-11-01"));
    }

    #[test]
    fn after_the_last_month_there_is_nothing_to_take() {
        assert_eq!(
            months(FeeKind::Canteen, 2027, date("2028-07-01")),
            Err(YearOver {
                last_month: date("2028-06-01")
            })
        );
        assert!(months(FeeKind::Nursery, 2027, date("2028-07-31")).is_ok());
    }

    #[test]
    fn monthly_charges_fall_due_on_the_15th_but_never_within_15_days() {
        let today = date("2027-11-20");
        let months = months(FeeKind::Canteen, 2027, today).unwrap_or_default();
        let charges = charges(Plan::Monthly, 2027, &months, 3_500, today);
        assert_eq!(charges.len(), 8);
        assert_eq!(charges[0].period, "2027-11");
        assert_eq!(
            charges[0].due_date,
            date("2027-12-05"),
            "15 days from today"
        );
        assert_eq!(charges[1].period, "2027-12");
        assert_eq!(charges[1].due_date, date("2027-12-15"));
        assert_eq!(charges[7].period, "2028-06");
        assert!(charges.iter().all(|c| c.amount_cents == 3_500));
    }

    #[test]
    fn a_yearly_charge_is_every_month_at_once_due_mid_september() {
        let today = date("2027-06-20");
        let months = months(FeeKind::Canteen, 2027, today).unwrap_or_default();
        let charges = charges(Plan::Yearly, 2027, &months, 5_500, today);
        assert_eq!(
            charges,
            vec![PlannedCharge {
                period: "2027/28".into(),
                amount_cents: 55_000,
                due_date: date("2027-09-15"),
            }]
        );
    }

    #[test]
    fn an_exempt_subscription_has_no_charges() {
        let today = date("2027-06-20");
        let months = months(FeeKind::Canteen, 2027, today).unwrap_or_default();
        assert!(charges(Plan::Monthly, 2027, &months, 0, today).is_empty());
    }
}
