//! What every part of the registry's API shares: the database, the source it reads the
//! register through, the keys, and the audited-read helpers.

use std::sync::Arc;

use sportello_kit::{CallContext, Db, PseudonymKey, ServiceError, UnitOfWork};
use sportello_pa::calendar::rome;

use crate::{
    audit::{self, Access},
    config::SealKey,
    domain::Day,
    error::RegistryError,
    records::Person,
    source::{PersonKey, RegistrySource},
};

/// The registry's shared state. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Registry {
    /// The registry's database.
    pub db: Db,
    /// Where residents and families are read from.
    pub source: Arc<dyn RegistrySource>,
    /// The key behind requester_refs.
    pub pseudonym_key: PseudonymKey,
    /// The key that seals certificates.
    pub seal_key: SealKey,
    /// The public verification page, without a trailing slash.
    pub verify_url: Arc<str>,
    /// The municipality's authorisation for virtual payment of the stamp duty (DPR
    /// 642/1972 art. 15), as printed, if configured.
    pub virtual_stamp_authorisation: Option<Arc<str>>,
    /// Routing's protocol register: declarations in, notices and decisions out.
    pub protocol: Arc<dyn sportello_kit::protocol::ProtocolRegister>,
    /// Where documents handed in with procedures are kept (the kit's document store).
    pub documents: Arc<dyn sportello_kit::documents::DocumentStore>,
    /// Reads of residents' data by one operator within an hour above which the
    /// privacy/security officer is alerted (`PRIVACY_READS_PER_HOUR`).
    pub privacy_reads_per_hour: u32,
}

impl Registry {
    /// Today in Europe/Rome, by the service's clock.
    pub fn today(&self) -> Day {
        rome::date_of(self.db.clock().now())
    }

    /// The person `key` names, as of `on`, if they are in the caller's municipality's
    /// register; NOT_FOUND naming `field` when the register does not know them. Nothing is
    /// disclosed yet: the caller audits before answering.
    pub async fn find_person(
        &self,
        context: &CallContext,
        key: &PersonKey,
        on: Day,
        field: &'static str,
    ) -> Result<Person, ServiceError> {
        crate::access::ensure_reads_personal_data(context)?;
        let person = self
            .source
            .person(key, on)
            .await?
            .ok_or(RegistryError::NotFound {
                field,
                what: "no person with this key in the register",
            })?;
        context.ensure_municipality(person.municipality)?;
        Ok(person)
    }

    /// Writes the audit row of a read, and counts the operator's reads in the hour (the
    /// alert, [`crate::privacy::watch`]); the read fails if this fails.
    pub async fn audit(
        &self,
        context: &CallContext,
        access: Access<'_>,
    ) -> Result<(), ServiceError> {
        let refused = |error: sqlx::Error| {
            tracing::error!(%error, action = access.action, "audit write failed: read refused");
            ServiceError::from(error)
        };
        let mut uow = self.db.begin().await.map_err(refused)?;
        self.audit_in(&mut uow, context, access).await?;
        uow.commit().await.map_err(refused)
    }

    /// [`Self::audit`] inside `uow`, which also writes what the read produced.
    pub async fn audit_in(
        &self,
        uow: &mut UnitOfWork,
        context: &CallContext,
        access: Access<'_>,
    ) -> Result<(), ServiceError> {
        let now = uow.now();
        audit::record(uow.conn(), context, now, access)
            .await
            .map_err(|error| {
                tracing::error!(%error, action = access.action, "audit write failed: read refused");
                ServiceError::from(error)
            })?;
        crate::privacy::watch::after_read(uow, context, self.privacy_reads_per_hour)
            .await
            .map_err(|error| {
                tracing::error!(%error, "counting the operator's reads failed: read refused");
                ServiceError::from(error)
            })?;
        Ok(())
    }
}
