//! Routing's error table: every failure of routing, and the kind callers see.

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
    /// No such site.
    #[error("site not found")]
    SiteNotFound,
    /// The record changed since the caller read it.
    #[error("the {what} was changed by someone else: read it again")]
    StaleVersion {
        /// What kind of record.
        what: &'static str,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<RoutingError> for ServiceError {
    fn from(error: RoutingError) -> Self {
        let kind = match &error {
            RoutingError::Db(_) => ErrorKind::Internal,
            RoutingError::SiteExists { .. } => ErrorKind::AlreadyExists,
            RoutingError::SiteNotFound => ErrorKind::NotFound,
            RoutingError::StaleVersion { .. } => ErrorKind::Aborted,
        };
        match error {
            RoutingError::Db(db) => db.into(),
            other => ServiceError::new(kind, other.to_string()),
        }
    }
}
