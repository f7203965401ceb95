//! Byte sources for decoders: local files (ranged provider reads are in the core).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
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
        let mut filled = 0;
        while filled < buf.len() {
            match self
                .file
                .read_at(&mut buf[filled..], offset + filled as u64)
            {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(PluginError::Io(e.to_string())),
            }
        }
        Ok(filled)
    }
}
