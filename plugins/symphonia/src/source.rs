//! Presents a host [`ByteSource`] to Symphonia as a seekable media source.

use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;

use symphonia::core::io::MediaSource;
use tonearm_plugin_api::{ByteSource, ByteSourceReader, PluginResult};

/// A [`ByteSourceReader`] that Symphonia accepts.
pub(crate) struct SourceReader(ByteSourceReader);

impl SourceReader {
    pub(crate) fn new(source: Arc<dyn ByteSource>) -> PluginResult<Self> {
        ByteSourceReader::new(source).map(Self)
    }
}

impl Read for SourceReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Seek for SourceReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.0.seek(to)
    }
}

impl MediaSource for SourceReader {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.0.len())
    }
}
