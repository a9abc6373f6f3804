//! Rate limit on sign-in: failed attempts per account id and in all, in a sliding
//! window, kept in memory. Per gateway replica: with N replicas an attacker gets N times
//! the budget, still far too little to guess an argon2id-protected password.

use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
    time::{Duration, Instant},
};

/// Failures allowed per account id within [`WINDOW`].
pub const PER_ACCOUNT: usize = 5;
/// Failures allowed across all ids within [`WINDOW`] (password spraying).
pub const IN_ALL: usize = 200;
/// The window.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// Recent failures.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    failures: Mutex<Failures>,
}

#[derive(Debug, Default)]
struct Failures {
    by_account: HashMap<String, VecDeque<Instant>>,
    all: VecDeque<Instant>,
}

fn prune(times: &mut VecDeque<Instant>, now: Instant) {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= WINDOW)
    {
        times.pop_front();
    }
}

impl LoginLimiter {
    /// How long `account` must wait before trying again; `None` when it may try now.
    pub fn wait_for(&self, account: &str) -> Option<Duration> {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        prune(&mut failures.all, now);
        let mut oldest_blocking = None;
        if failures.all.len() >= IN_ALL {
            oldest_blocking = failures.all.front().copied();
        }
        if let Some(times) = failures.by_account.get_mut(account) {
            prune(times, now);
            if times.len() >= PER_ACCOUNT {
                oldest_blocking = times.front().copied();
            }
        }
        oldest_blocking.map(|t| WINDOW.saturating_sub(now.duration_since(t)))
    }

    /// Records a failed attempt.
    pub fn failed(&self, account: &str) {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.all.push_back(now);
        // Bound memory: forget quiet accounts when many ids are tried.
        if failures.by_account.len() > 10_000 {
            failures.by_account.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < WINDOW)
            });
        }
        failures
            .by_account
            .entry(account.to_owned())
            .or_default()
            .push_back(now);
    }

    /// Forgets an account's failures after it signed in.
    pub fn succeeded(&self, account: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.by_account.remove(account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_failure_in_a_row_waits() {
        let limiter = LoginLimiter::default();
        for _ in 0..PER_ACCOUNT {
            assert_eq!(limiter.wait_for("m.rossi"), None);
            limiter.failed("m.rossi");
        }
        let wait = limiter.wait_for("m.rossi").unwrap();
        assert!(wait > Duration::from_secs(14 * 60));
        assert_eq!(
            limiter.wait_for("l.bianchi"),
            None,
            "other accounts are not held"
        );
        limiter.succeeded("m.rossi");
        assert_eq!(limiter.wait_for("m.rossi"), None);
    }
}
