//! Byte sources for decoders: local files (ranged provider reads are in the core).

use std::fs::File;
use std::io;
use std::path::Path;

use tonearm_plugin_api::{ByteSource, PluginError, PluginResult};

pub use tonearm_core::bytes::ProviderByteSource;

/// A file on this machine, opened once.
#[derive(Debug)]
pub struct FileByteSource {
    file: File,
    len: u64,
}

impl FileByteSource {
    /// Opens `path`.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(Self { file, len })
    }
}

impl ByteSource for FileByteSource {
    fn len(&self) -> PluginResult<u64> {
        Ok(self.len)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> PluginResult<usize> {
        super::os::read_full_at(&self.file, offset, buf).map_err(|e| PluginError::Io(e.to_string()))
    }
}
