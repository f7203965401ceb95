//! A native library built for a newer minor plugin API version than the host's.

tonearm_plugin_native::export_plugins!(api_version = "0.4.0"; tonearm_test_plugins::QUIET_DECODER);
