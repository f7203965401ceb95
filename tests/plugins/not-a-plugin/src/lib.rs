//! A shared library that is not a Tonearm plugin.

/// An ordinary exported function, so the library is not empty.
#[unsafe(no_mangle)]
pub extern "C" fn tonearm_test_not_a_plugin() -> u32 {
    42
}
