//! Routing's error table.

use sportello_kit::{ErrorKind, MunicipalityCode, ServiceError};

/// A routing failure.
#[derive(Debug, thiserror::Error)]
pub enum RoutingError {
    /// A site with this code already exists in the municipality.
    #[error("site {code} already exists in municipality {municipality}")]
    SiteExists {
        /// The municipality.
        municipality: MunicipalityCode,
        /// The site's code.
        code: String,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<RoutingError> for ServiceError {
    fn from(error: RoutingError) -> Self {
        match error {
            RoutingError::SiteExists { .. } => {
                ServiceError::new(ErrorKind::AlreadyExists, error.to_string())
            }
            RoutingError::Db(db) => db.into(),
        }
    }
}
