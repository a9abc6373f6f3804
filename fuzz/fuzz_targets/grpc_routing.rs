#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sportello_fuzz::grpc::routing::grpc_routing(data));
