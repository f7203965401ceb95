//! A wasm component that loops forever, sleeps, hoards memory or panics on cue (build with --target wasm32-wasip2).

tonearm_plugin_component::export_component!(tonearm_test_plugins::MISBEHAVING_DECODER);
