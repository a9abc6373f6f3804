//! The back office (tier 4): work departments hand over through NATS (`WorkRequested`,
//! `WorkUpdated`) or a counter escalates, on the statutory clock.
//!
//! - [`domain`]: the request and the item, parsed and checked at the edge;
//! - [`store`]: the SQL (the pick: due date, then continuity, then arrival);
//! - [`flow`]: the units of work — take a request, offer, accept, decline, lapse, widen,
//!   escalate on the clock, complete, escalate from the counter;
//! - [`consumer`]: the durable inbox of each department's requests;
//! - [`timers`]: offers that lapse, searches that widen, escalation steps;
//! - [`gauges`]: the items each department holds, by state, for Prometheus;
//! - [`grpc`]: the `BackOfficeService`.

pub mod consumer;
pub mod domain;
pub mod flow;
pub mod gauges;
pub mod grpc;
pub mod index;
pub mod store;
pub mod timers;
