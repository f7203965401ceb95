#![no_main]
//! The Symphonia plugin on a `.flac` file.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    static DECODER: std::sync::LazyLock<Box<dyn tonearm_plugin_api::Decoder>> =
        std::sync::LazyLock::new(tonearm_fuzz::symphonia);
    tonearm_fuzz::decode(DECODER.as_ref(), "flac", data);
});
