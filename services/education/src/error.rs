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
    /// The municipality has a window for this service and school year already.
    #[error(
        "c'è già una finestra di iscrizione per questo servizio e anno scolastico / there is \
         already an enrolment window for this service and school year"
    )]
    WindowExists,
    /// The child has an application in this window already.
    #[error("{}", application_exists(.code.as_deref()))]
    ApplicationExists {
        /// The existing application's code, when known.
        code: Option<String>,
    },
    /// The application has an objection already.
    #[error("c'è già un ricorso per questa domanda / this application has an objection already")]
    ObjectionExists,
    /// The ranking's stage is published already.
    #[error("la graduatoria è già pubblicata / the ranking is published already")]
    RankingExists,
    /// The child is subscribed to the service for the year already.
    #[error("{}", subscription_exists(.code.as_deref()))]
    SubscriptionExists {
        /// The existing subscription's code, when known.
        code: Option<String>,
    },
    /// Something a field names does not exist.
    #[error("{field}: {what}")]
    NotFound {
        /// The field.
        field: &'static str,
        /// What is missing, in Italian and English.
        what: &'static str,
    },
    /// The request is well formed but the procedure is not where it allows it.
    #[error("{0}")]
    Precondition(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn application_exists(code: Option<&str>) -> String {
    let code = code.map(|c| format!(" ({c})")).unwrap_or_default();
    format!(
        "c'è già una domanda per questo bambino in questa finestra{code} / this child has an \
         application in this window already"
    )
}

fn subscription_exists(code: Option<&str>) -> String {
    let code = code.map(|c| format!(" ({c})")).unwrap_or_default();
    format!(
        "il bambino è già iscritto a questo servizio per quest'anno{code} / the child is \
         subscribed to this service for this year already"
    )
}

impl From<EducationError> for ServiceError {
    fn from(error: EducationError) -> Self {
        match error {
            EducationError::SchoolExists { .. }
            | EducationError::WindowExists
            | EducationError::ApplicationExists { .. }
            | EducationError::ObjectionExists
            | EducationError::RankingExists
            | EducationError::SubscriptionExists { .. } => {
                ServiceError::new(ErrorKind::AlreadyExists, error.to_string())
            }
            EducationError::NotFound { field, what } => {
                ServiceError::new(ErrorKind::NotFound, format!("{field}: {what}"))
            }
            EducationError::Precondition(why) => {
                ServiceError::new(ErrorKind::FailedPrecondition, why)
            }
            EducationError::Db(db) => db.into(),
        }
    }
}
