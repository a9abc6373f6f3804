//! Permit zones: limited-traffic zones (ZTL) and resident parking, with the streets they
//! cover, the hours their rules apply ([`hours`]), their fees and quota.

pub mod domain;
pub mod grpc;
pub mod hours;
pub mod store;
