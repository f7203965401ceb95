//! {{name}} as a wasm component: the same implementation, behind the WIT contract.

tonearm_plugin_component::export_component!({{crate_ident}}::DESCRIPTOR);
