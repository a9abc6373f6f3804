//! URP's error table: every failure a caller can see, Italian first. The gateway's
//! Open311 API maps the same kinds to its own error format.

use sportello_kit::{ErrorKind, ServiceError};

/// A URP failure.
#[derive(Debug, thiserror::Error)]
pub enum UrpError {
    /// No such category in the municipality (or not offered any more).
    #[error(
        "categoria {code} sconosciuta; quelle attive sono: {known} / unknown category {code}; the active ones are: {known}"
    )]
    UnknownCategory {
        /// The code asked for.
        code: String,
        /// The active codes, comma-separated.
        known: String,
    },
    /// The category needs a place and none was given.
    #[error(
        "la categoria {0} richiede il luogo: coordinate (lat, long) o indirizzo / category {0} needs a location: coordinates (lat, long) or an address"
    )]
    LocationRequired(String),
    /// No report with this code or id.
    #[error("segnalazione {0} non trovata / report {0} not found")]
    ReportNotFound(String),
    /// No access request with this id.
    #[error("richiesta di accesso {0} non trovata / access request {0} not found")]
    RequestNotFound(String),
    /// A step the record's state or the law's terms do not allow now.
    #[error("{0}")]
    Precondition(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<UrpError> for ServiceError {
    fn from(error: UrpError) -> Self {
        let message = error.to_string();
        match error {
            UrpError::Db(db) => db.into(),
            // Bad input names its field, so a form (or Open311's error) can point at it.
            UrpError::UnknownCategory { .. } => {
                ServiceError::invalid_field("category_code", message)
            }
            UrpError::LocationRequired(_) => ServiceError::invalid_field("location", message),
            UrpError::ReportNotFound(_) | UrpError::RequestNotFound(_) => {
                ServiceError::new(ErrorKind::NotFound, message)
            }
            UrpError::Precondition(_) => ServiceError::new(ErrorKind::FailedPrecondition, message),
        }
    }
}
