//! Helpers for Sportello's end-to-end tests: the whole stack started in-process against
//! the private PostgreSQL and NATS of `make test`, and a gRPC client that knows nothing
//! but what reflection tells it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod canary;
pub mod chaos;
pub mod dynamic;
pub mod http;
pub mod oidc;
pub mod stack;
