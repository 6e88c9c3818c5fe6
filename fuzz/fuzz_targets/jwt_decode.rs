#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::jwt_decode(data));
