#![no_main]
//! The host's tag reader (lofty, Symphonia's salvage, then the decoders) on any file.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tonearm_fuzz::tags(data));
