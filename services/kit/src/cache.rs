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
    use super::*;

    #[tokio::test]
    async fn loads_once_until_invalidated() {
        let cache = ReplicaCache::<u8, u32>::new(Duration::from_secs(60));
        let mut loads = 0;
        for _ in 0..3 {
            let value = cache
                .get_or_load(&1, || async { Ok::<_, ()>(7) })
                .await
                .unwrap();
            assert_eq!(*value, 7);
        }
        cache.invalidate(&1);
        let value = cache
            .get_or_load(&1, || {
                loads += 1;
                async { Ok::<_, ()>(8) }
            })
            .await
            .unwrap();
        assert_eq!((*value, loads), (8, 1));
    }
}
