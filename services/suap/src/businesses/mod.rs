//! The businesses that file applications with the SUAP.

pub mod domain;
pub mod grpc;
pub mod store;
