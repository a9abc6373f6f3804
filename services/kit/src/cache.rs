//! A replica's copy of data that changes rarely (catalogues, sites, settings), trusted for
//! a while and dropped when news of a change arrives.

use std::{
    collections::HashMap,
    future::Future,
    hash::Hash,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

/// A value and when it was loaded.
type Entry<V> = (Instant, Arc<V>);

/// Values by key, each loaded on first use and kept for `fresh_for`.
#[derive(Debug)]
pub struct ReplicaCache<K, V> {
    fresh_for: Duration,
    entries: Arc<RwLock<HashMap<K, Entry<V>>>>,
}

impl<K, V> Clone for ReplicaCache<K, V> {
    fn clone(&self) -> Self {
        Self {
            fresh_for: self.fresh_for,
            entries: self.entries.clone(),
        }
    }
}

impl<K: Eq + Hash + Clone, V> ReplicaCache<K, V> {
    /// An empty cache whose entries are trusted for `fresh_for`.
    pub fn new(fresh_for: Duration) -> Self {
        Self {
            fresh_for,
            entries: Arc::default(),
        }
    }

    /// The value of `key`, loaded with `load` when missing or stale.
    pub async fn get_or_load<E, F>(&self, key: &K, load: impl FnOnce() -> F) -> Result<Arc<V>, E>
    where
        F: Future<Output = Result<V, E>>,
    {
        if let Ok(entries) = self.entries.read()
            && let Some((loaded, value)) = entries.get(key)
            && loaded.elapsed() < self.fresh_for
        {
            return Ok(value.clone());
        }
        let value = Arc::new(load().await?);
        if let Ok(mut entries) = self.entries.write() {
            entries.insert(key.clone(), (Instant::now(), value.clone()));
        }
        Ok(value)
    }

    /// Forgets `key`: the next read loads it again.
    pub fn invalidate(&self, key: &K) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// A loader that counts its calls and yields `value`.
    fn counted(
        loads: &AtomicU32,
        value: u32,
    ) -> impl FnOnce() -> std::future::Ready<Result<u32, ()>> + '_ {
        move || {
            loads.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Ok(value))
        }
    }

    /// Every load is counted, the first ones included. Catches a cache that never keeps
    /// what it loaded (`get_or_load` without the insert: the three first reads load three
    /// times), one whose `invalidate` forgets nothing (the read after it still gets 7 and
    /// loads nothing), and one that invalidates more than the key it is given.
    #[tokio::test]
    async fn loads_once_until_invalidated() {
        let cache = ReplicaCache::<u8, u32>::new(Duration::from_secs(60));
        let loads = AtomicU32::new(0);
        for _ in 0..3 {
            let value = cache.get_or_load(&1, counted(&loads, 7)).await.unwrap();
            assert_eq!(*value, 7);
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1, "three reads, one load");
        let other = cache.get_or_load(&2, counted(&loads, 9)).await.unwrap();
        assert_eq!(
            (*other, loads.load(Ordering::SeqCst)),
            (9, 2),
            "another key loads apart"
        );

        cache.invalidate(&1);
        for _ in 0..3 {
            let value = cache.get_or_load(&1, counted(&loads, 8)).await.unwrap();
            assert_eq!(*value, 8, "the value loaded after the invalidation");
        }
        assert_eq!(
            loads.load(Ordering::SeqCst),
            3,
            "invalidated: loaded once more, then kept again"
        );
        let other = cache.get_or_load(&2, counted(&loads, 10)).await.unwrap();
        assert_eq!(
            (*other, loads.load(Ordering::SeqCst)),
            (9, 3),
            "the other key was not invalidated"
        );
    }

    /// An entry older than `fresh_for` is loaded again: with no freshness at all, every
    /// read loads. Catches a cache that trusts its entries for ever.
    #[tokio::test]
    async fn a_stale_entry_is_loaded_again() {
        let cache = ReplicaCache::<u8, u32>::new(Duration::ZERO);
        let loads = AtomicU32::new(0);
        for n in 1..=3 {
            let value = cache.get_or_load(&1, counted(&loads, n)).await.unwrap();
            assert_eq!(*value, n);
        }
        assert_eq!(loads.load(Ordering::SeqCst), 3);
    }

    /// A failed load leaves nothing behind: the next read loads again.
    #[tokio::test]
    async fn a_failed_load_is_not_kept() {
        let cache = ReplicaCache::<u8, u32>::new(Duration::from_secs(60));
        let failed = cache
            .get_or_load(&1, || std::future::ready(Err::<u32, &str>("database away")))
            .await;
        assert_eq!(failed.unwrap_err(), "database away");
        let loads = AtomicU32::new(0);
        let value = cache.get_or_load(&1, counted(&loads, 5)).await.unwrap();
        assert_eq!((*value, loads.load(Ordering::SeqCst)), (5, 1));
    }
}
