//! The camera whitelist: was this plate authorised in this zone at this instant, and
//! under which permit? One pure rule ([`decision`]) answers from the memory
//! ([`memory`], kept current by [`follow`]) for now, and from the history ([`store`])
//! for a transit weeks past; [`export`] writes a day's whitelist as CSV; [`grpc`] serves
//! both.

pub mod decision;
pub mod export;
pub mod follow;
pub mod grpc;
pub mod memory;
pub mod store;
