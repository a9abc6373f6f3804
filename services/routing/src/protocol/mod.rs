//! The protocol register (registro di protocollo): numbers gapless per municipality and
//! year, immutable entries, voiding with a reason, the day's register as CSV.

pub mod csv;
pub mod domain;
pub mod grpc;
pub use sportello_kit::sealed;
pub mod store;
