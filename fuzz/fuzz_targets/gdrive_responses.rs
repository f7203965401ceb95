#![no_main]
//! The Google Drive plugin reading whatever its service answers.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tonearm_fuzz::provider(&tonearm_plugin_gdrive::DESCRIPTOR, data);
});
