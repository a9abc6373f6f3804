//! Sites and their numbered counters.

pub mod cache;
pub mod domain;
pub mod grpc;
pub mod store;
