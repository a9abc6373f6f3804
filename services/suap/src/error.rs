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
    /// The database's rule refused the grant: a granted or valid occupation overlaps this
    /// one in shape and period.
    #[error(
        "il posto è già occupato nello stesso periodo dall'occupazione {} (regola del database) / the place is already held in the same period by occupation {} (database rule)",
        other.map_or_else(|| "?".to_owned(), |id| id.to_string()),
        other.map_or_else(|| "?".to_owned(), |id| id.to_string())
    )]
    OccupationConflict {
        /// The occupation that holds the place, when it could be read back.
        other: Option<uuid::Uuid>,
    },
    /// No such occupation (or not in the caller's municipality).
    #[error("occupazione non trovata / occupation not found")]
    OccupationNotFound,
    /// The occupation's status does not allow the action.
    #[error(
        "l'occupazione è {status}: impossibile {action} / the occupation is {status}: cannot {action}"
    )]
    OccupationStatus {
        /// Its status.
        status: String,
        /// What was asked.
        action: &'static str,
    },
    /// The year's tariff table has no rate for the occupation.
    #[error(
        "nessuna tariffa {year} per zona {zone}, {kind}, {duration} / no {year} tariff for zone {zone}, {kind}, {duration}"
    )]
    NoTariff {
        /// Tariff year.
        year: i16,
        /// Zone category.
        zone: i32,
        /// Kind.
        kind: &'static str,
        /// "permanent" or "temporary".
        duration: &'static str,
    },
    /// The business named by an occupation is not registered.
    #[error("impresa non registrata / no such business")]
    UnknownBusiness,
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
            SuapError::UnknownBusiness => {
                ServiceError::invalid_field("business_id", error.to_string())
            }
            SuapError::OccupationNotFound => {
                ServiceError::new(ErrorKind::NotFound, error.to_string())
            }
            SuapError::OccupationConflict { .. }
            | SuapError::OccupationStatus { .. }
            | SuapError::NoTariff { .. } => {
                ServiceError::new(ErrorKind::FailedPrecondition, error.to_string())
            }
            SuapError::Db(db) => db.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn an_occupation_conflict_names_the_other_occupation_and_the_rule() {
        let other = uuid::Uuid::now_v7();
        let error = ServiceError::from(SuapError::OccupationConflict { other: Some(other) });
        assert_eq!(error.kind(), ErrorKind::FailedPrecondition);
        assert!(
            error.message().contains(&other.to_string()),
            "{}",
            error.message()
        );
        assert!(
            error.message().contains("database rule"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn occupation_errors_map_to_their_codes() {
        assert_eq!(
            ServiceError::from(SuapError::OccupationNotFound).kind(),
            ErrorKind::NotFound
        );
        let status = SuapError::OccupationStatus {
            status: "revoked".into(),
            action: "grant",
        };
        assert_eq!(
            ServiceError::from(status).kind(),
            ErrorKind::FailedPrecondition
        );
    }
}
