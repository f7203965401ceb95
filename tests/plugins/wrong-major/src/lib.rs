//! A native library built for another major plugin API version.

tonearm_plugin_native::export_plugins!(api_version = "1.0.0"; tonearm_test_plugins::QUIET_DECODER);
