//! The businesses that file applications with the SUAP: `domain` parses a request,
//! `flow` owns a change's unit of work, `store` holds the SQL, `grpc` the tonic service.

pub mod domain;
pub mod flow;
pub mod grpc;
pub mod store;
