//! A wasm component that asks for a host its manifest does not declare (build with --target wasm32-wasip2).

tonearm_plugin_component::export_component!(tonearm_test_plugins::NOSY_PROVIDER);
