#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sportello_fuzz::grpc::urp::grpc_urp(data));
