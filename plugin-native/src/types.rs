//! FFI-safe mirrors of the contract's data, with conversions both ways.

use std::time::Duration;

use abi_stable::StableAbi;
use abi_stable::std_types::{RNone, ROption, RSome, RString, RVec};

use tonearm_plugin_api::decoder::{ProbeHint, StreamSpec};
use tonearm_plugin_api::error::PluginError;
use tonearm_plugin_api::host::{DirEntry, EntryKind, FileStat, HttpRequest, HttpResponse};
use tonearm_plugin_api::metadata::Artwork;
use tonearm_plugin_api::storage::{
    ByteRange, Change, ChangePage, ContentHash, ListPage, RemoteEntry,
};

fn ropt<T, U: From<T>>(o: Option<T>) -> ROption<U> {
    match o {
        Some(v) => RSome(v.into()),
        None => RNone,
    }
}

fn opt<T, U: From<T>>(o: ROption<T>) -> Option<U> {
    o.into_option().map(Into::into)
}

/// The kind of a [`FfiError`].
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FfiErrorKind {
    /// [`PluginError::NotFound`].
    NotFound,
    /// [`PluginError::Unauthorized`].
    Unauthorized,
    /// [`PluginError::RateLimited`].
    RateLimited,
    /// [`PluginError::Transient`].
    Transient,
    /// [`PluginError::CursorExpired`].
    CursorExpired,
    /// [`PluginError::Unsupported`].
    Unsupported,
    /// [`PluginError::Invalid`].
    Invalid,
    /// [`PluginError::Corrupt`].
    Corrupt,
    /// [`PluginError::Io`].
    Io,
    /// [`PluginError::Internal`].
    Internal,
}

/// [`PluginError`] across the boundary.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct FfiError {
    /// The kind.
    pub kind: FfiErrorKind,
    /// The detail text.
    pub detail: RString,
    /// For `RateLimited`: the wait in milliseconds, if stated.
    pub retry_after_ms: ROption<u64>,
}

impl From<PluginError> for FfiError {
    fn from(e: PluginError) -> Self {
        use FfiErrorKind as K;
        let (kind, detail, retry) = match e {
            PluginError::NotFound(d) => (K::NotFound, d, None),
            PluginError::Unauthorized(d) => (K::Unauthorized, d, None),
            PluginError::RateLimited { retry_after } => (
                K::RateLimited,
                String::new(),
                retry_after.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            ),
            PluginError::Transient(d) => (K::Transient, d, None),
            PluginError::CursorExpired(d) => (K::CursorExpired, d, None),
            PluginError::Unsupported(d) => (K::Unsupported, d, None),
            PluginError::Invalid(d) => (K::Invalid, d, None),
            PluginError::Corrupt(d) => (K::Corrupt, d, None),
            PluginError::Io(d) => (K::Io, d, None),
            PluginError::Internal(d) => (K::Internal, d, None),
        };
        Self {
            kind,
            detail: detail.into(),
            retry_after_ms: ropt(retry),
        }
    }
}

impl From<FfiError> for PluginError {
    fn from(e: FfiError) -> Self {
        use FfiErrorKind as K;
        let d = e.detail.into_string();
        match e.kind {
            K::NotFound => Self::NotFound(d),
            K::Unauthorized => Self::Unauthorized(d),
            K::RateLimited => Self::RateLimited {
                retry_after: e.retry_after_ms.into_option().map(Duration::from_millis),
            },
            K::Transient => Self::Transient(d),
            K::CursorExpired => Self::CursorExpired(d),
            K::Unsupported => Self::Unsupported(d),
            K::Invalid => Self::Invalid(d),
            K::Corrupt => Self::Corrupt(d),
            K::Io => Self::Io(d),
            K::Internal => Self::Internal(d),
        }
    }
}

/// [`ProbeHint`] across the boundary.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Default)]
pub struct FfiProbeHint {
    /// The extension.
    pub extension: ROption<RString>,
    /// The MIME type.
    pub mime: ROption<RString>,
}

impl From<&ProbeHint> for FfiProbeHint {
    fn from(h: &ProbeHint) -> Self {
        Self {
            extension: ropt(h.extension.clone()),
            mime: ropt(h.mime.clone()),
        }
    }
}

impl From<&FfiProbeHint> for ProbeHint {
    fn from(h: &FfiProbeHint) -> Self {
        Self {
            extension: opt(h.extension.clone()),
            mime: opt(h.mime.clone()),
        }
    }
}

/// [`StreamSpec`] across the boundary.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FfiStreamSpec {
    /// Frames per second.
    pub sample_rate: u32,
    /// Channels.
    pub channels: u16,
    /// Total frames, if known.
    pub total_frames: ROption<u64>,
    /// Codec name.
    pub codec: RString,
    /// Bits per sample, for lossless formats.
    pub bits_per_sample: ROption<u32>,
}

impl From<StreamSpec> for FfiStreamSpec {
    fn from(s: StreamSpec) -> Self {
        Self {
            sample_rate: s.sample_rate,
            channels: s.channels,
            total_frames: ropt(s.total_frames),
            codec: s.codec.into(),
            bits_per_sample: ropt(s.bits_per_sample),
        }
    }
}

impl From<FfiStreamSpec> for StreamSpec {
    fn from(s: FfiStreamSpec) -> Self {
        Self {
            sample_rate: s.sample_rate,
            channels: s.channels,
            total_frames: opt(s.total_frames),
            codec: s.codec.into_string(),
            bits_per_sample: opt(s.bits_per_sample),
        }
    }
}

/// The outcome of one [`FfiDecodeSession::read`](super::traits::FfiDecodeSession::read).
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub struct FfiRead {
    /// Samples written into the host's buffer; 0 at the end of the stream.
    pub samples: usize,
    /// Samples of the current chunk still waiting, so the host can size its buffer.
    pub remaining: usize,
}

/// [`ContentHash`] across the boundary.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FfiContentHash {
    /// The algorithm.
    pub algorithm: RString,
    /// The digest.
    pub value: RString,
}

/// [`RemoteEntry`] across the boundary.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FfiRemoteEntry {
    /// Stable id.
    pub id: RString,
    /// Path.
    pub path: RString,
    /// Size.
    pub size: u64,
    /// Modification time, ms since the epoch.
    pub modified_ms: ROption<i64>,
    /// Content hash.
    pub content_hash: ROption<FfiContentHash>,
    /// MIME type.
    pub mime: ROption<RString>,
}

impl From<RemoteEntry> for FfiRemoteEntry {
    fn from(e: RemoteEntry) -> Self {
        Self {
            id: e.id.into(),
            path: e.path.into(),
            size: e.size,
            modified_ms: ropt(e.modified_ms),
            content_hash: ropt(e.content_hash.map(|h| FfiContentHash {
                algorithm: h.algorithm.into(),
                value: h.value.into(),
            })),
            mime: ropt(e.mime),
        }
    }
}

impl From<FfiRemoteEntry> for RemoteEntry {
    fn from(e: FfiRemoteEntry) -> Self {
        Self {
            id: e.id.into_string(),
            path: e.path.into_string(),
            size: e.size,
            modified_ms: opt(e.modified_ms),
            content_hash: e.content_hash.into_option().map(|h| ContentHash {
                algorithm: h.algorithm.into_string(),
                value: h.value.into_string(),
            }),
            mime: opt(e.mime),
        }
    }
}

/// [`ListPage`] across the boundary.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FfiListPage {
    /// Entries.
    pub entries: RVec<FfiRemoteEntry>,
    /// Next page token.
    pub next_page: ROption<RString>,
}

impl From<ListPage> for FfiListPage {
    fn from(p: ListPage) -> Self {
        Self {
            entries: p.entries.into_iter().map(Into::into).collect(),
            next_page: ropt(p.next_page),
        }
    }
}

impl From<FfiListPage> for ListPage {
    fn from(p: FfiListPage) -> Self {
        Self {
            entries: p.entries.into_iter().map(Into::into).collect(),
            next_page: opt(p.next_page),
        }
    }
}

/// [`Change`] across the boundary.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone)]
pub enum FfiChange {
    /// [`Change::Upsert`].
    Upsert(FfiRemoteEntry),
    /// [`Change::Removed`].
    Removed(RString),
    /// [`Change::Moved`]: the old id and the entry.
    Moved(RString, FfiRemoteEntry),
}

/// [`ChangePage`] across the boundary.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FfiChangePage {
    /// Changes.
    pub changes: RVec<FfiChange>,
    /// Next cursor.
    pub next_cursor: RString,
    /// More waiting.
    pub has_more: bool,
}

impl From<ChangePage> for FfiChangePage {
    fn from(p: ChangePage) -> Self {
        let changes = p
            .changes
            .into_iter()
            .map(|c| match c {
                Change::Upsert { entry } => FfiChange::Upsert(entry.into()),
                Change::Removed { id } => FfiChange::Removed(id.into()),
                Change::Moved { from_id, entry } => FfiChange::Moved(from_id.into(), entry.into()),
            })
            .collect();
        Self {
            changes,
            next_cursor: p.next_cursor.into(),
            has_more: p.has_more,
        }
    }
}

impl From<FfiChangePage> for ChangePage {
    fn from(p: FfiChangePage) -> Self {
        let changes = p
            .changes
            .into_iter()
            .map(|c| match c {
                FfiChange::Upsert(entry) => Change::Upsert {
                    entry: entry.into(),
                },
                FfiChange::Removed(id) => Change::Removed {
                    id: id.into_string(),
                },
                FfiChange::Moved(from_id, entry) => Change::Moved {
                    from_id: from_id.into_string(),
                    entry: entry.into(),
                },
            })
            .collect();
        Self {
            changes,
            next_cursor: p.next_cursor.into_string(),
            has_more: p.has_more,
        }
    }
}

/// [`ByteRange`] across the boundary.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy)]
pub enum FfiByteRange {
    /// Offset and length.
    Span(u64, u64),
    /// The last so many bytes.
    Suffix(u64),
}

impl From<ByteRange> for FfiByteRange {
    fn from(r: ByteRange) -> Self {
        match r {
            ByteRange::Span { offset, len } => Self::Span(offset, len),
            ByteRange::Suffix { len } => Self::Suffix(len),
        }
    }
}

impl From<FfiByteRange> for ByteRange {
    fn from(r: FfiByteRange) -> Self {
        match r {
            FfiByteRange::Span(offset, len) => Self::Span { offset, len },
            FfiByteRange::Suffix(len) => Self::Suffix { len },
        }
    }
}

/// [`FileStat`] across the boundary.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy)]
pub struct FfiFileStat {
    /// Size.
    pub size: u64,
    /// Modification time.
    pub modified_ms: i64,
    /// Identity.
    pub file_id: ROption<u64>,
}

impl From<FileStat> for FfiFileStat {
    fn from(s: FileStat) -> Self {
        Self {
            size: s.size,
            modified_ms: s.modified_ms,
            file_id: ropt(s.file_id),
        }
    }
}

impl From<FfiFileStat> for FileStat {
    fn from(s: FfiFileStat) -> Self {
        Self {
            size: s.size,
            modified_ms: s.modified_ms,
            file_id: opt(s.file_id),
        }
    }
}

/// [`DirEntry`] across the boundary; `kind` is 0 file, 1 folder, 2 other.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FfiDirEntry {
    /// Name.
    pub name: RString,
    /// Kind.
    pub kind: u8,
    /// Stat.
    pub stat: FfiFileStat,
}

impl From<DirEntry> for FfiDirEntry {
    fn from(e: DirEntry) -> Self {
        let kind = match e.kind {
            EntryKind::File => 0,
            EntryKind::Dir => 1,
            EntryKind::Other => 2,
        };
        Self {
            name: e.name.into(),
            kind,
            stat: e.stat.into(),
        }
    }
}

impl From<FfiDirEntry> for DirEntry {
    fn from(e: FfiDirEntry) -> Self {
        let kind = match e.kind {
            0 => EntryKind::File,
            1 => EntryKind::Dir,
            _ => EntryKind::Other,
        };
        Self {
            name: e.name.into_string(),
            kind,
            stat: e.stat.into(),
        }
    }
}

/// An HTTP header across the boundary.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FfiHeader {
    /// Name.
    pub name: RString,
    /// Value.
    pub value: RString,
}

fn headers_to_ffi(h: Vec<(String, String)>) -> RVec<FfiHeader> {
    h.into_iter()
        .map(|(n, v)| FfiHeader {
            name: n.into(),
            value: v.into(),
        })
        .collect()
}

fn headers_from_ffi(h: RVec<FfiHeader>) -> Vec<(String, String)> {
    h.into_iter()
        .map(|h| (h.name.into_string(), h.value.into_string()))
        .collect()
}

/// [`HttpRequest`] across the boundary.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FfiHttpRequest {
    /// Method.
    pub method: RString,
    /// URL.
    pub url: RString,
    /// Headers.
    pub headers: RVec<FfiHeader>,
    /// Body.
    pub body: RVec<u8>,
}

impl From<HttpRequest> for FfiHttpRequest {
    fn from(r: HttpRequest) -> Self {
        Self {
            method: r.method.into(),
            url: r.url.into(),
            headers: headers_to_ffi(r.headers),
            body: r.body.into(),
        }
    }
}

impl From<FfiHttpRequest> for HttpRequest {
    fn from(r: FfiHttpRequest) -> Self {
        Self {
            method: r.method.into_string(),
            url: r.url.into_string(),
            headers: headers_from_ffi(r.headers),
            body: r.body.into_vec(),
        }
    }
}

/// [`HttpResponse`] across the boundary.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FfiHttpResponse {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: RVec<FfiHeader>,
    /// Body.
    pub body: RVec<u8>,
}

impl From<HttpResponse> for FfiHttpResponse {
    fn from(r: HttpResponse) -> Self {
        Self {
            status: r.status,
            headers: headers_to_ffi(r.headers),
            body: r.body.into(),
        }
    }
}

impl From<FfiHttpResponse> for HttpResponse {
    fn from(r: FfiHttpResponse) -> Self {
        Self {
            status: r.status,
            headers: headers_from_ffi(r.headers),
            body: r.body.into_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_survive_the_round_trip() {
        for e in [
            PluginError::NotFound("x".into()),
            PluginError::RateLimited {
                retry_after: Some(Duration::from_millis(1500)),
            },
            PluginError::RateLimited { retry_after: None },
            PluginError::Internal("boom".into()),
        ] {
            assert_eq!(PluginError::from(FfiError::from(e.clone())), e);
        }
    }

    #[test]
    fn changes_survive_the_round_trip() {
        let entry = RemoteEntry {
            id: "a".into(),
            path: "x/a.flac".into(),
            size: 3,
            modified_ms: Some(5),
            content_hash: Some(ContentHash {
                algorithm: "md5".into(),
                value: "00".into(),
            }),
            mime: None,
        };
        let page = ChangePage {
            changes: vec![
                Change::Upsert {
                    entry: entry.clone(),
                },
                Change::Removed { id: "b".into() },
                Change::Moved {
                    from_id: "c".into(),
                    entry,
                },
            ],
            next_cursor: "n".into(),
            has_more: true,
        };
        assert_eq!(ChangePage::from(FfiChangePage::from(page.clone())), page);
    }
}

/// FFI mirror of [`Artwork`].
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct FfiArtwork {
    /// The stated MIME type.
    pub mime: RString,
    /// The longest edge in pixels, if known.
    pub max_edge: ROption<u32>,
    /// The image.
    pub bytes: RVec<u8>,
}

impl From<Artwork> for FfiArtwork {
    fn from(a: Artwork) -> Self {
        Self {
            mime: a.mime.into(),
            max_edge: ropt(a.max_edge),
            bytes: a.bytes.into(),
        }
    }
}

impl From<FfiArtwork> for Artwork {
    fn from(a: FfiArtwork) -> Self {
        Self {
            mime: a.mime.into(),
            max_edge: opt(a.max_edge),
            bytes: a.bytes.into_vec(),
        }
    }
}
