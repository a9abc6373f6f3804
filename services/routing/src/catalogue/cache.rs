//! Each replica's copy of the catalogue, read on every case opened and every call.
//!
//! Loaded per municipality on first use; dropped when this replica changes it, when
//! another replica's `routing.catalogue.changed` event arrives, or after a minute.

use std::{collections::HashMap, sync::Arc, time::Duration};

use sportello_kit::{Db, MunicipalityCode, cache::ReplicaCache};

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

/// The per-replica cache.
#[derive(Debug, Clone)]
pub struct CatalogueCache {
    db: Db,
    catalogues: ReplicaCache<MunicipalityCode, Catalogue>,
}

impl CatalogueCache {
    /// An empty cache over `db`.
    pub fn new(db: Db) -> Self {
        Self {
            db,
            catalogues: ReplicaCache::new(Duration::from_secs(60)),
        }
    }

    /// The catalogue of `municipality`.
    pub async fn get(
        &self,
        municipality: MunicipalityCode,
    ) -> Result<Arc<Catalogue>, RoutingError> {
        self.catalogues
            .get_or_load(&municipality, || async {
                let services = store::list_types(self.db.pool(), municipality).await?;
                let groups = store::list_groups(self.db.pool(), municipality).await?;
                Ok(Catalogue {
                    services: services
                        .into_iter()
                        .map(|(s, _)| (s.code.clone(), Arc::new(s)))
                        .collect(),
                    groups: groups.into_iter().map(|g| (g.code.clone(), g)).collect(),
                })
            })
            .await
    }

    /// Forgets a municipality's catalogue; the next read loads it again.
    pub fn invalidate(&self, municipality: MunicipalityCode) {
        self.catalogues.invalidate(&municipality);
    }
}
