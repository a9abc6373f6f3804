//! Residents and families: registration, lookups (audited), history, status changes.

pub mod domain;
pub mod grpc;
pub mod message;
pub mod store;
