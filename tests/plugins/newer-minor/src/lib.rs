//! A native library built for a newer minor plugin API version than the host's.

tonearm_plugin_api::export_plugins!(api_version = "0.2.0"; tonearm_test_plugins::QUIET_DECODER);
