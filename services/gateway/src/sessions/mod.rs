//! Operator sessions, and their revocation by identity systems.

pub mod grpc;
pub mod store;
