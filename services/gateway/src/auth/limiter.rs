//! Rate limit on sign-in: failures slow down the next attempt, per account id and per
//! network source, with a delay that doubles after a few free failures. There is no
//! global counter: an attacker spraying passwords across accounts never locks the
//! municipality out of signing in; each account and each source only gets slower.
//!
//! Checking and recording are one step: [`LoginLimiter::attempt`] counts the attempt as
//! a failure under the lock before the password is even checked (so concurrent guesses
//! cannot all pass the check before any is recorded), and the [`Attempt`] it hands out
//! then either confirms the failure, clears it on success, or gives it back when the
//! password was never checked (the hasher was busy, the database failed).
//!
//! Kept in memory, per gateway replica, bounded in size (see [`Policy::max_keys`]).

use std::{
    collections::HashMap,
    hash::Hash,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// How quickly failures slow down one key (an account or a source).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Failures allowed with no wait.
    pub free: u32,
    /// The wait after the first failure beyond the free ones; doubles with each next one.
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Rule {
    /// The wait imposed after `failures` failures.
    pub fn delay(&self, failures: u32) -> Duration {
        let Some(beyond) = failures.checked_sub(self.free + 1) else {
            return Duration::ZERO;
        };
        let factor = 1u32.checked_shl(beyond.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }
}

/// The limiter's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Per account id.
    pub account: Rule,
    /// Per network source (one IPv4 address, or an IPv6 /64: one subscriber's network).
    /// An office's operators share one address behind its NAT, so it is more lenient.
    pub source: Rule,
    /// A key with no failure for this long after its wait ended is forgotten.
    pub forget_after: Duration,
    /// The most keys of each kind kept; beyond it the stalest are dropped.
    pub max_keys: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            account: Rule {
                free: 3,
                base: Duration::from_secs(1),
                max: Duration::from_secs(15 * 60),
            },
            source: Rule {
                free: 20,
                base: Duration::from_secs(1),
                max: Duration::from_secs(15 * 60),
            },
            forget_after: Duration::from_secs(15 * 60),
            max_keys: 100_000,
        }
    }
}

/// The longest account id kept as a key (no account id is longer: `accounts::check_id`).
const ACCOUNT_KEY_CHARS: usize = 64;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last: Instant,
}

#[derive(Debug)]
struct Table<K> {
    entries: HashMap<K, Entry>,
}

impl<K: Hash + Eq + Clone> Table<K> {
    fn new() -> Self {
        Self {
            entries: HashMap::new(),
        }
    }

    /// The wait `key` still owes at `now`, forgetting it when stale.
    fn wait(&mut self, key: &K, rule: &Rule, policy: &Policy, now: Instant) -> Duration {
        let Some(entry) = self.entries.get(key).copied() else {
            return Duration::ZERO;
        };
        let until = entry.last + rule.delay(entry.failures);
        if now >= until + policy.forget_after {
            self.entries.remove(key);
            return Duration::ZERO;
        }
        until.saturating_duration_since(now)
    }

    fn record(&mut self, key: K, policy: &Policy, rule: &Rule, now: Instant) {
        if !self.entries.contains_key(&key) && self.entries.len() >= policy.max_keys {
            self.shrink(policy, rule, now);
        }
        let entry = self.entries.entry(key).or_insert(Entry {
            failures: 0,
            last: now,
        });
        entry.failures = entry.failures.saturating_add(1);
        entry.last = now;
    }

    /// Drops the forgotten keys, then, if still full, the tenth with the oldest failure:
    /// amortised, so a flood of new keys costs one pass per tenth of the table.
    fn shrink(&mut self, policy: &Policy, rule: &Rule, now: Instant) {
        self.entries
            .retain(|_, e| now < e.last + rule.delay(e.failures) + policy.forget_after);
        if self.entries.len() < policy.max_keys {
            return;
        }
        let mut ages: Vec<Instant> = self.entries.values().map(|e| e.last).collect();
        let cut = (policy.max_keys / 10).max(1).min(ages.len() - 1);
        let (_, threshold, _) = ages.select_nth_unstable(cut);
        let threshold = *threshold;
        self.entries.retain(|_, e| e.last > threshold);
    }

    fn give_back(&mut self, key: &K) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.failures = entry.failures.saturating_sub(1);
            if entry.failures == 0 {
                self.entries.remove(key);
            }
        }
    }
}

#[derive(Debug)]
struct Tables {
    accounts: Table<String>,
    sources: Table<IpAddr>,
}

/// Recent failures, per account and per source.
#[derive(Debug, Clone)]
pub struct LoginLimiter {
    policy: Policy,
    tables: Arc<Mutex<Tables>>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self::new(Policy::default())
    }
}

/// One sign-in attempt allowed: counted as a failure until told otherwise. Dropped
/// without an outcome (the password was never checked), it is given back.
#[derive(Debug)]
#[must_use = "say how the attempt ended: failed(), succeeded(), or drop it to give it back"]
pub struct Attempt {
    limiter: LoginLimiter,
    account: String,
    source: IpAddr,
    settled: bool,
}

impl Attempt {
    /// The password was wrong (or the account unknown): the failure stands, and the
    /// wait runs from now (not from the reservation: a slow hash must not eat it).
    pub fn failed(self) {
        self.failed_at(Instant::now());
    }

    fn failed_at(mut self, now: Instant) {
        self.settled = true;
        let mut tables = self.limiter.lock();
        if let Some(entry) = tables.accounts.entries.get_mut(&self.account) {
            entry.last = entry.last.max(now);
        }
        if let Some(entry) = tables.sources.entries.get_mut(&self.source) {
            entry.last = entry.last.max(now);
        }
    }

    /// Signed in: the account's failures are forgotten, and this attempt is not counted
    /// against the source (its earlier failures stand: one good password must not wash
    /// a sprayer's address clean).
    pub fn succeeded(mut self) {
        self.settled = true;
        let mut tables = self.limiter.lock();
        tables.accounts.entries.remove(&self.account);
        tables.sources.give_back(&self.source);
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if !self.settled {
            let mut tables = self.limiter.lock();
            tables.accounts.give_back(&self.account);
            tables.sources.give_back(&self.source);
        }
    }
}

/// The key of a network source: an IPv4 address, or an IPv6 address's /64 (an IPv4
/// mapped into IPv6 is the IPv4 address).
pub fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::from([s[0], s[1], s[2], s[3], 0, 0, 0, 0])
            }
        },
    }
}

fn account_key(account: &str) -> String {
    account.chars().take(ACCOUNT_KEY_CHARS).collect()
}

impl LoginLimiter {
    /// A limiter with `policy`.
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            tables: Arc::new(Mutex::new(Tables {
                accounts: Table::new(),
                sources: Table::new(),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Checks and reserves one attempt for `account` from `source`: either the attempt,
    /// already counted as a failure, or how long to wait first.
    pub fn attempt(&self, account: &str, source: IpAddr) -> Result<Attempt, Duration> {
        self.attempt_at(account, source, Instant::now())
    }

    fn attempt_at(&self, account: &str, source: IpAddr, now: Instant) -> Result<Attempt, Duration> {
        let account = account_key(account);
        let source = source_key(source);
        let policy = self.policy;
        let mut tables = self.lock();
        let wait = tables
            .accounts
            .wait(&account, &policy.account, &policy, now)
            .max(tables.sources.wait(&source, &policy.source, &policy, now));
        if !wait.is_zero() {
            return Err(wait);
        }
        tables
            .accounts
            .record(account.clone(), &policy, &policy.account, now);
        tables.sources.record(source, &policy, &policy.source, now);
        drop(tables);
        Ok(Attempt {
            limiter: self.clone(),
            account,
            source,
            settled: false,
        })
    }

    /// How many accounts and sources are tracked.
    pub fn tracked(&self) -> (usize, usize) {
        let tables = self.lock();
        (tables.accounts.entries.len(), tables.sources.entries.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 7));
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 9));

    fn fail(limiter: &LoginLimiter, account: &str, source: IpAddr, now: Instant) {
        limiter
            .attempt_at(account, source, now)
            .expect("allowed")
            .failed_at(now);
    }

    #[test]
    fn the_delay_doubles_after_the_free_failures_up_to_the_cap() {
        let rule = Policy::default().account;
        let delays: Vec<u64> = (0..=6).map(|n| rule.delay(n).as_secs()).collect();
        assert_eq!(delays, [0, 0, 0, 0, 1, 2, 4]);
        assert_eq!(rule.delay(40), rule.max);
        assert_eq!(rule.delay(u32::MAX), rule.max);
    }

    #[test]
    fn failures_slow_one_account_down_without_holding_others() {
        let limiter = LoginLimiter::default();
        let t0 = Instant::now();
        for _ in 0..4 {
            fail(&limiter, "m.rossi", HOME, t0);
        }
        let wait = limiter.attempt_at("m.rossi", OTHER, t0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(1), "a new source does not help");
        assert!(limiter.attempt_at("l.bianchi", HOME, t0).is_ok());
        // After the wait, one more try; failing it doubles the wait.
        let t1 = t0 + Duration::from_secs(1);
        fail(&limiter, "m.rossi", HOME, t1);
        assert_eq!(
            limiter.attempt_at("m.rossi", HOME, t1).unwrap_err(),
            Duration::from_secs(2)
        );
        // Signing in forgets the account's failures.
        let t2 = t1 + Duration::from_secs(2);
        limiter.attempt_at("m.rossi", HOME, t2).unwrap().succeeded();
        for _ in 0..3 {
            fail(&limiter, "m.rossi", HOME, t2);
        }
        assert!(limiter.attempt_at("m.rossi", HOME, t2).is_ok());
    }

    #[test]
    fn one_source_spraying_many_accounts_is_slowed_and_no_one_else() {
        let limiter = LoginLimiter::default();
        let now = Instant::now();
        for n in 0..=Policy::default().source.free {
            fail(&limiter, &format!("user{n}"), HOME, now);
        }
        assert!(limiter.attempt_at("fresh.account", HOME, now).is_err());
        // No global lockout: everyone else signs in as before.
        limiter
            .attempt_at("fresh.account", OTHER, now)
            .unwrap()
            .succeeded();
    }

    #[test]
    fn concurrent_guesses_cannot_all_pass_the_check() {
        let limiter = LoginLimiter::default();
        let now = Instant::now();
        // Attempts in flight, none settled yet: each is already counted.
        let in_flight: Vec<_> = (0..10)
            .filter_map(|_| limiter.attempt_at("m.rossi", HOME, now).ok())
            .collect();
        assert_eq!(
            in_flight.len(),
            4,
            "the free failures and the first slow one"
        );
        for attempt in in_flight {
            attempt.failed_at(now);
        }
    }

    #[test]
    fn an_attempt_never_checked_is_given_back() {
        let limiter = LoginLimiter::default();
        let now = Instant::now();
        for _ in 0..10 {
            drop(limiter.attempt_at("m.rossi", HOME, now).unwrap());
        }
        assert_eq!(limiter.tracked(), (0, 0));
    }

    #[test]
    fn stale_keys_are_forgotten_and_memory_is_bounded() {
        let policy = Policy {
            max_keys: 100,
            ..Policy::default()
        };
        let limiter = LoginLimiter::new(policy);
        let t0 = Instant::now();
        for n in 0..1_000u32 {
            let source = IpAddr::from(n.to_be_bytes());
            fail(&limiter, &format!("u{n}"), source, t0);
        }
        let (accounts, sources) = limiter.tracked();
        assert!(accounts <= 100 && sources <= 100, "{accounts} {sources}");
        let later = t0 + policy.forget_after + Duration::from_secs(1);
        assert!(limiter.attempt_at("u999", HOME, later).is_ok());
    }

    #[test]
    fn ipv6_sources_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        assert_eq!(source_key(a), source_key(b));
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert_eq!(source_key(mapped), HOME);
    }

    #[test]
    fn very_long_names_share_one_bounded_key() {
        let long = "x".repeat(10_000);
        assert_eq!(account_key(&long).len(), ACCOUNT_KEY_CHARS);
    }
}
