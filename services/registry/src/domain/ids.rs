//! Record ids: UUIDs on the wire, one type per kind of record so they cannot be mixed up.

use std::{fmt, str::FromStr};

use sportello_kit::ServiceError;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, sqlx::Type)]
        #[sqlx(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new id (UUID v7: sorts by creation time).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Parses the request field `field`.
            pub fn parse(field: &str, raw: &str) -> Result<Self, ServiceError> {
                raw.trim()
                    .parse()
                    .map_err(|_| ServiceError::invalid_field(field, "must be a record id (UUID)"))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A person's record.
    ResidentId
);
id_type!(
    /// A family record.
    FamilyId
);
id_type!(
    /// An issued certificate.
    CertificateId
);
id_type!(
    /// A change of residence.
    ResidenceChangeId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_and_name_the_field() {
        let id = ResidentId::new();
        assert_eq!(
            ResidentId::parse("resident_id", &id.to_string()).unwrap(),
            id
        );
        let error = FamilyId::parse("family_id", "not-a-uuid").unwrap_err();
        assert_eq!(error.violations()[0].field, "family_id");
    }
}
