//! Each replica's copy of its sites, read on every call and every case opened; dropped
//! when this replica changes a site, when another replica's `routing.site.updated`
//! event arrives, or after a minute.

use std::{sync::Arc, time::Duration};

use sportello_kit::{Db, cache::ReplicaCache};
use uuid::Uuid;

use super::store::{self, Site};
use crate::error::RoutingError;

/// The per-replica cache.
#[derive(Debug, Clone)]
pub struct SiteCache {
    db: Db,
    sites: ReplicaCache<Uuid, Site>,
}

impl SiteCache {
    /// An empty cache over `db`.
    pub fn new(db: Db) -> Self {
        Self {
            db,
            sites: ReplicaCache::new(Duration::from_secs(60)),
        }
    }

    /// A site.
    pub async fn get(&self, id: Uuid) -> Result<Arc<Site>, RoutingError> {
        self.sites
            .get_or_load(&id, || store::get(self.db.pool(), id))
            .await
    }

    /// Forgets a site; the next read loads it again.
    pub fn invalidate(&self, id: Uuid) {
        self.sites.invalidate(&id);
    }
}
