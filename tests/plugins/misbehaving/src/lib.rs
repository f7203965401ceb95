//! A native library whose plugins panic.

tonearm_plugin_native::export_plugins!(
    tonearm_test_plugins::PANICKY_DECODER,
    tonearm_test_plugins::PANICKY_PROVIDER
);
