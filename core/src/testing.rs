//! Plugins for tests of code that holds plugins (the registry, decoder choice, tag reads).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tonearm_plugin_api::{
    ByteRange, ByteSource, ChangePage, DecodeSession, Decoder, ListPage, PluginError, PluginKind,
    PluginManifest, PluginResult, ProbeHint, StorageProvider, crate_version,
};

use crate::plugin::{LoadedPlugin, Origin, PluginHandle};

/// A decoder that probes every input at a fixed score and decodes nothing.
pub struct FixedScore(pub u8);

impl Decoder for FixedScore {
    fn probe(&self, _: &[u8], _: &ProbeHint) -> PluginResult<u8> {
        Ok(self.0)
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

/// Serves one buffer under any id, counting requests and bytes served.
pub struct MemoryProvider {
    bytes: Vec<u8>,
    /// Requests answered.
    pub requests: AtomicU64,
    /// Bytes served.
    pub served: AtomicU64,
}

impl MemoryProvider {
    /// Serves `bytes`.
    pub fn new(bytes: Vec<u8>) -> Arc<Self> {
        Arc::new(Self {
            bytes,
            requests: AtomicU64::new(0),
            served: AtomicU64::new(0),
        })
    }
}

impl StorageProvider for MemoryProvider {
    fn change_cursor(&self) -> PluginResult<String> {
        Ok(String::new())
    }
    fn list(&self, _: Option<&str>) -> PluginResult<ListPage> {
        Ok(ListPage::default())
    }
    fn changes(&self, _: &str) -> PluginResult<ChangePage> {
        Ok(ChangePage::default())
    }
    fn read_range(&self, _: &str, range: ByteRange) -> PluginResult<Vec<u8>> {
        let len = self.bytes.len() as u64;
        let (offset, want) = match range {
            ByteRange::Span { offset, len } => (offset, len),
            ByteRange::Suffix { len: n } => (len.saturating_sub(n), n),
        };
        let start = offset.min(len) as usize;
        let end = offset.saturating_add(want).min(len) as usize;
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.served
            .fetch_add((end - start) as u64, Ordering::Relaxed);
        Ok(self.bytes[start..end].to_vec())
    }
}
