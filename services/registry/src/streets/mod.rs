//! The street gazetteer (stradario).

pub mod domain;
pub mod grpc;
pub mod store;
