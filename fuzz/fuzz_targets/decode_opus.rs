#![no_main]
//! The Opus plugin on an `.opus` file.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    static DECODER: std::sync::LazyLock<Box<dyn tonearm_plugin_api::Decoder>> =
        std::sync::LazyLock::new(tonearm_fuzz::opus);
    tonearm_fuzz::decode(DECODER.as_ref(), "opus", data);
});
