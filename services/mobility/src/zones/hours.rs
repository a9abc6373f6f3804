//! When a zone's rules apply: weekdays and a span of the day, local time (Europe/Rome,
//! so a ZTL open 7:30-20:00 stays so across the change to summer time). A zone without
//! hours applies at all times.

use jiff::Timestamp;
use sportello_kit::ServiceError;
use sportello_proto::mobility::v1::ActiveHours;

/// One span of a zone's hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hours {
    /// ISO weekdays, 1 (Monday) to 7 (Sunday), ascending, no repeats.
    pub weekdays: Vec<i16>,
    /// Minutes from midnight, start included.
    pub from_minute: i32,
    /// Minutes from midnight, end excluded (1440: midnight).
    pub until_minute: i32,
}

fn minute_of(field: &str, raw: &str) -> Result<i32, ServiceError> {
    let bad = || {
        ServiceError::invalid_field(
            field,
            "deve essere OO:MM, da 00:00 a 24:00 / must be HH:MM, from 00:00 to 24:00",
        )
    };
    let (h, m) = raw.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(0..=24).contains(&h) || !(0..60).contains(&m) || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// Parses the request's `hours`.
pub fn parse(hours: &[ActiveHours]) -> Result<Vec<Hours>, ServiceError> {
    hours
        .iter()
        .enumerate()
        .map(|(i, span)| {
            let mut weekdays = Vec::new();
            for day in &span.weekdays {
                match i16::try_from(*day) {
                    Ok(day @ 1..=7) if !weekdays.contains(&day) => weekdays.push(day),
                    _ => {
                        return Err(ServiceError::invalid_field(
                            format!("hours[{i}].weekdays"),
                            "giorni ISO da 1 (lunedì) a 7 (domenica), ciascuno una volta / must be ISO weekdays 1 (Monday) to 7 (Sunday), each once",
                        ));
                    }
                }
            }
            if weekdays.is_empty() {
                return Err(ServiceError::invalid_field(
                    format!("hours[{i}].weekdays"),
                    "serve almeno un giorno / at least one weekday is required",
                ));
            }
            weekdays.sort_unstable();
            let from_minute = minute_of(&format!("hours[{i}].from"), &span.from)?;
            let until_minute = minute_of(&format!("hours[{i}].until"), &span.until)?;
            if until_minute <= from_minute || from_minute == 1440 {
                return Err(ServiceError::invalid_field(
                    format!("hours[{i}].until"),
                    "deve seguire from / must be after from",
                ));
            }
            Ok(Hours {
                weekdays,
                from_minute,
                until_minute,
            })
        })
        .collect()
}

/// "HH:MM".
pub fn clock_text(minute: i32) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// Whether a zone with `hours` applies at `at`.
pub fn in_force(hours: &[Hours], at: Timestamp) -> bool {
    if hours.is_empty() {
        return true;
    }
    let local = sportello_pa::calendar::rome::zoned(at);
    let weekday = i16::from(local.weekday().to_monday_one_offset());
    let minute = i32::from(local.hour()) * 60 + i32::from(local.minute());
    hours.iter().any(|h| {
        h.weekdays.contains(&weekday) && minute >= h.from_minute && minute < h.until_minute
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(days: &[u32], from: &str, until: &str) -> ActiveHours {
        ActiveHours {
            weekdays: days.to_vec(),
            from: from.into(),
            until: until.into(),
        }
    }

    /// La Spezia's centre, in the manner of most Italian ZTLs: weekdays 7:30 to 20:00,
    /// Saturdays to midnight.
    #[test]
    fn a_weekday_ztl_with_a_long_saturday() {
        let hours = parse(&[
            span(&[1, 2, 3, 4, 5], "07:30", "20:00"),
            span(&[6], "07:30", "24:00"),
        ])
        .unwrap();
        // Monday 7 December 2026, 8:00 in Rome (CET, UTC+1) = 7:00 UTC.
        assert!(in_force(&hours, "2026-12-07T07:00:00Z".parse().unwrap()));
        // 7:29 local is before the start.
        assert!(!in_force(&hours, "2026-12-07T06:29:00Z".parse().unwrap()));
        // 20:00 local is the end, excluded.
        assert!(!in_force(&hours, "2026-12-07T19:00:00Z".parse().unwrap()));
        // Saturday 12 December, 23:30 local.
        assert!(in_force(&hours, "2026-12-12T22:30:00Z".parse().unwrap()));
        // Sunday: open to all.
        assert!(!in_force(&hours, "2026-12-13T10:00:00Z".parse().unwrap()));
        // Summer time: Monday 6 July 2026, 7:45 local = 5:45 UTC (CEST, UTC+2).
        assert!(in_force(&hours, "2026-07-06T05:45:00Z".parse().unwrap()));
    }

    #[test]
    fn a_zone_without_hours_always_applies() {
        assert!(in_force(&[], "2026-12-13T03:00:00Z".parse().unwrap()));
    }

    #[test]
    fn bad_hours_are_named() {
        let field = |hours: &[ActiveHours]| parse(hours).unwrap_err().violations()[0].field.clone();
        assert_eq!(field(&[span(&[], "07:00", "08:00")]), "hours[0].weekdays");
        assert_eq!(field(&[span(&[8], "07:00", "08:00")]), "hours[0].weekdays");
        assert_eq!(
            field(&[span(&[1, 1], "07:00", "08:00")]),
            "hours[0].weekdays"
        );
        assert_eq!(field(&[span(&[1], "7.30", "08:00")]), "hours[0].from");
        assert_eq!(field(&[span(&[1], "07:00", "24:01")]), "hours[0].until");
        assert_eq!(
            field(&[span(&[1], "71582789:00", "08:00")]),
            "hours[0].from"
        );
        assert_eq!(field(&[span(&[1], "09:00", "08:00")]), "hours[0].until");
        assert_eq!(clock_text(450), "07:30");
    }
}
