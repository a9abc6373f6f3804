#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sportello_fuzz::grpc::suap::grpc_suap(data));
