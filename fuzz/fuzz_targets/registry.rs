#![no_main]
//! The plugin index: envelopes from raw bytes, and signed version lines checked and resolved.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tonearm_fuzz::registry(data);
});
