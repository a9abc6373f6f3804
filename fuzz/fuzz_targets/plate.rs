#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sportello_fuzz::pa::plate(data));
