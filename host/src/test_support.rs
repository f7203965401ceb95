//! Fakes shared by the host's unit tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tonearm_plugin_api::{ByteRange, ChangePage, ListPage, PluginResult, StorageProvider};

/// Serves one buffer under any id, counting requests and bytes served.
pub struct MemoryProvider {
    bytes: Vec<u8>,
    pub requests: AtomicU64,
    pub served: AtomicU64,
}

impl MemoryProvider {
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

pub use tonearm_core::testing::fixed_score_decoder;
