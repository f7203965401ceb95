//! The quiet test decoder as a native library of the current plugin API.

tonearm_plugin_native::export_plugins!(tonearm_test_plugins::QUIET_DECODER);
