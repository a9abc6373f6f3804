//! Disabled parking badges (CUDE): issued to the person on a medical certification,
//! whose reference and term are health data — sealed at rest ([`sportello_kit::sealed`],
//! `HEALTH_DATA_KEYS`), opened only for the mobility office ([`reading`], every read
//! audited), never in an event, a log, a trace or a case note.
//!
//! One layering: [`grpc`] parses (through [`domain`], which also holds the rule of the
//! badge's days) and maps errors; [`issuing`] issues a badge (the registry's residence,
//! then one unit of work: number, sealed certification, plates, event, timers) and
//! replaces a lost or stolen one; [`lifecycle`] warns before the last day, ends it after,
//! and revokes it when the holder dies; [`store`] holds the SQL and [`message`] the wire
//! form. The declared plates pass every ZTL of the municipality through the whitelist.

pub mod domain;
pub mod grpc;
pub mod issuing;
pub mod lifecycle;
pub mod message;
pub mod reading;
pub mod store;

use std::sync::Arc;

use sportello_kit::{Db, ErrorKind, PseudonymKey, ServiceError, sealed::Keyring};
use uuid::Uuid;

use crate::facts::RegistryFacts;

/// What the badge flows work with.
#[derive(Debug, Clone)]
pub struct BadgeOffice {
    /// The service's database.
    pub db: Db,
    /// The registry's facts.
    pub facts: RegistryFacts,
    /// The key behind requester_refs.
    pub key: PseudonymKey,
    /// The keys sealing the certifications; `None` leaves the desk closed.
    pub health_keys: Option<Arc<Keyring>>,
}

impl BadgeOffice {
    /// The keyring, or UNAVAILABLE saying what to set.
    pub fn keys(&self) -> Result<Arc<Keyring>, ServiceError> {
        self.health_keys.clone().ok_or_else(|| {
            ServiceError::new(
                ErrorKind::Unavailable,
                "le certificazioni sanitarie si conservano solo cifrate: HEALTH_DATA_KEYS non è \
                 impostato / certifications are kept only sealed: HEALTH_DATA_KEYS is not set",
            )
        })
    }
}

/// What a badge's sealed certification is bound to: the badge and the field, so a sealed
/// value copied onto another badge does not open.
pub fn seal_context(badge: Uuid) -> Vec<u8> {
    format!("{badge}/certification").into_bytes()
}
