//! The mobility service's error table: every failure a caller can see, Italian first.

use sportello_kit::{ErrorKind, MunicipalityCode, ServiceError};

/// A mobility failure.
#[derive(Debug, thiserror::Error)]
pub enum MobilityError {
    /// A zone with this code already exists in the municipality.
    #[error(
        "la zona {zone_code} esiste già nel comune {municipality} / zone {zone_code} already exists in municipality {municipality}"
    )]
    ZoneExists {
        /// The municipality.
        municipality: MunicipalityCode,
        /// The zone's code.
        zone_code: String,
    },
    /// No zone with this code.
    #[error("zona {0} non trovata / zone {0} not found")]
    ZoneNotFound(String),
    /// No permit with this id.
    #[error("permesso {0} non trovato / permit {0} not found")]
    PermitNotFound(String),
    /// The zone does not issue this kind.
    #[error(
        "la zona {zone_code} non rilascia il {italian} / zone {zone_code} does not issue {kind} permits"
    )]
    KindNotIssued {
        /// The zone.
        zone_code: String,
        /// The kind in Italian.
        italian: &'static str,
        /// The kind.
        kind: &'static str,
    },
    /// The registry says the holder does not live in the zone.
    #[error(
        "secondo l'anagrafe il richiedente non risiede nella zona {zone_code} il {day} / the registry says the holder does not live in zone {zone_code} on {day}"
    )]
    NotInZone {
        /// The zone.
        zone_code: String,
        /// The day asked about.
        day: String,
    },
    /// The registry says the holder is not resident in the municipality.
    #[error(
        "secondo l'anagrafe il richiedente non è residente nel comune il {day} / the registry says the holder is not resident in the municipality on {day}"
    )]
    NotResident {
        /// The day asked about.
        day: String,
    },
    /// Every permit of the zone's quota is held.
    #[error(
        "la zona {zone_code} ha già tutti i {quota} permessi del suo contingente / zone {zone_code} has all {quota} permits of its quota issued"
    )]
    QuotaExhausted {
        /// The zone.
        zone_code: String,
        /// The quota.
        quota: i32,
    },
    /// The household would hold more plates than the zone allows.
    #[error(
        "il nucleo familiare ha già {held} targhe nella zona {zone_code}, il massimo è {max} / the household already holds {held} plates in zone {zone_code}, at most {max}"
    )]
    HouseholdPlates {
        /// The zone.
        zone_code: String,
        /// Plates held now.
        held: i32,
        /// The zone's limit.
        max: i32,
    },
    /// A state the operation cannot start from.
    #[error("{0}")]
    Precondition(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<MobilityError> for ServiceError {
    fn from(error: MobilityError) -> Self {
        let kind = match &error {
            MobilityError::Db(_) => {
                return match error {
                    MobilityError::Db(db) => db.into(),
                    other => ServiceError::internal(other.to_string()),
                };
            }
            MobilityError::ZoneExists { .. } => ErrorKind::AlreadyExists,
            MobilityError::ZoneNotFound(_) | MobilityError::PermitNotFound(_) => {
                ErrorKind::NotFound
            }
            MobilityError::KindNotIssued { .. }
            | MobilityError::NotInZone { .. }
            | MobilityError::NotResident { .. }
            | MobilityError::QuotaExhausted { .. }
            | MobilityError::HouseholdPlates { .. }
            | MobilityError::Precondition(_) => ErrorKind::FailedPrecondition,
        };
        ServiceError::new(kind, error.to_string())
    }
}
