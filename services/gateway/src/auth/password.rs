//! Password hashing: argon2id with the crate's defaults (the OWASP minimum, 19 MiB,
//! 2 passes), run off the async workers because each hash takes tens of milliseconds.
//!
//! Each hash holds its 19 MiB while it runs, so how many run at once is bounded by a
//! semaphore sized to the pod's memory: `PASSWORD_HASH_CONCURRENCY`, or by default a
//! quarter of the cgroup's memory limit divided by the cost, no more than the CPUs and at
//! least one. A request that finds every permit taken waits [`QUEUE_WAIT`] at most, then
//! is answered UNAVAILABLE (503, retry) instead of queueing without bound while a flood
//! of sign-ins eats the memory.
//!
//! One pool per process ([`configure`], then [`hash`] and [`verify`]): memory is the
//! process's, whichever gateway instance in it asks.

use std::{
    sync::OnceLock,
    time::{Duration, Instant},
};

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};
use sportello_kit::{ErrorKind, ServiceError};
use tokio::sync::Semaphore;

/// Shortest password accepted for a local account.
pub const MIN_LENGTH: usize = 12;

/// The memory one argon2id hash uses with the defaults, in bytes (m = 19,456 KiB).
pub const HASH_MEMORY_BYTES: u64 = argon2::Params::DEFAULT_M_COST as u64 * 1024;

/// How long a request waits for a hashing permit before it is answered 503.
pub const QUEUE_WAIT: Duration = Duration::from_secs(2);

/// The message of the 503 when every permit stays taken (the UI shows it as given).
pub const BUSY: &str = "troppi accessi in corso: riprova tra qualche secondo / \
                        too many sign-ins at once: try again in a few seconds";

/// A bounded pool of password hashing.
#[derive(Debug)]
pub struct HashPool {
    permits: Semaphore,
    size: usize,
    wait: Duration,
}

impl HashPool {
    /// A pool running at most `size` hashes at once (at least one), each request waiting
    /// at most `wait` for its turn.
    pub fn new(size: usize, wait: Duration) -> Self {
        let size = size.max(1);
        Self {
            permits: Semaphore::new(size),
            size,
            wait,
        }
    }

    /// How many hashes may run at once.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Runs `work` on a blocking thread under a permit.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ServiceError> {
        let started = Instant::now();
        let permit = tokio::time::timeout(self.wait, self.permits.acquire())
            .await
            .map_err(|_| ServiceError::new(ErrorKind::Unavailable, BUSY))?
            .map_err(ServiceError::internal)?;
        let waited = started.elapsed();
        if waited > Duration::from_millis(100) {
            tracing::debug!(
                waited_ms = waited.as_millis(),
                "password hash waited for a permit"
            );
        }
        let result = tokio::task::spawn_blocking(work)
            .await
            .map_err(ServiceError::internal);
        drop(permit);
        result
    }

    /// Hashes a new password, refusing one too short or too long.
    pub async fn hash(&self, password: String) -> Result<String, ServiceError> {
        let chars = password.chars().count();
        if !(MIN_LENGTH..=256).contains(&chars) {
            return Err(ServiceError::invalid_field(
                "password",
                format!("must be {MIN_LENGTH} to 256 characters long"),
            ));
        }
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| ServiceError::internal(e.to_string()))
        })
        .await?
    }

    /// Whether `password` matches `stored`. With no stored hash (unknown account, or one
    /// that signs in elsewhere) a dummy hash is still checked, so the answer takes as
    /// long and does not tell which accounts exist. UNAVAILABLE when the pool is full.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<bool, ServiceError> {
        self.run(move || {
            let known = stored.is_some();
            let stored = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
            let Ok(parsed) = PasswordHash::new(&stored) else {
                return false;
            };
            let matches = Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok();
            known && matches
        })
        .await
    }
}

static POOL: OnceLock<HashPool> = OnceLock::new();

/// Sizes the process's pool: `concurrency`, or by default from the memory limit. The
/// first call wins (several gateways started in one test process share the pool);
/// returns the size in force.
pub fn configure(concurrency: Option<usize>) -> usize {
    POOL.get_or_init(|| HashPool::new(concurrency.unwrap_or_else(default_concurrency), QUEUE_WAIT))
        .size()
}

fn pool() -> &'static HashPool {
    POOL.get_or_init(|| HashPool::new(default_concurrency(), QUEUE_WAIT))
}

/// A quarter of the memory limit (cgroup v2 `memory.max`, or v1's
/// `memory.limit_in_bytes`) over the cost of one hash, at most the CPUs, at least one;
/// the CPUs when no limit is set.
pub fn default_concurrency() -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    concurrency_for(memory_limit(), cpus)
}

fn concurrency_for(memory_limit: Option<u64>, cpus: usize) -> usize {
    let by_memory = memory_limit.map_or(usize::MAX, |limit| {
        usize::try_from(limit / 4 / HASH_MEMORY_BYTES).unwrap_or(usize::MAX)
    });
    by_memory.min(cpus).max(1)
}

fn memory_limit() -> Option<u64> {
    [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .find_map(|path| std::fs::read_to_string(path).ok())
    .and_then(|text| parse_limit(&text))
}

/// A cgroup memory limit: bytes, or `max` (none). cgroup v1 writes "no limit" as a
/// huge number, which reads as more than any machine has: none.
fn parse_limit(text: &str) -> Option<u64> {
    let bytes: u64 = text.trim().parse().ok()?;
    (bytes < 1 << 60).then_some(bytes)
}

/// Hashes a new password in the process's pool ([`HashPool::hash`]).
pub async fn hash(password: String) -> Result<String, ServiceError> {
    pool().hash(password).await
}

/// Checks a password in the process's pool ([`HashPool::verify`]).
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, ServiceError> {
    pool().verify(password, stored).await
}

/// The argon2id hash of a random string nobody knows, with the default parameters.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c3BvcnRlbGxvLWR1bW15$0LEh1oZ8jo/Vw3NbMdEy0UOVyAvXbz9DE2Fc0XyOxfQ";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse battery".to_owned()).await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(
            verify("correct horse battery".to_owned(), Some(stored.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify("wrong horse battery".to_owned(), Some(stored))
                .await
                .unwrap()
        );
        assert!(!verify("anything at all".to_owned(), None).await.unwrap());
    }

    #[tokio::test]
    async fn short_passwords_are_refused_by_field() {
        let error = hash("short".to_owned()).await.unwrap_err();
        assert_eq!(error.violations()[0].field, "password");
    }

    #[test]
    fn the_dummy_hash_parses_with_the_costed_parameters() {
        let parsed = PasswordHash::new(DUMMY_HASH).unwrap();
        let m: u32 = parsed.params.get_decimal("m").unwrap();
        assert_eq!(u64::from(m) * 1024, HASH_MEMORY_BYTES);
    }

    #[tokio::test]
    async fn a_full_pool_answers_unavailable_instead_of_queueing() {
        let pool = HashPool::new(1, Duration::from_millis(50));
        let held = pool.permits.acquire().await.unwrap();
        let error = pool.verify("whatever".to_owned(), None).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Unavailable);
        assert_eq!(error.message(), BUSY);
        drop(held);
        assert!(!pool.verify("whatever".to_owned(), None).await.unwrap());
    }

    #[test]
    fn the_pool_is_sized_by_memory_and_cpus() {
        const MIB: u64 = 1024 * 1024;
        // 256 MiB: a quarter is 64 MiB, three hashes of 19 MiB.
        assert_eq!(concurrency_for(Some(256 * MIB), 8), 3);
        assert_eq!(
            concurrency_for(Some(256 * MIB), 2),
            2,
            "no more than the CPUs"
        );
        assert_eq!(concurrency_for(Some(32 * MIB), 8), 1, "at least one");
        assert_eq!(concurrency_for(None, 4), 4);
        assert_eq!(parse_limit("max\n"), None);
        assert_eq!(parse_limit("268435456\n"), Some(256 * MIB));
        assert_eq!(parse_limit("9223372036854771712"), None, "cgroup v1's none");
        assert_eq!(HashPool::new(0, QUEUE_WAIT).size(), 1);
    }
}
