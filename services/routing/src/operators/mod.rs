//! Operators: profile (tier, skills, department), seat, and presence.

pub mod domain;
pub mod grpc;
pub mod presence;
pub mod store;
