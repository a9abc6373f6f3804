//! Schools and nurseries.

pub mod domain;
pub mod grpc;
pub mod store;
