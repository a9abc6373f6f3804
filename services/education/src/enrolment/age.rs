//! Who is old enough, and not too old, for a municipal nursery or pre-school.
//!
//! - **Pre-school** (*scuola dell'infanzia*), DPR 89/2009 art. 2: children who turn three
//!   by 31 December of the school year's first calendar year (c. 1); on the family's
//!   request, those who turn three by 30 April of the next year, as early entrants
//!   (*anticipatari*, c. 2: admitted only where places remain, after the regular
//!   applicants). A child who turns six by 31 December goes to primary school instead
//!   (art. 4 c. 1), so is not a pre-school applicant.
//! - **Nursery** (*nido d'infanzia*): from three months to three years (36 months) of age
//!   on the day the child would start, as the municipality's regulation sets the
//!   service's range.
//!
//! A birthday on 29 February falls on 28 February in a common year (jiff's calendar
//! arithmetic; the cut-off days above are never in February, so it decides nothing here).

use jiff::{Span, civil::Date};
use sportello_kit::ServiceError;

/// A school year by the calendar year it starts in: 2027 is 2027/28.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SchoolYear(pub i16);

impl SchoolYear {
    /// 31 December of the year it starts in.
    fn year_end(self) -> Result<Date, ServiceError> {
        Date::new(self.0, 12, 31).map_err(|e| ServiceError::internal(e.to_string()))
    }

    /// 30 April of the next calendar year.
    fn early_cut_off(self) -> Result<Date, ServiceError> {
        Date::new(self.0 + 1, 4, 30).map_err(|e| ServiceError::internal(e.to_string()))
    }
}

impl std::fmt::Display for SchoolYear {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{:02}", self.0, (self.0 + 1) % 100)
    }
}

/// How a child is admitted to pre-school.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// Three by 31 December (DPR 89/2009 art. 2 c. 1).
    Regular,
    /// Three by 30 April of the next year (art. 2 c. 2): after the regular applicants.
    Early,
}

fn birthday(birth: Date, years: i64) -> Result<Date, ServiceError> {
    birth
        .checked_add(Span::new().years(years))
        .map_err(|e| ServiceError::internal(e.to_string()))
}

/// Whether a child born on `birth` may apply for pre-school in `year`, and how; refused
/// naming `field` and the rule.
pub fn pre_school(birth: Date, year: SchoolYear, field: &str) -> Result<Entry, ServiceError> {
    let third = birthday(birth, 3)?;
    let sixth = birthday(birth, 6)?;
    if sixth <= year.year_end()? {
        return Err(ServiceError::invalid_field(
            field,
            format!(
                "compie sei anni il {sixth}, entro il 31 dicembre: per l'anno {year} va \
                 iscritto alla scuola primaria (DPR 89/2009 art. 4 c. 1) / turns six by \
                 31 December: primary school"
            ),
        ));
    }
    if third <= year.year_end()? {
        return Ok(Entry::Regular);
    }
    if third <= year.early_cut_off()? {
        return Ok(Entry::Early);
    }
    Err(ServiceError::invalid_field(
        field,
        format!(
            "compie tre anni il {third}, dopo il 30 aprile {}: troppo piccolo per la scuola \
             dell'infanzia nell'anno {year} (DPR 89/2009 art. 2) / turns three after 30 April",
            year.0 + 1
        ),
    ))
}

/// Whether a child born on `birth` is within the nursery's age (3 to 36 months) on
/// `starts`, the day it would start; refused naming `field`.
pub fn nursery(birth: Date, starts: Date, field: &str) -> Result<(), ServiceError> {
    let three_months = birth
        .checked_add(Span::new().months(3))
        .map_err(|e| ServiceError::internal(e.to_string()))?;
    let third = birthday(birth, 3)?;
    if starts < three_months {
        return Err(ServiceError::invalid_field(
            field,
            format!(
                "il {starts} non ha ancora tre mesi (li compie il {three_months}): il nido \
                 accoglie dai 3 ai 36 mesi / younger than three months on the start day"
            ),
        ));
    }
    if starts >= third {
        return Err(ServiceError::invalid_field(
            field,
            format!(
                "il {starts} ha già compiuto tre anni (il {third}): il nido accoglie dai 3 ai \
                 36 mesi / three years old by the start day"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    const Y2027: SchoolYear = SchoolYear(2027);

    #[test]
    fn pre_school_regular_early_and_out_of_range_dpr_89_2009_art_2() {
        // Three on 31 December 2027: the last regular entrant of 2027/28.
        assert_eq!(
            pre_school(date(2024, 12, 31), Y2027, "birth_date").unwrap(),
            Entry::Regular
        );
        // Three on 1 January and on 30 April 2028: early entrants.
        assert_eq!(
            pre_school(date(2025, 1, 1), Y2027, "birth_date").unwrap(),
            Entry::Early
        );
        assert_eq!(
            pre_school(date(2025, 4, 30), Y2027, "birth_date").unwrap(),
            Entry::Early
        );
        // Three on 1 May 2028: too young.
        let young = pre_school(date(2025, 5, 1), Y2027, "birth_date").unwrap_err();
        assert_eq!(young.violations()[0].field, "birth_date");
        assert!(young.violations()[0].description.contains("2028-05-01"));
        // Six on 31 December 2027: primary school.
        let old = pre_school(date(2021, 12, 31), Y2027, "birth_date").unwrap_err();
        assert!(old.violations()[0].description.contains("primaria"));
        // Six on 1 January 2028: still a pre-school child for 2027/28.
        assert_eq!(
            pre_school(date(2022, 1, 1), Y2027, "birth_date").unwrap(),
            Entry::Regular
        );
    }

    #[test]
    fn a_leap_day_birth_counts_its_birthdays_on_28_february() {
        let born = date(2024, 2, 29);
        assert_eq!(birthday(born, 3).unwrap(), date(2027, 2, 28));
        // Three on 28 February 2027: an early entrant for 2026/27, a regular one for
        // 2027/28, too young for 2025/26.
        assert_eq!(
            pre_school(born, SchoolYear(2026), "b").unwrap(),
            Entry::Early
        );
        assert_eq!(
            pre_school(born, SchoolYear(2027), "b").unwrap(),
            Entry::Regular
        );
        assert!(pre_school(born, SchoolYear(2025), "b").is_err());
    }

    #[test]
    fn nursery_from_three_to_thirty_six_months_on_the_start_day() {
        let starts = date(2027, 9, 1);
        nursery(date(2027, 6, 1), starts, "birth_date").unwrap();
        let young = nursery(date(2027, 6, 2), starts, "birth_date").unwrap_err();
        assert!(young.violations()[0].description.contains("2027-09-02"));
        nursery(date(2024, 9, 2), starts, "birth_date").unwrap();
        let old = nursery(date(2024, 9, 1), starts, "birth_date").unwrap_err();
        assert!(old.violations()[0].description.contains("tre anni"));
    }

    #[test]
    fn school_years_read_as_italians_write_them() {
        assert_eq!(Y2027.to_string(), "2027/28");
        assert_eq!(SchoolYear(2099).to_string(), "2099/00");
    }
}
