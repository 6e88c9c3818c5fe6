#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::jwks_parse(data));
