//! A cached track read back: checked whole when opened, then decrypted a segment at a
//! time as the decoder reads.

use std::fs::File;
use std::path::Path;
use std::sync::Mutex;

use tonearm_core::cache::crypt::{CryptError, HEADER, Header, Sealer, TAG};
use tonearm_plugin_api::{ByteSource, PluginError, PluginResult};

/// An encrypted track file as the plain bytes it holds.
pub(super) struct CachedFile {
    file: File,
    sealer: Sealer,
    /// The last segment decrypted: decoders read forwards in small steps.
    last: Mutex<Option<(u64, Vec<u8>)>>,
}

/// Why a cached file cannot be used.
#[derive(Debug, thiserror::Error)]
pub(super) enum OpenError {
    #[error("cannot read it: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Crypt(#[from] CryptError),
    #[error("it is {actual} bytes, not the {expected} its header says")]
    Length { expected: u64, actual: u64 },
}

fn read_exact_at(file: &File, at: u64, buf: &mut [u8]) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, at)
    }
    #[cfg(windows)]
    {
        let mut filled = 0;
        while filled < buf.len() {
            let n = std::os::windows::fs::FileExt::seek_read(
                file,
                &mut buf[filled..],
                at + filled as u64,
            )?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            filled += n;
        }
        Ok(())
    }
}

impl CachedFile {
    /// Opens the file of entry `id` and checks every segment.
    pub(super) fn open(path: &Path, key: &[u8; 32], id: &str) -> Result<Self, OpenError> {
        let file = File::open(path)?;
        let mut head = [0u8; HEADER as usize];
        read_exact_at(&file, 0, &mut head)?;
        let header = Header::decode(&head)?;
        let actual = file.metadata()?.len();
        if actual != header.file_len() {
            return Err(OpenError::Length {
                expected: header.file_len(),
                actual,
            });
        }
        let cached = Self {
            file,
            sealer: Sealer::new(key, header, id),
            last: Mutex::new(None),
        };
        // Checked whole now, so a changed file is fetched again before it plays rather
        // than failing halfway through.
        for i in 0..header.segments() {
            cached.segment(i)?;
        }
        Ok(cached)
    }

    fn segment(&self, i: u64) -> Result<Vec<u8>, OpenError> {
        let header = self.sealer.header();
        let mut sealed = vec![0u8; (header.plain_len(i) + TAG) as usize];
        read_exact_at(&self.file, header.offset(i), &mut sealed)?;
        Ok(self.sealer.open(i, &sealed)?)
    }
}

impl ByteSource for CachedFile {
    fn len(&self) -> PluginResult<u64> {
        Ok(self.sealer.header().length)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> PluginResult<usize> {
        let header = *self.sealer.header();
        if offset >= header.length || buf.is_empty() {
            return Ok(0);
        }
        let segment_len = u64::from(header.segment);
        let i = offset / segment_len;
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.as_ref().is_none_or(|(j, _)| *j != i) {
            let plain = self
                .segment(i)
                .map_err(|e| PluginError::Corrupt(format!("the cached copy: {e}")))?;
            *last = Some((i, plain));
        }
        let Some((_, plain)) = last.as_ref() else {
            return Ok(0);
        };
        let from = (offset - i * segment_len) as usize;
        let n = (plain.len() - from).min(buf.len());
        buf[..n].copy_from_slice(&plain[from..from + n]);
        Ok(n)
    }
}
