//! Plugins for tests of code that holds plugins (the registry, decoder choice).

use std::sync::Arc;

use tonearm_plugin_api::{
    ByteSource, DecodeSession, Decoder, PluginError, PluginKind, PluginManifest, PluginResult,
    ProbeHint, crate_version,
};

use crate::plugin::{LoadedPlugin, Origin, PluginHandle};

/// A decoder that probes every input at a fixed score and decodes nothing.
pub struct FixedScore(pub u8);

impl Decoder for FixedScore {
    fn probe(&self, _: &[u8], _: &ProbeHint) -> u8 {
        self.0
    }
    fn open(&self, _: Arc<dyn ByteSource>, _: &ProbeHint) -> PluginResult<Box<dyn DecodeSession>> {
        Err(PluginError::Unsupported("a test decoder".into()))
    }
}

/// A loadable [`FixedScore`] decoder claiming `.flac`.
pub fn fixed_score_decoder(id: &str, score: u8, rank: i32) -> LoadedPlugin {
    let mut manifest = PluginManifest::new(id, id, crate_version!(), PluginKind::Decoder);
    manifest.rank = rank;
    manifest.formats.extensions = vec!["flac".into()];
    LoadedPlugin {
        manifest,
        origin: Origin::Builtin,
        handle: PluginHandle::Decoder(Arc::new(FixedScore(score))),
    }
}
