//! Sportello's contract: the gRPC services and the event messages of every service,
//! generated from the `.proto` files beside this crate.
//!
//! Use the short paths: `sportello_proto::registry::v1::StreetService…`,
//! `sportello_proto::common::v1::EventEnvelope`.

#![allow(missing_docs, unreachable_pub, missing_debug_implementations, clippy::all)]

include!(concat!(env!("OUT_DIR"), "/_includes.rs"));

pub use sportello::{common, education, gateway, mobility, registry, routing, suap, urp};

/// The encoded `FileDescriptorSet` of every Sportello proto, for gRPC reflection and for
/// clients that decode messages dynamically.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/sportello_descriptor.bin"));
