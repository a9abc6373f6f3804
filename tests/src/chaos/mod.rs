//! The fault-injection suite's parts (`make chaos`; a short version in `make test`): the
//! real binaries started with their own PostgreSQL and NATS, a mixed load of real
//! journeys, the faults, and the oracle that reads every service's committed state.

pub mod bookings;
pub mod client;
pub mod faults;
pub mod load;
pub mod malformed;
pub mod oracle;
pub mod proxy;
pub mod report;
pub mod stack;
