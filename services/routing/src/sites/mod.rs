//! Sites and their numbered counters.

pub mod domain;
pub mod grpc;
pub mod store;
