//! Wasm components built into this binary (see `host/build.rs`), so that the default
//! `tonearm` ships its sandboxed plugins without any file to install.

use tonearm_loader::BundledComponent;

/// The components this build embeds (cargo features `bundle-*`).
pub static BUNDLED: &[BundledComponent] = include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
