#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::token_response(data));
