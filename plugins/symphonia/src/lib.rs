//! Tonearm decoder plugin built on [Symphonia]: MP3, FLAC, Ogg Vorbis, AAC and ALAC in
//! MP4/M4A, WAV and AIFF, each behind its own cargo feature.
//!
//! [Symphonia]: https://github.com/pdeljanov/Symphonia

mod decoder;
mod error;
mod mp4;
mod probe;
mod session;
mod source;

use tonearm_plugin_api::{
    FormatClaims, Instantiate, PluginDescriptor, PluginKind, PluginManifest, crate_version,
};

pub use decoder::SymphoniaDecoder;

/// The plugin's id.
pub const ID: &str = "symphonia";

/// What the `tonearm` binary or the web bundle links in to build this plugin in.
pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    manifest,
    instantiate: Instantiate::Decoder(|_ctx| Ok(Box::new(SymphoniaDecoder::new()))),
};

/// The plugin's manifest: the formats compiled in, with their extensions, MIME types and
/// magic bytes.
pub fn manifest() -> PluginManifest {
    let mut m = PluginManifest::new(ID, "Symphonia", crate_version!(), PluginKind::Decoder);
    m.description =
        "Decodes MP3, FLAC, Ogg Vorbis, AAC/ALAC (MP4) and WAV/AIFF with Symphonia".into();
    let mut formats = FormatClaims::default();
    for format in probe::enabled_formats() {
        formats
            .extensions
            .extend(format.extensions.iter().map(|e| e.to_string()));
        formats
            .mime_types
            .extend(format.mime_types.iter().map(|e| e.to_string()));
        formats.magic.extend(
            format
                .magic
                .iter()
                .map(|(off, bytes)| tonearm_plugin_api::MagicPattern::new(*off, bytes)),
        );
    }
    formats.extensions.dedup();
    m.formats = formats;
    // A general-purpose decoder: specialised plugins outrank it on equal scores.
    m.rank = 0;
    m
}
