//! The SUAP's error table.

use sportello_kit::{ErrorKind, MunicipalityCode, ServiceError};

/// A SUAP failure.
#[derive(Debug, thiserror::Error)]
pub enum SuapError {
    /// A business with this VAT number is already registered with the municipality.
    #[error("a business with this VAT number is already registered in municipality {municipality}")]
    BusinessExists {
        /// The municipality.
        municipality: MunicipalityCode,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<SuapError> for ServiceError {
    fn from(error: SuapError) -> Self {
        match error {
            SuapError::BusinessExists { .. } => {
                ServiceError::new(ErrorKind::AlreadyExists, error.to_string())
            }
            SuapError::Db(db) => db.into(),
        }
    }
}
