//! The registry's domain types, parsed once at the gRPC edge: ids, statuses,
//! relationships, citizenship, house numbers and days.

pub mod country;
pub mod day;
pub mod ids;
pub mod person;

pub use country::Citizenship;
pub use day::{Day, parse_day};
pub use ids::{CertificateId, FamilyId, ResidenceChangeId, ResidentId};
pub use person::{HouseNumber, Relationship, ResidentStatus, sex_from_proto, sex_to_proto};
