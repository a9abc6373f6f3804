//! "Now", injectable.
//!
//! Services never read the system time directly: they ask their [`Clock`]. In tests a
//! [`ManualClock`] stands still until moved, so a 45-day silence-assent is checked by
//! moving the clock and stepping the timer worker, never by sleeping.

use std::sync::{Arc, Mutex, PoisonError};

use jiff::{SignedDuration, Timestamp, Zoned, tz::TimeZone};

/// The clock a service reads. Cheap to clone.
#[derive(Clone)]
pub struct Clock {
    source: Source,
}

#[derive(Clone)]
enum Source {
    System,
    Manual(Arc<Mutex<Timestamp>>),
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.source {
            Source::System => f.write_str("Clock::System"),
            Source::Manual(_) => write!(f, "Clock::Manual({})", self.now()),
        }
    }
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self {
            source: Source::System,
        }
    }

    /// A clock that stands at `start` until moved through the returned handle.
    pub fn manual(start: Timestamp) -> (Self, ManualClock) {
        let time = Arc::new(Mutex::new(start));
        (
            Self {
                source: Source::Manual(time.clone()),
            },
            ManualClock { time },
        )
    }

    /// The current instant.
    pub fn now(&self) -> Timestamp {
        match &self.source {
            Source::System => Timestamp::now(),
            Source::Manual(time) => *time.lock().unwrap_or_else(PoisonError::into_inner),
        }
    }

    /// The current instant in the municipality's time zone, Europe/Rome: daily ticket
    /// numbers, slots and deadlines are counted there.
    pub fn now_in_rome(&self) -> Zoned {
        self.now().to_zoned(rome())
    }
}

/// Europe/Rome, from the time-zone database bundled into the binary (a slim container
/// image has no /usr/share/zoneinfo).
pub fn rome() -> TimeZone {
    // The bundled database always has Europe/Rome; UTC+1 is only a last-resort fallback
    // that keeps the process alive should a build ever ship without it.
    TimeZone::get("Europe/Rome").unwrap_or_else(|_| TimeZone::fixed(jiff::tz::offset(1)))
}

/// The handle that moves a manual clock.
#[derive(Clone, Debug)]
pub struct ManualClock {
    time: Arc<Mutex<Timestamp>>,
}

impl ManualClock {
    /// Moves the clock to `to`.
    pub fn set(&self, to: Timestamp) {
        *self.time.lock().unwrap_or_else(PoisonError::into_inner) = to;
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: SignedDuration) {
        let mut time = self.time.lock().unwrap_or_else(PoisonError::into_inner);
        *time = time.saturating_add(by).unwrap_or(*time);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start: Timestamp = "2026-03-28T23:30:00Z".parse().unwrap();
        let (clock, hand) = Clock::manual(start);
        assert_eq!(clock.now(), start);
        hand.advance(SignedDuration::from_hours(2));
        assert_eq!(clock.now(), start + SignedDuration::from_hours(2));
        // 29 March 2026 01:30 UTC is 03:30 in Rome: summer time began at 02:00.
        assert_eq!(clock.now_in_rome().hour(), 3);
    }
}
