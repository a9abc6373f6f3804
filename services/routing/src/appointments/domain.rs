//! Appointments as routing keeps them, and their parsing from requests: times of day,
//! weekly hours, the booking rules, booking codes.

use jiff::{SignedDuration, Timestamp, civil::Date, civil::Time};
use ring::rand::{SecureRandom, SystemRandom};
use sportello_kit::{MunicipalityCode, ServiceError, events::to_proto_timestamp};
use sportello_proto::routing::v1::{
    Booking as BookingMessage, BookingRules as RulesMessage, BookingStatus, ScheduleBlock,
    WeeklyHours,
};
use uuid::Uuid;

use super::calendar::Span;
use crate::domain::{Stored, stored};

stored!(BookingStatus {
    Unconfirmed => "unconfirmed",
    Confirmed => "confirmed",
    CheckedIn => "checked_in",
    Cancelled => "cancelled",
    Expired => "expired",
    NoShow => "no_show",
    Offered => "offered",
});

stored!(sportello_proto::routing::v1::WaitlistStatus {
    Waiting => "waiting",
    Offered => "offered",
    Booked => "booked",
    Lapsed => "lapsed",
});

/// Whether a booking in `status` holds its slot (the exclusion constraints' set).
pub fn holds_slot(status: BookingStatus) -> bool {
    matches!(
        status,
        BookingStatus::Unconfirmed
            | BookingStatus::Offered
            | BookingStatus::Confirmed
            | BookingStatus::CheckedIn
    )
}

/// "HH:MM" (24-hour), local time.
pub fn parse_time(field: &str, raw: &str) -> Result<Time, ServiceError> {
    let bad =
        || ServiceError::invalid_field(field, "deve essere un orario HH:MM / must be a time HH:MM");
    let (h, m) = raw.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: i8 = h.parse().map_err(|_| bad())?;
    let m: i8 = m.parse().map_err(|_| bad())?;
    Time::new(h, m, 0, 0).map_err(|_| bad())
}

/// "HH:MM" of a local time.
pub fn format_time(time: Time) -> String {
    format!("{:02}:{:02}", time.hour(), time.minute())
}

/// "YYYY-MM-DD".
pub fn parse_date(field: &str, raw: &str) -> Result<Date, ServiceError> {
    raw.parse::<Date>()
        .ok()
        .filter(|_| raw.len() == 10)
        .ok_or_else(|| {
            ServiceError::invalid_field(
                field,
                "deve essere una data AAAA-MM-GG / must be a date YYYY-MM-DD",
            )
        })
}

/// An ISO weekday, 1 (Monday) to 7 (Sunday).
pub fn parse_weekday(field: &str, raw: u32) -> Result<i16, ServiceError> {
    i16::try_from(raw)
        .ok()
        .filter(|d| (1..=7).contains(d))
        .ok_or_else(|| {
            ServiceError::invalid_field(
                field,
                "deve essere un giorno da 1 (lunedì) a 7 (domenica) / must be a weekday 1 (Monday) to 7 (Sunday)",
            )
        })
}

/// A local time range of a weekday.
fn parse_span(
    prefix: &str,
    from: &str,
    to: &str,
    from_name: &str,
    to_name: &str,
) -> Result<Span, ServiceError> {
    let starts = parse_time(&format!("{prefix}.{from_name}"), from)?;
    let ends = parse_time(&format!("{prefix}.{to_name}"), to)?;
    if starts >= ends {
        return Err(ServiceError::invalid_field(
            format!("{prefix}.{to_name}"),
            format!("deve venire dopo {from_name} / must come after {from_name}"),
        ));
    }
    Ok(Span { starts, ends })
}

/// Refuses ranges of one weekday that overlap, naming the later one.
fn refuse_overlaps(field: &str, mut ranges: Vec<(i16, Span, usize)>) -> Result<(), ServiceError> {
    ranges.sort_by_key(|(day, span, _)| (*day, *span));
    for pair in ranges.windows(2) {
        if let [(d1, a, _), (d2, b, i)] = pair
            && d1 == d2
            && b.starts < a.ends
        {
            return Err(ServiceError::invalid_field(
                format!("{field}[{i}]"),
                "si sovrappone a un'altra fascia dello stesso giorno / overlaps another range of the same day",
            ));
        }
    }
    Ok(())
}

/// A site's weekly hours, checked: weekdays, times, no overlaps within a day.
pub fn parse_hours(hours: &[WeeklyHours]) -> Result<Vec<(i16, Span)>, ServiceError> {
    let mut parsed = Vec::with_capacity(hours.len());
    for (i, h) in hours.iter().enumerate() {
        let prefix = format!("hours[{i}]");
        let day = parse_weekday(&format!("{prefix}.weekday"), h.weekday)?;
        let span = parse_span(&prefix, &h.opens, &h.closes, "opens", "closes")?;
        parsed.push((day, span, i));
    }
    refuse_overlaps("hours", parsed.clone())?;
    Ok(parsed.into_iter().map(|(d, s, _)| (d, s)).collect())
}

/// A block of an operator's schedule, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// ISO weekday.
    pub weekday: i16,
    /// The local time range.
    pub span: Span,
    /// Where.
    pub site_id: Uuid,
    /// The counter or room.
    pub counter_number: i16,
}

impl Block {
    /// As a message.
    pub fn to_message(&self) -> ScheduleBlock {
        ScheduleBlock {
            weekday: u32::try_from(self.weekday).unwrap_or_default(),
            starts: format_time(self.span.starts),
            ends: format_time(self.span.ends),
            site_id: self.site_id.to_string(),
            counter_number: u32::try_from(self.counter_number).unwrap_or_default(),
        }
    }
}

/// An operator's weekly schedule, checked: weekdays, times, counters, no overlaps
/// (an operator is in one place at a time).
pub fn parse_schedule(blocks: &[ScheduleBlock]) -> Result<Vec<Block>, ServiceError> {
    let mut parsed = Vec::with_capacity(blocks.len());
    for (i, b) in blocks.iter().enumerate() {
        let prefix = format!("blocks[{i}]");
        let weekday = parse_weekday(&format!("{prefix}.weekday"), b.weekday)?;
        let span = parse_span(&prefix, &b.starts, &b.ends, "starts", "ends")?;
        let site_id =
            sportello_kit::domain::parse_field::<Uuid>(&format!("{prefix}.site_id"), &b.site_id)?;
        let counter_number = i16::try_from(b.counter_number)
            .ok()
            .filter(|n| (1..=999).contains(n))
            .ok_or_else(|| {
                ServiceError::invalid_field(
                    format!("{prefix}.counter_number"),
                    "deve essere 1-999 / must be 1-999",
                )
            })?;
        parsed.push(Block {
            weekday,
            span,
            site_id,
            counter_number,
        });
    }
    refuse_overlaps(
        "blocks",
        parsed
            .iter()
            .enumerate()
            .map(|(i, b)| (b.weekday, b.span, i))
            .collect(),
    )?;
    Ok(parsed)
}

/// How a municipality's bookings work (see the proto for each rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct BookingRules {
    pub buffer_minutes: i16,
    pub max_open_per_service: i16,
    pub max_per_person_per_day: i16,
    pub max_per_source_per_day: i32,
    pub max_per_email_per_day: i16,
    pub release_days_ahead: i16,
    pub release_time: Time,
    pub release_tranches: i16,
    pub tranche_interval_minutes: i16,
    pub confirm_minutes: i16,
    pub check_in_early_minutes: i16,
    pub check_in_late_minutes: i16,
    pub waitlist_offer_minutes: i16,
    pub version: i64,
}

impl Default for BookingRules {
    fn default() -> Self {
        Self {
            buffer_minutes: 5,
            max_open_per_service: 1,
            max_per_person_per_day: 2,
            max_per_source_per_day: 20,
            max_per_email_per_day: 3,
            release_days_ahead: 30,
            release_time: Time::constant(8, 0, 0, 0),
            release_tranches: 1,
            tranche_interval_minutes: 60,
            confirm_minutes: 15,
            check_in_early_minutes: 30,
            check_in_late_minutes: 10,
            waitlist_offer_minutes: 120,
            version: 0,
        }
    }
}

impl BookingRules {
    /// A slot's length for a service of `expected_minutes`.
    pub fn slot_length(&self, expected_minutes: i16) -> SignedDuration {
        SignedDuration::from_mins(i64::from(expected_minutes) + i64::from(self.buffer_minutes))
    }

    /// Minutes as a duration.
    pub fn minutes(m: i16) -> SignedDuration {
        SignedDuration::from_mins(i64::from(m))
    }

    /// From a request, every rule in its range, naming the first that is not.
    pub fn parse(m: &RulesMessage) -> Result<Self, ServiceError> {
        fn within<T: TryFrom<u32>>(
            field: &str,
            raw: u32,
            lo: u32,
            hi: u32,
        ) -> Result<T, ServiceError> {
            (lo..=hi)
                .contains(&raw)
                .then(|| T::try_from(raw).ok())
                .flatten()
                .ok_or_else(|| {
                    ServiceError::invalid_field(
                        format!("rules.{field}"),
                        format!("deve essere tra {lo} e {hi} / must be between {lo} and {hi}"),
                    )
                })
        }
        Ok(Self {
            buffer_minutes: within("buffer_minutes", m.buffer_minutes, 0, 60)?,
            max_open_per_service: within("max_open_per_service", m.max_open_per_service, 1, 10)?,
            max_per_person_per_day: within(
                "max_per_person_per_day",
                m.max_per_person_per_day,
                1,
                10,
            )?,
            max_per_source_per_day: within(
                "max_per_source_per_day",
                m.max_per_source_per_day,
                1,
                10_000,
            )?,
            max_per_email_per_day: within(
                "max_per_email_per_day",
                m.max_per_email_per_day,
                1,
                100,
            )?,
            release_days_ahead: within("release_days_ahead", m.release_days_ahead, 1, 180)?,
            release_time: parse_time("rules.release_time", &m.release_time)?,
            release_tranches: within("release_tranches", m.release_tranches, 1, 12)?,
            tranche_interval_minutes: within(
                "tranche_interval_minutes",
                m.tranche_interval_minutes,
                1,
                1440,
            )?,
            confirm_minutes: within("confirm_minutes", m.confirm_minutes, 5, 60)?,
            check_in_early_minutes: within(
                "check_in_early_minutes",
                m.check_in_early_minutes,
                0,
                120,
            )?,
            check_in_late_minutes: within("check_in_late_minutes", m.check_in_late_minutes, 0, 60)?,
            waitlist_offer_minutes: within(
                "waitlist_offer_minutes",
                m.waitlist_offer_minutes,
                5,
                1440,
            )?,
            version: i64::try_from(m.version).unwrap_or(i64::MAX),
        })
    }

    /// As a message.
    pub fn to_message(&self) -> RulesMessage {
        let u = |v: i16| u32::try_from(v).unwrap_or_default();
        RulesMessage {
            buffer_minutes: u(self.buffer_minutes),
            max_open_per_service: u(self.max_open_per_service),
            max_per_person_per_day: u(self.max_per_person_per_day),
            max_per_source_per_day: u32::try_from(self.max_per_source_per_day).unwrap_or_default(),
            max_per_email_per_day: u(self.max_per_email_per_day),
            release_days_ahead: u(self.release_days_ahead),
            release_time: format_time(self.release_time),
            release_tranches: u(self.release_tranches),
            tranche_interval_minutes: u(self.tranche_interval_minutes),
            confirm_minutes: u(self.confirm_minutes),
            check_in_early_minutes: u(self.check_in_early_minutes),
            check_in_late_minutes: u(self.check_in_late_minutes),
            waitlist_offer_minutes: u(self.waitlist_offer_minutes),
            version: u64::try_from(self.version).unwrap_or_default(),
        }
    }
}

/// A booking as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Booking {
    pub id: Uuid,
    pub code: String,
    pub municipality: MunicipalityCode,
    pub service_code: String,
    pub service_group: String,
    pub site_id: Uuid,
    pub operator_id: String,
    pub counter_number: i16,
    pub start: Timestamp,
    pub end: Timestamp,
    pub status: BookingStatus,
    pub requester_ref: String,
    pub confirm_deadline: Option<Timestamp>,
    pub case_id: Option<Uuid>,
    pub ticket_label: Option<String>,
    pub origin_case_id: Option<Uuid>,
    pub booked_by: String,
    pub created_at: Timestamp,
    pub version: i64,
}

impl Booking {
    /// As a message, with the documents the catalogue asks to bring.
    pub fn to_message(&self, documents: &[String]) -> BookingMessage {
        BookingMessage {
            id: self.id.to_string(),
            code: self.code.clone(),
            municipality_istat_code: self.municipality.to_string(),
            service_code: self.service_code.clone(),
            site_id: self.site_id.to_string(),
            operator_id: self.operator_id.clone(),
            counter_number: u32::try_from(self.counter_number).unwrap_or_default(),
            start_time: Some(to_proto_timestamp(self.start)),
            end_time: Some(to_proto_timestamp(self.end)),
            status: self.status as i32,
            requester_ref: self.requester_ref.clone(),
            confirm_deadline: self.confirm_deadline.map(to_proto_timestamp),
            documents_to_bring: documents.to_vec(),
            case_id: self.case_id.map(|c| c.to_string()).unwrap_or_default(),
            origin_case_id: self
                .origin_case_id
                .map(|c| c.to_string())
                .unwrap_or_default(),
            booked_by: self.booked_by.clone(),
            create_time: Some(to_proto_timestamp(self.created_at)),
            version: u64::try_from(self.version).unwrap_or_default(),
            ticket_label: self.ticket_label.clone().unwrap_or_default(),
        }
    }
}

/// Crockford's base-32 alphabet: no I, L, O or U, so a code read aloud or typed from
/// paper is not mistaken.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new booking code: 8 characters, 40 random bits.
pub fn new_code() -> Result<String, ServiceError> {
    let mut bytes = [0u8; 8];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ServiceError::internal("no randomness for a booking code"))?;
    Ok(bytes
        .iter()
        .map(|b| char::from(CROCKFORD[usize::from(b & 31)]))
        .collect())
}

/// A booking code as a person types it: any case, dashes and spaces ignored, and the
/// letters Crockford reads as digits (O → 0, I and L → 1).
pub fn parse_code(field: &str, raw: &str) -> Result<String, ServiceError> {
    let code: String = raw
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect();
    if code.len() == 8 && code.bytes().all(|b| CROCKFORD.contains(&b)) {
        Ok(code)
    } else {
        Err(ServiceError::invalid_field(
            field,
            "il codice della prenotazione ha 8 lettere e cifre / a booking code has 8 letters and digits",
        ))
    }
}

/// A required timestamp of a request.
pub fn parse_instant(
    field: &str,
    raw: Option<&prost_types::Timestamp>,
) -> Result<Timestamp, ServiceError> {
    raw.and_then(|t| Timestamp::new(t.seconds, t.nanos).ok())
        .ok_or_else(|| ServiceError::invalid_field(field, "è obbligatorio / is required"))
}

/// A new six-digit confirmation code.
pub fn new_confirmation_code() -> Result<String, ServiceError> {
    let mut bytes = [0u8; 4];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ServiceError::internal("no randomness for a confirmation code"))?;
    Ok(format!("{:06}", u32::from_be_bytes(bytes) % 1_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_hh_mm() {
        assert_eq!(
            parse_time("t", "08:30").unwrap(),
            Time::constant(8, 30, 0, 0)
        );
        for bad in ["8:30", "24:00", "08:60", "0830", "08:30:00", ""] {
            assert!(parse_time("t", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn overlapping_hours_are_refused_by_index() {
        let h = |weekday, opens: &str, closes: &str| WeeklyHours {
            weekday,
            opens: opens.into(),
            closes: closes.into(),
        };
        let error = parse_hours(&[
            h(1, "09:00", "12:00"),
            h(2, "09:00", "12:00"),
            h(1, "11:00", "13:00"),
        ])
        .unwrap_err();
        assert_eq!(error.violations()[0].field, "hours[2]");
        let error = parse_hours(&[h(8, "09:00", "12:00")]).unwrap_err();
        assert_eq!(error.violations()[0].field, "hours[0].weekday");
        let error = parse_hours(&[h(1, "12:00", "09:00")]).unwrap_err();
        assert_eq!(error.violations()[0].field, "hours[0].closes");
        assert_eq!(
            parse_hours(&[h(1, "09:00", "12:00"), h(1, "14:00", "16:00")])
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn codes_read_back_as_typed() {
        let code = new_code().unwrap();
        assert_eq!(parse_code("code", &code.to_lowercase()).unwrap(), code);
        assert_eq!(parse_code("code", "k7m2-p9qo").unwrap(), "K7M2P9Q0");
        assert!(parse_code("code", "K7M2P9Q").is_err());
        assert!(parse_code("code", "K7M2P9QU").is_err());
        assert_eq!(new_confirmation_code().unwrap().len(), 6);
    }

    #[test]
    fn the_default_rules_are_within_their_ranges() {
        let rules = BookingRules::default();
        let mut message = rules.to_message();
        message.version = 0;
        assert_eq!(BookingRules::parse(&message).unwrap(), rules);
        message.confirm_minutes = 2;
        let error = BookingRules::parse(&message).unwrap_err();
        assert_eq!(error.violations()[0].field, "rules.confirm_minutes");
    }
}
