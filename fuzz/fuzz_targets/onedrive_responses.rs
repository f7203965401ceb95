#![no_main]
//! The OneDrive plugin reading whatever Microsoft Graph answers.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tonearm_fuzz::provider(&tonearm_plugin_onedrive::DESCRIPTOR, data);
});
