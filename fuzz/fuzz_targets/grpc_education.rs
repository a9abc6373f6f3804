#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sportello_fuzz::grpc::education::grpc_education(data));
