//! A native library built for an older minor plugin API version, which hosts accept.

tonearm_plugin_api::export_plugins!(api_version = "0.0.5"; tonearm_test_plugins::QUIET_DECODER);
