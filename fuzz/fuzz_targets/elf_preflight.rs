#![no_main]
//! The checks on a native library file before the platform loader maps it.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tonearm_fuzz::elf(data));
