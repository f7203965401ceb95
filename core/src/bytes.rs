//! Ranged reads of a provider's file, for the tag reader and for playback.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tonearm_plugin_api::{ByteRange, ByteSource, PluginError, PluginResult, StorageProvider};

/// One entry of a storage provider, read in aligned blocks that are fetched on first use
/// and kept, so a reader that seeks about (a tag parser) fetches each byte once.
pub struct ProviderByteSource {
    provider: Arc<dyn StorageProvider>,
    id: String,
    len: u64,
    block_size: u64,
    max_blocks: usize,
    blocks: Mutex<BTreeMap<u64, Block>>,
    fetched: AtomicU64,
    /// The last failure of the provider itself, which a reader's error hides.
    failure: Mutex<Option<PluginError>>,
}

impl ProviderByteSource {
    /// Reads entry `id` of `len` bytes in blocks of `block_size`, keeping at most
    /// `max_blocks` of them.
    pub fn new(
        provider: Arc<dyn StorageProvider>,
        id: &str,
        len: u64,
        block_size: u64,
        max_blocks: usize,
    ) -> Self {
        Self {
            provider,
            id: id.to_owned(),
            len,
            block_size: block_size.max(1),
            max_blocks: max_blocks.max(1),
            blocks: Mutex::new(BTreeMap::new()),
            fetched: AtomicU64::new(0),
            failure: Mutex::new(None),
        }
    }

    /// Bytes fetched from the provider so far.
    pub fn bytes_fetched(&self) -> u64 {
        self.fetched.load(Ordering::Relaxed)
    }

    /// The last error the provider answered a read with. A parser reading through this
    /// source reports its own error; this tells whether the file or the provider failed.
    pub fn provider_failure(&self) -> Option<PluginError> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Fetches blocks `first..=last` in one request.
    fn fetch(&self, first: u64, last: u64) -> PluginResult<()> {
        let offset = first * self.block_size;
        let len = ((last + 1) * self.block_size).min(self.len) - offset;
        let bytes = self
            .provider
            .read_range(&self.id, ByteRange::Span { offset, len })
            .inspect_err(|e| {
                *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(e.clone());
            })?;
        self.fetched
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        if (bytes.len() as u64) < len {
            return Err(PluginError::Corrupt(format!(
                "{} is shorter than the {} bytes the provider listed (changed while reading?)",
                self.id, self.len
            )));
        }
        // The blocks of one fetch share its buffer: nothing is copied until a read.
        let data = Arc::new(bytes);
        let size = self.block_size as usize;
        let mut blocks = self.blocks.lock().unwrap_or_else(PoisonError::into_inner);
        for (i, start) in (0..data.len()).step_by(size).enumerate() {
            let block = Block {
                data: data.clone(),
                start,
                end: (start + size).min(data.len()),
            };
            blocks.insert(first + i as u64, block);
        }
        // Evict the blocks furthest from the ones just read.
        while blocks.len() > self.max_blocks {
            let lowest = blocks.keys().next().copied();
            let highest = blocks.keys().next_back().copied();
            let victim = match (lowest, highest) {
                (Some(lo), Some(hi)) if first.abs_diff(lo) >= first.abs_diff(hi) => lo,
                (_, Some(hi)) => hi,
                _ => break,
            };
            blocks.remove(&victim);
        }
        Ok(())
    }
}

impl ProviderByteSource {
    /// Copies `offset..end` into `buf` if every block of it is cached.
    fn copy_cached(
        blocks: &BTreeMap<u64, Block>,
        block_size: u64,
        offset: u64,
        end: u64,
        buf: &mut [u8],
    ) -> Option<usize> {
        let mut written = 0usize;
        let mut pos = offset;
        while pos < end {
            let index = pos / block_size;
            let block = blocks.get(&index)?.bytes();
            let within = (pos - index * block_size) as usize;
            let n = (block.len() - within).min((end - pos) as usize);
            buf[written..written + n].copy_from_slice(&block[within..within + n]);
            written += n;
            pos += n as u64;
        }
        Some(written)
    }
}

impl ByteSource for ProviderByteSource {
    fn len(&self) -> PluginResult<u64> {
        Ok(self.len)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> PluginResult<usize> {
        if offset >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let end = (offset + buf.len() as u64).min(self.len);
        let (first, last) = (offset / self.block_size, (end - 1) / self.block_size);
        let missing: Vec<u64> = {
            let blocks = self.blocks.lock().unwrap_or_else(PoisonError::into_inner);
            // Parsers make many small reads of what is already here: one lock for those.
            if let Some(n) = Self::copy_cached(&blocks, self.block_size, offset, end, buf) {
                return Ok(n);
            }
            (first..=last).filter(|b| !blocks.contains_key(b)).collect()
        };
        if let (Some(&lo), Some(&hi)) = (missing.first(), missing.last()) {
            self.fetch(lo, hi)?;
        }
        let blocks = self.blocks.lock().unwrap_or_else(PoisonError::into_inner);
        Self::copy_cached(&blocks, self.block_size, offset, end, buf).ok_or_else(|| {
            PluginError::Internal("block evicted while reading; raise max_blocks".into())
        })
    }
}

/// One cached block: a range of the buffer of the fetch that brought it.
#[derive(Clone)]
struct Block {
    data: Arc<Vec<u8>>,
    start: usize,
    end: usize,
}

impl Block {
    fn bytes(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryProvider;

    #[test]
    fn blocks_are_fetched_once_and_reads_are_exact() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let provider = MemoryProvider::new(data.clone());
        let src = ProviderByteSource::new(provider.clone(), "x", 1000, 64, 100);
        let mut buf = vec![0u8; 200];
        assert_eq!(src.read_at(100, &mut buf).unwrap(), 200);
        assert_eq!(buf, data[100..300]);
        assert_eq!(
            provider.requests.load(Ordering::Relaxed),
            1,
            "one coalesced request"
        );
        assert_eq!(src.read_at(150, &mut buf[..50]).unwrap(), 50);
        assert_eq!(
            provider.requests.load(Ordering::Relaxed),
            1,
            "served from cache"
        );
        assert_eq!(src.read_at(990, &mut buf).unwrap(), 10);
        assert_eq!(&buf[..10], &data[990..]);
        assert_eq!(src.bytes_fetched(), 256 + 40, "blocks 1..=4 and block 15");
    }
}
