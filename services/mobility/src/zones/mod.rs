//! Permit zones: limited-traffic zones (ZTL) and resident parking.

pub mod domain;
pub mod grpc;
pub mod store;
