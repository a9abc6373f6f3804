//! Satisfaction (customer satisfaction) tied to cases: every case completed in person,
//! learnt from routing's events ([`cases`]), is rateable once for 30 days under a rating
//! code; a rating names the service, the site and the tier, never the operator. Ratings
//! of a service without a case are still taken. The manager's report puts them next to
//! the cases' waits, handling times and outcomes.
//!
//! `grpc` parses and checks who asks → `flow` (the units of work) → `store` (SQL).

pub mod cases;
pub mod domain;
pub mod flow;
pub mod grpc;
pub mod store;
