//! Tonearm decoder plugin for Ogg Opus (RFC 7845) on the pure-Rust `opus-pure` decoder;
//! see the README for why that crate.

mod decoder;
mod pages;

use tonearm_plugin_api::{
    FormatClaims, Instantiate, MagicPattern, PluginDescriptor, PluginKind, PluginManifest,
    crate_version,
};

pub use decoder::OpusDecoder;

/// The plugin's id.
pub const ID: &str = "opus";

/// The plugin, for the binary, a native library or a component to export.
pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    manifest,
    instantiate: Instantiate::Decoder(|_| Ok(Box::new(OpusDecoder))),
};

/// The plugin's manifest.
pub fn manifest() -> PluginManifest {
    let mut m = PluginManifest::new(ID, "Opus", crate_version!(), PluginKind::Decoder);
    m.description = "Decodes Ogg Opus (RFC 7845) with the pure-Rust opus-pure decoder".into();
    m.formats = FormatClaims {
        // `.ogg` files holding Opus are found too: Ogg is probed by content.
        extensions: vec!["opus".into()],
        mime_types: vec!["audio/opus".into()],
        // The identification header is alone on the first Ogg page (RFC 7845 §3), so it
        // follows that page's 27-byte header and one-entry segment table: Ogg Vorbis and
        // FLAC in Ogg do not match.
        magic: vec![MagicPattern::new(28, b"OpusHead")],
    };
    // Specialised: on an equal score it beats a general-purpose decoder.
    m.rank = 10;
    m
}
