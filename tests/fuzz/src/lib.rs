//! The bodies of Sportello's fuzz targets: everything that parses untrusted input, as
//! plain functions of the input's bytes.
//!
//! * [`pa`]: sportello-pa's parsers (fiscal codes, plates, notice numbers, VAT numbers,
//!   Belfiore codes), with round-trip properties;
//! * [`http`]: the gateway's JSON request bodies through its own extractor and checks;
//! * [`grpc`]: protobuf requests to each service's public RPCs through its parse at the
//!   edge.
//!
//! Two callers: the cargo-fuzz package in `fuzz/` (outside the workspace: libFuzzer and
//! nightly flags) runs each under the fuzzer, and `tests/replay.rs` replays the committed
//! corpus and regressions through [`TARGETS`] in every `make test`, without either.
//!
//! A target reports a finding by panicking (an assertion): that is what libFuzzer catches.
#![allow(clippy::panic)]

pub mod grpc;
pub mod http;
pub mod pa;

/// A target: the input's bytes in, a panic out when it finds something.
pub type Target = fn(&[u8]);

/// Every target by its name: the name of its `fuzz/fuzz_targets/<name>.rs` and of its
/// directories under `fuzz/corpus/` and `fuzz/regressions/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("fiscal_code", pa::fiscal_code),
    ("plate", pa::plate),
    ("notice_number", pa::notice_number),
    ("vat", pa::vat),
    ("belfiore", pa::belfiore),
    ("http_body", http::http_body),
    ("grpc_routing", grpc::routing::grpc_routing),
    ("grpc_registry", grpc::registry::grpc_registry),
    ("grpc_education", grpc::education::grpc_education),
    ("grpc_suap", grpc::suap::grpc_suap),
    ("grpc_mobility", grpc::mobility::grpc_mobility),
    ("grpc_urp", grpc::urp::grpc_urp),
];
