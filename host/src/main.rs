//! The `tonearm` command: scan, sync, browse and decode a music library.

mod cli;

use std::process::ExitCode;

// The binary is the crate linked last, so it chooses the builtin plugins (see
// `tonearm_plugin_api::registration` for why plugin crates never register themselves).
#[cfg(feature = "plugin-local")]
tonearm_plugin_api::register_builtin!(tonearm_plugin_local::DESCRIPTOR);
#[cfg(feature = "plugin-symphonia")]
tonearm_plugin_api::register_builtin!(tonearm_plugin_symphonia::DESCRIPTOR);
#[cfg(feature = "plugin-gdrive")]
tonearm_plugin_api::register_builtin!(tonearm_plugin_gdrive::DESCRIPTOR);
#[cfg(feature = "plugin-onedrive")]
tonearm_plugin_api::register_builtin!(tonearm_plugin_onedrive::DESCRIPTOR);

fn main() -> ExitCode {
    cli::main()
}
