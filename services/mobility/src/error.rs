//! The mobility service's error table.

use sportello_kit::{ErrorKind, MunicipalityCode, ServiceError};

/// A mobility failure.
#[derive(Debug, thiserror::Error)]
pub enum MobilityError {
    /// A zone with this code already exists in the municipality.
    #[error("zone {zone_code} already exists in municipality {municipality}")]
    ZoneExists {
        /// The municipality.
        municipality: MunicipalityCode,
        /// The zone's code.
        zone_code: String,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<MobilityError> for ServiceError {
    fn from(error: MobilityError) -> Self {
        match error {
            MobilityError::ZoneExists { .. } => {
                ServiceError::new(ErrorKind::AlreadyExists, error.to_string())
            }
            MobilityError::Db(db) => db.into(),
        }
    }
}
