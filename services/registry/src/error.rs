//! The registry's error table: every failure of the registry, and the kind callers see.
//!
//! Handlers parse requests into domain types with [`ServiceError::invalid_field`]
//! (INVALID_ARGUMENT naming the field); everything the registry itself decides is a
//! [`RegistryError`], mapped to a kind here and nowhere else.

use sportello_kit::{ErrorKind, MunicipalityCode, ServiceError, db};

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
    /// The record a request field names does not exist (or is not this municipality's).
    #[error("{field}: {what}")]
    NotFound {
        /// The request field that named it.
        field: &'static str,
        /// What was not found, in words without personal data.
        what: &'static str,
    },
    /// A request field is well formed but names something the request cannot use.
    #[error("{field}: {why}")]
    Invalid {
        /// The request field.
        field: &'static str,
        /// Why, in words without personal data.
        why: String,
    },
    /// A person with this fiscal code is already in the municipality's register.
    #[error("fiscal_code: a person with this fiscal code is already in the register")]
    FiscalCodeTaken,
    /// The record is not in a state that allows the request.
    #[error("{0}")]
    Precondition(String),
    /// A concurrent change won; retrying may succeed.
    #[error("{0}")]
    Conflict(&'static str),
    /// Another service failed the call (routing).
    #[error(transparent)]
    Peer(ServiceError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl RegistryError {
    /// A request field names something the request cannot use.
    pub fn invalid(field: &'static str, why: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            why: why.into(),
        }
    }

    /// The database refused a write on one of the registry's named constraints: the
    /// names the registry's SQL knows are turned into what they mean.
    pub fn from_write(error: sqlx::Error) -> Self {
        use db::sqlstate::{EXCLUSION_VIOLATION, UNIQUE_VIOLATION};
        match db::violated_constraint(&error, UNIQUE_VIOLATION) {
            Some("residents_fiscal_code_unique") => return Self::FiscalCodeTaken,
            Some("residence_change_members_one_open") => {
                return Self::Precondition(
                    "members: a member is already part of a change of residence that is not decided yet"
                        .into(),
                );
            }
            Some("resident_versions_current") => {
                return Self::Conflict("the record changed meanwhile; retry");
            }
            _ => {}
        }
        match db::violated_constraint(&error, EXCLUSION_VIOLATION) {
            Some("resident_versions_one_head") => {
                Self::Precondition("the family would have two heads on the same day".into())
            }
            Some("resident_versions_no_overlap") => {
                Self::Conflict("the record changed meanwhile; retry")
            }
            _ => Self::Db(error),
        }
    }
}

impl From<RegistryError> for ServiceError {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::StreetExists { .. } | RegistryError::FiscalCodeTaken => {
                ServiceError::new(ErrorKind::AlreadyExists, error.to_string())
            }
            RegistryError::NotFound { .. } => {
                ServiceError::new(ErrorKind::NotFound, error.to_string())
            }
            RegistryError::Invalid { field, why } => ServiceError::invalid_field(field, why),
            RegistryError::Precondition(_) => {
                ServiceError::new(ErrorKind::FailedPrecondition, error.to_string())
            }
            RegistryError::Conflict(_) => ServiceError::new(ErrorKind::Aborted, error.to_string()),
            RegistryError::Peer(peer) => peer,
            RegistryError::Db(db) => db.into(),
        }
    }
}

impl From<RegistryError> for tonic::Status {
    fn from(error: RegistryError) -> Self {
        ServiceError::from(error).into()
    }
}
