//! Satisfaction feedback (customer satisfaction) on each service.

pub mod domain;
pub mod grpc;
pub mod store;
