//! Wasm components built into this binary (see `host/build.rs`), so that the default
//! `tonearm` ships its sandboxed plugins without any file to install.

/// A wasm component embedded in this binary.
#[derive(Debug)]
pub struct BundledComponent {
    /// The plugin's file name, without extension.
    pub name: &'static str,
    /// The SHA-256 of `bytes` in hex, computed at build time: the compile cache's key.
    pub sha256: &'static str,
    /// The component.
    pub bytes: &'static [u8],
}

/// The components this build embeds (cargo features `bundle-*`).
pub static BUNDLED: &[BundledComponent] = include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
