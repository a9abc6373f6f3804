//! The education service's error table.

use sportello_kit::{ErrorKind, ServiceError};

/// An education failure.
#[derive(Debug, thiserror::Error)]
pub enum EducationError {
    /// A school with this ministry code is already registered.
    #[error("school {school_code} is already registered")]
    SchoolExists {
        /// The ministry code.
        school_code: String,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<EducationError> for ServiceError {
    fn from(error: EducationError) -> Self {
        match error {
            EducationError::SchoolExists { .. } => {
                ServiceError::new(ErrorKind::AlreadyExists, error.to_string())
            }
            EducationError::Db(db) => db.into(),
        }
    }
}
