//! The camera's answer, pure: given every permit a plate was on in a zone (with the days
//! each was valid, when it was paid and when it ended), was the plate authorised at an
//! instant, and why not. The memory and the history both answer through it.

use jiff::{Timestamp, civil::Date};
use sportello_pa::calendar::rome;
use uuid::Uuid;

use sportello_proto::mobility::v1::PermitKind;

/// One permit (or disabled badge) a plate was on, as the whitelist knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The permit.
    pub permit_id: Uuid,
    /// Its number.
    pub number: String,
    /// Its kind (a badge's plates too).
    pub kind: PermitKind,
    /// First day.
    pub valid_from: Date,
    /// Last day, inclusive.
    pub valid_until: Date,
    /// When it was paid (or issued free); `None` while awaiting payment.
    pub activated_at: Option<Timestamp>,
    /// When it ended before its last day.
    pub ended_at: Option<Timestamp>,
}

impl Entry {
    /// The first instant it authorises, if paid: the start of its first day, or the
    /// payment if later.
    pub fn starts(&self) -> Option<Timestamp> {
        let day = rome::start_of_day(self.valid_from).ok()?;
        Some(self.activated_at?.max(day))
    }

    /// The first instant it no longer authorises: the end of its last day, or its end.
    pub fn stops(&self) -> Option<Timestamp> {
        let day = rome::end_of_day(self.valid_until).ok()?;
        Some(self.ended_at.map_or(day, |ended| ended.min(day)))
    }

    /// Whether it authorised its plate at `at`.
    pub fn authorises(&self, at: Timestamp) -> bool {
        matches!((self.starts(), self.stops()), (Some(from), Some(to)) if from <= at && at < to)
    }
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Whether the plate could pass.
    pub authorised: bool,
    /// The permit that authorised it, or the one the reason is about.
    pub permit: Option<Entry>,
    /// Why, Italian then English.
    pub reason: String,
}

/// Decides from `entries` (every permit the plate was on in the zone) at `at`.
pub fn decide(entries: &[Entry], at: Timestamp) -> Decision {
    if let Some(entry) = entries.iter().find(|e| e.authorises(at)) {
        return Decision {
            authorised: true,
            permit: Some(entry.clone()),
            reason: format!(
                "autorizzata dal permesso {n}, valido dal {from} al {until} / authorised by \
                 permit {n}, valid {from} to {until}",
                n = entry.number,
                from = entry.valid_from,
                until = entry.valid_until,
            ),
        };
    }
    // The permit nearest the instant says why none applied.
    let day = rome::date_of(at);
    let nearest = entries.iter().min_by_key(|e| {
        if day < e.valid_from {
            (e.valid_from - day).get_days().abs()
        } else {
            (day - e.valid_until).get_days().abs()
        }
    });
    let Some(entry) = nearest else {
        return Decision {
            authorised: false,
            permit: None,
            reason: "targa mai vista su un permesso di questa zona / plate never seen on a \
                     permit of this zone"
                .into(),
        };
    };
    let n = &entry.number;
    let reason = match (entry.ended_at, entry.activated_at) {
        (Some(ended), _) if ended <= at && day <= entry.valid_until => format!(
            "il permesso {n} è cessato il {} / permit {n} ended on {}",
            rome::date_of(ended),
            rome::date_of(ended)
        ),
        _ if day > entry.valid_until => format!(
            "il permesso {n} è scaduto il {d} / permit {n} expired on {d}",
            d = entry.valid_until
        ),
        _ if day < entry.valid_from => format!(
            "il permesso {n} vale dal {d} / permit {n} is valid from {d}",
            d = entry.valid_from
        ),
        (_, None) => format!("il permesso {n} non è ancora pagato / permit {n} is not paid yet"),
        (_, Some(paid)) => format!(
            "il permesso {n} è stato pagato solo il {} / permit {n} was paid only at {paid}",
            rome::zoned(paid).strftime("%Y-%m-%d %H:%M")
        ),
    };
    Decision {
        authorised: false,
        permit: Some(entry.clone()),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    /// A resident's permit for 2027, paid on 10 January at 9:00 (8:00 UTC).
    fn permit() -> Entry {
        Entry {
            permit_id: Uuid::nil(),
            number: "ZTL-CENTRO-2027-00001".into(),
            kind: PermitKind::Resident,
            valid_from: date(2027, 1, 1),
            valid_until: date(2027, 12, 31),
            activated_at: Some(at("2027-01-10T08:00:00Z")),
            ended_at: None,
        }
    }

    #[test]
    fn a_paid_permit_authorises_from_its_payment_to_the_end_of_its_last_day() {
        let entries = [permit()];
        assert!(decide(&entries, at("2027-01-10T08:00:00Z")).authorised);
        assert!(decide(&entries, at("2027-06-15T12:00:00Z")).authorised);
        // 31 December 23:59 in Rome is 22:59 UTC.
        assert!(decide(&entries, at("2027-12-31T22:59:00Z")).authorised);
        let new_year = decide(&entries, at("2027-12-31T23:00:00Z"));
        assert!(!new_year.authorised);
        assert!(
            new_year.reason.contains("scaduto il 2027-12-31"),
            "{}",
            new_year.reason
        );
    }

    #[test]
    fn a_transit_before_the_payment_is_not_authorised_saying_when_it_was_paid() {
        let before = decide(&[permit()], at("2027-01-05T10:00:00Z"));
        assert!(!before.authorised);
        assert!(
            before.reason.contains("pagato solo il 2027-01-10 09:00"),
            "{}",
            before.reason
        );
        let mut unpaid = permit();
        unpaid.activated_at = None;
        assert!(
            decide(&[unpaid], at("2027-01-05T10:00:00Z"))
                .reason
                .contains("non è ancora pagato")
        );
    }

    #[test]
    fn an_ended_permit_stops_at_its_end_and_says_so() {
        let mut ended = permit();
        ended.ended_at = Some(at("2027-03-01T11:00:00Z"));
        assert!(decide(&[ended.clone()], at("2027-03-01T10:59:00Z")).authorised);
        let after = decide(&[ended], at("2027-03-01T11:00:00Z"));
        assert!(!after.authorised);
        assert!(
            after.reason.contains("cessato il 2027-03-01"),
            "{}",
            after.reason
        );
    }

    #[test]
    fn a_plate_never_seen_is_refused_with_the_reason() {
        let unseen = decide(&[], at("2027-03-01T11:00:00Z"));
        assert!(!unseen.authorised && unseen.permit.is_none());
        assert!(unseen.reason.contains("mai vista"));
    }

    #[test]
    fn of_two_permits_the_valid_one_answers() {
        let mut old = permit();
        old.number = "ZTL-CENTRO-2026-00007".into();
        old.valid_from = date(2026, 1, 1);
        old.valid_until = date(2026, 12, 31);
        old.activated_at = Some(at("2026-01-02T08:00:00Z"));
        let decision = decide(&[old, permit()], at("2027-02-01T08:00:00Z"));
        assert!(decision.authorised);
        assert_eq!(decision.permit.unwrap().number, "ZTL-CENTRO-2027-00001");
    }
}
