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
    /// No record with this id, named by the field that gave it.
    #[error("{what} ({field})")]
    NotFound {
        /// The request's field.
        field: &'static str,
        /// What was not found, Italian first.
        what: String,
    },
    /// The step does not fit where the procedure stands, or its rule forbids it: the
    /// message names the rule.
    #[error("{0}")]
    Precondition(String),
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
            SuapError::NotFound { .. } => ServiceError::new(ErrorKind::NotFound, error.to_string()),
            SuapError::Precondition(why) => ServiceError::new(ErrorKind::FailedPrecondition, why),
            SuapError::Db(db) => db.into(),
        }
    }
}
