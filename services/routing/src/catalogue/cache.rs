//! Each replica's copy of the catalogue, read on every case opened and every call.
//!
//! Loaded per municipality on first use; dropped when this replica changes it, when
//! another replica's `routing.catalogue.changed` event arrives, or after a minute.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use sportello_kit::{Db, MunicipalityCode};

use super::{
    domain::{ServiceGroup, ServiceType},
    store,
};
use crate::error::RoutingError;

/// One municipality's catalogue.
#[derive(Debug, Default)]
pub struct Catalogue {
    /// Service types by code.
    pub services: HashMap<String, Arc<ServiceType>>,
    /// Groups by code.
    pub groups: HashMap<String, ServiceGroup>,
}

impl Catalogue {
    /// A service type, or [`RoutingError::UnknownService`].
    pub fn service(&self, code: &str) -> Result<&Arc<ServiceType>, RoutingError> {
        self.services
            .get(code)
            .ok_or_else(|| RoutingError::UnknownService(code.to_owned()))
    }

    /// A group, or [`RoutingError::UnknownGroup`].
    pub fn group(&self, code: &str) -> Result<&ServiceGroup, RoutingError> {
        self.groups
            .get(code)
            .ok_or_else(|| RoutingError::UnknownGroup(code.to_owned()))
    }
}

/// How long a cached catalogue is trusted without news.
const FRESH_FOR: Duration = Duration::from_secs(60);

/// A cached catalogue and when it was loaded.
type Entry = (Instant, Arc<Catalogue>);

/// The per-replica cache.
#[derive(Debug, Clone)]
pub struct CatalogueCache {
    db: Db,
    entries: Arc<RwLock<HashMap<MunicipalityCode, Entry>>>,
}

impl CatalogueCache {
    /// An empty cache over `db`.
    pub fn new(db: Db) -> Self {
        Self {
            db,
            entries: Arc::default(),
        }
    }

    /// The catalogue of `municipality`.
    pub async fn get(
        &self,
        municipality: MunicipalityCode,
    ) -> Result<Arc<Catalogue>, RoutingError> {
        if let Ok(entries) = self.entries.read()
            && let Some((loaded, catalogue)) = entries.get(&municipality)
            && loaded.elapsed() < FRESH_FOR
        {
            return Ok(catalogue.clone());
        }
        let services = store::list_types(self.db.pool(), municipality).await?;
        let groups = store::list_groups(self.db.pool(), municipality).await?;
        let catalogue = Arc::new(Catalogue {
            services: services
                .into_iter()
                .map(|(s, _)| (s.code.clone(), Arc::new(s)))
                .collect(),
            groups: groups.into_iter().map(|g| (g.code.clone(), g)).collect(),
        });
        if let Ok(mut entries) = self.entries.write() {
            entries.insert(municipality, (Instant::now(), catalogue.clone()));
        }
        Ok(catalogue)
    }

    /// Forgets a municipality's catalogue; the next read loads it again.
    pub fn invalidate(&self, municipality: MunicipalityCode) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(&municipality);
        }
    }
}
