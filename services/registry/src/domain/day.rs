//! Civil days (Europe/Rome) as the register counts them: `YYYY-MM-DD` on the wire.

use jiff::civil::Date;
use sportello_kit::ServiceError;

/// A Europe/Rome civil day.
pub type Day = Date;

/// Parses an optional day field: empty means `today`.
pub fn parse_day(field: &str, raw: &str, today: Day) -> Result<Day, ServiceError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(today);
    }
    parse_required_day(field, raw)
}

/// Parses a required day field.
pub fn parse_required_day(field: &str, raw: &str) -> Result<Day, ServiceError> {
    let raw = raw.trim();
    if raw.len() != 10 {
        return Err(ServiceError::invalid_field(
            field,
            "must be a day written YYYY-MM-DD",
        ));
    }
    raw.parse::<Date>().map_err(|_| {
        ServiceError::invalid_field(field, "must be an existing day written YYYY-MM-DD")
    })
}

/// A day as `dd/mm/yyyy`, the way Italian documents print it.
pub fn italian(day: Day) -> String {
    format!("{:02}/{:02}/{:04}", day.day(), day.month(), day.year())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn days_parse_strictly() {
        let today = date(2026, 11, 26);
        assert_eq!(parse_day("on_date", "", today).unwrap(), today);
        assert_eq!(
            parse_day("on_date", "2026-02-28", today).unwrap(),
            date(2026, 2, 28)
        );
        for bad in ["2026-02-30", "26-11-2026", "2026-1-1", "yesterday"] {
            let error = parse_day("on_date", bad, today).unwrap_err();
            assert_eq!(error.violations()[0].field, "on_date", "{bad}");
        }
        assert_eq!(italian(date(2026, 3, 9)), "09/03/2026");
    }
}
