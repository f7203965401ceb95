//! {{name}}: a Tonearm decoder for PCM WAV files (integer 8 to 32 bits, float 32 and 64).
//!
//! The shape every plugin crate has: this crate holds the plugin (`ID`, `DESCRIPTOR`,
//! `manifest()`), and `dylib/` and `component/` export it in the other two forms without
//! a line of its logic. Replace the WAV parsing with your format's; keep the shape.

mod header;
mod session;

use std::sync::Arc;

use tonearm_plugin_api::{
    ByteSource, DecodeSession, Decoder, Instantiate, MagicPattern, PluginDescriptor, PluginKind,
    PluginManifest, PluginResult, ProbeHint, crate_version,
};

pub use header::Layout;
pub use session::WavSession;

/// The plugin's id: unique among the plugins a host loads.
pub const ID: &str = "{{id}}";

/// What a host registers, and every form exports.
pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    manifest,
    instantiate: Instantiate::Decoder(|_ctx| Ok(Box::new(WavDecoder))),
};

/// The plugin's manifest: who it is, and what it claims.
pub fn manifest() -> PluginManifest {
    let mut m = PluginManifest::new(ID, "{{name}}", crate_version!(), PluginKind::Decoder);
    m.description = "Decodes PCM WAV files".into();
    m.formats.extensions = vec!["wav".into()];
    m.formats.mime_types = vec!["audio/wav".into(), "audio/x-wav".into()];
    m.formats.magic = vec![MagicPattern::new(8, b"WAVE")];
    m
}

/// The decoder: shared by every decode, so it keeps no state.
pub struct WavDecoder;

impl Decoder for WavDecoder {
    fn probe(&self, head: &[u8], _hint: &ProbeHint) -> PluginResult<u8> {
        let riff = head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WAVE";
        Ok(if riff { 90 } else { 0 })
    }

    fn open(
        &self,
        source: Arc<dyn ByteSource>,
        _hint: &ProbeHint,
    ) -> PluginResult<Box<dyn DecodeSession>> {
        // Read through `source` only: it may be a cloud file fetched as you read.
        let layout = Layout::read(source.as_ref())?;
        Ok(Box::new(WavSession::new(source, layout)))
    }
}
