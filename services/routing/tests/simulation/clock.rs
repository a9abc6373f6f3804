//! Simulated time: turmoil's clock, and the counter's wall clock derived from it.

use jiff::{SignedDuration, Timestamp};

/// Milliseconds since the simulation began.
pub(crate) fn now_ms() -> u64 {
    turmoil::sim_elapsed().map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The counter's clock: one simulated millisecond is 0.6 s of a working morning, so a
/// run of a few simulated seconds spans the site's 20-minute priority bound and the
/// policy's every branch is taken.
pub(crate) fn now_ts() -> Timestamp {
    at_ms(now_ms())
}

/// The counter's clock at `ms`.
pub(crate) fn at_ms(ms: u64) -> Timestamp {
    let base = Timestamp::from_second(1_800_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
    base.checked_add(SignedDuration::from_millis(
        i64::try_from(ms).unwrap_or(i64::MAX / 1_000) * 600,
    ))
    .unwrap_or(base)
}
