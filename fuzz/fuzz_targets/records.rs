#![no_main]
//! The browser library's IndexedDB records: decoded, then listed, searched and counted.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tonearm_fuzz::records(data);
});
