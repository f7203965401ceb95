//! The capabilities the host hands a plugin: plugins describe, the host does the I/O.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{PluginError, PluginResult};

/// Random-access bytes of one file: a local file, a buffer, a cache or ranged HTTP reads.
pub trait ByteSource: Send + Sync {
    /// The total length in bytes.
    fn len(&self) -> PluginResult<u64>;

    /// Reads up to `buf.len()` bytes at `offset`; fewer only at the end of the source.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> PluginResult<usize>;

    /// Whether the source holds no bytes.
    fn is_empty(&self) -> PluginResult<bool> {
        Ok(self.len()? == 0)
    }
}

/// A [`ByteSource`] over bytes in memory.
#[derive(Debug, Clone, Default)]
pub struct MemoryByteSource(pub Arc<[u8]>);

impl MemoryByteSource {
    /// Wraps a buffer.
    pub fn new(bytes: impl Into<Arc<[u8]>>) -> Self {
        Self(bytes.into())
    }
}

impl ByteSource for MemoryByteSource {
    fn len(&self) -> PluginResult<u64> {
        Ok(self.0.len() as u64)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> PluginResult<usize> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.0.len());
        let n = buf.len().min(self.0.len() - start);
        buf[..n].copy_from_slice(&self.0[start..start + n]);
        Ok(n)
    }
}

/// A `std::io` cursor over a [`ByteSource`], for parsers that want `Read + Seek`.
pub struct ByteSourceReader {
    source: Arc<dyn ByteSource>,
    len: u64,
    pos: u64,
}

impl ByteSourceReader {
    /// A cursor at the start of `source`.
    pub fn new(source: Arc<dyn ByteSource>) -> PluginResult<Self> {
        let len = source.len()?;
        Ok(Self {
            source,
            len,
            pos: 0,
        })
    }

    /// The source's length.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the source is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl std::io::Read for ByteSourceReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.len || buf.is_empty() {
            return Ok(0);
        }
        // The plugin error travels inside the io::Error so callers can recover it.
        let n = self
            .source
            .read_at(self.pos, buf)
            .map_err(std::io::Error::other)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl std::io::Seek for ByteSourceReader {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        use std::io::SeekFrom;
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target.ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before the start of the source",
            )
        })?;
        Ok(self.pos)
    }
}

/// What a directory entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// Anything else (a symlink, a socket, …); plugins skip these.
    Other,
}

/// Size, time and identity of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStat {
    /// Size in bytes.
    pub size: u64,
    /// Last modification, in milliseconds since the Unix epoch.
    pub modified_ms: i64,
    /// An identity that survives renames within one filesystem (device and inode), when the
    /// platform has one.
    pub file_id: Option<u64>,
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirEntry {
    /// The entry's file name (one path component).
    pub name: String,
    /// What it is.
    pub kind: EntryKind,
    /// Its size, time and identity.
    pub stat: FileStat,
}

/// Read access to one folder the user granted; paths are relative, `/`-separated, and
/// `""` is the granted root itself. The host refuses any path that leaves the root.
pub trait FileSystem: Send + Sync {
    /// Lists a directory.
    fn read_dir(&self, path: &str) -> PluginResult<Vec<DirEntry>>;

    /// Describes one file.
    fn stat(&self, path: &str) -> PluginResult<FileStat>;

    /// Reads up to `buf.len()` bytes of a file at `offset`; fewer only at its end.
    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> PluginResult<usize>;
}

/// An HTTP request a plugin asks the host to send.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HttpRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The absolute URL.
    pub url: String,
    /// Request headers; the host adds authorization itself.
    pub headers: Vec<(String, String)>,
    /// The body, empty for none.
    pub body: Vec<u8>,
}

/// The host's answer to an [`HttpRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Response headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header named `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends HTTP requests on a plugin's behalf, only to hosts its manifest declares.
pub trait HttpClient: Send + Sync {
    /// Sends one request; the host retries, authorizes, rate-limits and traces it.
    fn send(&self, request: HttpRequest) -> PluginResult<HttpResponse>;
}

/// How important a log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    /// Very detailed.
    Trace,
    /// For developers.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that the plugin worked around.
    Warn,
    /// Something failed.
    Error,
}

/// Routes a plugin's log lines into the host's logs.
pub trait Log: Send + Sync {
    /// Records one line.
    fn log(&self, level: LogLevel, message: &str);
}

/// The host's wall clock.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_unix_ms(&self) -> i64;
}

/// A small persistent key-value store, private to one plugin instance.
pub trait KeyValueStore: Send + Sync {
    /// The value under `key`, if any.
    fn get(&self, key: &str) -> PluginResult<Option<Vec<u8>>>;
    /// Stores `value` under `key`, durably, replacing any old value.
    fn put(&self, key: &str, value: &[u8]) -> PluginResult<()>;
    /// Removes `key` if present.
    fn delete(&self, key: &str) -> PluginResult<()>;
    /// All keys that start with `prefix`.
    fn keys(&self, prefix: &str) -> PluginResult<Vec<String>>;
}

/// Everything a plugin instance may use, handed over when it is created.
#[derive(Clone)]
pub struct HostContext {
    /// Where log lines go.
    pub log: Arc<dyn Log>,
    /// The wall clock.
    pub clock: Arc<dyn Clock>,
    /// The granted folder, if the plugin asked for one and the user granted it.
    pub fs: Option<Arc<dyn FileSystem>>,
    /// HTTP, if the plugin declared hosts.
    pub http: Option<Arc<dyn HttpClient>>,
    /// Persistent state, if the plugin asked for it.
    pub state: Option<Arc<dyn KeyValueStore>>,
    /// Per-instance settings (for a storage provider: the source's settings).
    pub settings: BTreeMap<String, String>,
}

impl HostContext {
    /// A context with only a log and a clock; grant more with the `with_*` methods.
    pub fn new(log: Arc<dyn Log>, clock: Arc<dyn Clock>) -> Self {
        Self {
            log,
            clock,
            fs: None,
            http: None,
            state: None,
            settings: BTreeMap::new(),
        }
    }

    /// Grants a folder.
    pub fn with_fs(mut self, fs: Arc<dyn FileSystem>) -> Self {
        self.fs = Some(fs);
        self
    }

    /// Grants HTTP.
    pub fn with_http(mut self, http: Arc<dyn HttpClient>) -> Self {
        self.http = Some(http);
        self
    }

    /// Grants a state store.
    pub fn with_state(mut self, state: Arc<dyn KeyValueStore>) -> Self {
        self.state = Some(state);
        self
    }

    /// Sets one setting.
    pub fn with_setting(mut self, key: &str, value: &str) -> Self {
        self.settings.insert(key.to_owned(), value.to_owned());
        self
    }

    /// The whole-number setting `key`, `default` when unset, or an error naming the range
    /// when it is not a number in `range`.
    pub fn number_setting(
        &self,
        key: &str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> PluginResult<u64> {
        match self.settings.get(key) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| {
                    PluginError::Invalid(format!(
                        "{key} must be a whole number from {} to {}, not {v:?}",
                        range.start(),
                        range.end()
                    ))
                }),
        }
    }

    /// The granted folder, or an error saying it was not granted.
    pub fn require_fs(&self) -> PluginResult<Arc<dyn FileSystem>> {
        self.fs.clone().ok_or_else(|| not_granted("filesystem"))
    }

    /// HTTP, or an error saying it was not granted.
    pub fn require_http(&self) -> PluginResult<Arc<dyn HttpClient>> {
        self.http.clone().ok_or_else(|| not_granted("HTTP"))
    }

    /// The state store, or an error saying it was not granted.
    pub fn require_state(&self) -> PluginResult<Arc<dyn KeyValueStore>> {
        self.state.clone().ok_or_else(|| not_granted("state store"))
    }
}

fn not_granted(what: &str) -> PluginError {
    PluginError::Unsupported(format!("the host did not grant the {what} capability"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_source_reads_are_clamped_at_the_end() {
        let src = MemoryByteSource::new(b"abcdef".to_vec());
        let mut buf = [0u8; 4];
        assert_eq!(src.read_at(4, &mut buf).unwrap(), 2);
        assert_eq!(&buf[..2], b"ef");
        assert_eq!(src.read_at(6, &mut buf).unwrap(), 0);
        assert_eq!(src.read_at(u64::MAX, &mut buf).unwrap(), 0);
        assert_eq!(src.len().unwrap(), 6);
    }

    #[test]
    fn reader_reads_and_seeks() {
        use std::io::{Read, Seek, SeekFrom};
        let mut r =
            ByteSourceReader::new(Arc::new(MemoryByteSource::new(b"0123456789".to_vec()))).unwrap();
        let mut buf = [0u8; 3];
        r.seek(SeekFrom::End(-4)).unwrap();
        r.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"678");
        assert!(r.seek(SeekFrom::Current(-100)).is_err());
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"9");
    }

    #[test]
    fn header_lookup_ignores_case() {
        let r = HttpResponse {
            status: 200,
            headers: vec![("Retry-After".into(), "3".into())],
            body: vec![],
        };
        assert_eq!(r.header("retry-after"), Some("3"));
        assert_eq!(r.header("etag"), None);
    }
}
