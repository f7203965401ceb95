#![no_main]
//! A provider component's answers as WIT values: converted as the loader converts them,
//! then synced into a library.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tonearm_fuzz::provider_answers(data);
});
