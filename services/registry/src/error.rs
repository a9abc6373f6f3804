//! The registry's error table: every failure of the registry, and the kind callers see.

use sportello_kit::{ErrorKind, MunicipalityCode, ServiceError};

/// A registry failure.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A street with this code is already in the municipality's gazetteer.
    #[error("street {street_code} already exists in municipality {municipality}")]
    StreetExists {
        /// The municipality.
        municipality: MunicipalityCode,
        /// The code.
        street_code: String,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<RegistryError> for ServiceError {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::StreetExists { .. } => {
                ServiceError::new(ErrorKind::AlreadyExists, error.to_string())
            }
            RegistryError::Db(db) => db.into(),
        }
    }
}
