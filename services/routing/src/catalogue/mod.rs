//! The service catalogue: service types, service groups (queues and their letters), the
//! seed file, and a per-replica cache the dispatcher reads.

pub mod cache;
pub mod domain;
pub mod grpc;
pub mod seed;
pub mod store;
