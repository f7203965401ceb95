//! {{name}} as a native library: the same implementation, exported over the FFI.

tonearm_plugin_native::export_plugins!({{crate_ident}}::DESCRIPTOR);
