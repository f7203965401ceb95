//! Storage providers: where the files of a library live.

use serde::{Deserialize, Serialize};

use crate::error::PluginResult;

/// A content hash as the service reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ContentHash {
    /// The algorithm, lower case: `md5`, `sha1`, `sha256`, `quickxor`, …
    pub algorithm: String,
    /// The digest as the service encodes it (hex or base64).
    pub value: String,
}

/// One file of a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteEntry {
    /// A stable id, unique within the source; what [`StorageProvider::read_range`] takes.
    pub id: String,
    /// The path shown to people, `/`-separated, relative to the source's root.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification, in milliseconds since the Unix epoch, if known.
    pub modified_ms: Option<i64>,
    /// The service's content hash, if it has one.
    pub content_hash: Option<ContentHash>,
    /// The MIME type, if the service states one.
    pub mime: Option<String>,
}

impl RemoteEntry {
    /// The lower-case extension of the path, without the dot.
    pub fn extension(&self) -> Option<String> {
        extension_of(&self.path)
    }
}

/// The lower-case extension of the last component of a `/`- or `\`-separated path,
/// without the dot; `None` for a name without one or a dotfile (`.hidden`).
pub fn extension_of(path: &str) -> Option<String> {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

/// One page of a full listing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ListPage {
    /// The entries of this page.
    pub entries: Vec<RemoteEntry>,
    /// The token for the next page; `None` on the last page.
    pub next_page: Option<String>,
}

/// One change to a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    /// The entry was added or changed (including a new path for the same id).
    Upsert {
        /// The entry as it is now.
        entry: RemoteEntry,
    },
    /// The entry with this id is gone.
    Removed {
        /// Its id.
        id: String,
    },
    /// The entry that had id `from_id` now has a new id (a renamed or moved local file).
    Moved {
        /// The old id.
        from_id: String,
        /// The entry as it is now.
        entry: RemoteEntry,
    },
}

/// One page of changes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ChangePage {
    /// The changes, oldest first; for one id the last one wins.
    pub changes: Vec<Change>,
    /// The cursor to continue from once these changes are committed.
    pub next_cursor: String,
    /// Whether more changes are waiting at `next_cursor` right now.
    pub has_more: bool,
}

/// Which bytes of an entry to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ByteRange {
    /// `len` bytes from `offset`; fewer if the entry ends first.
    Span {
        /// The first byte.
        offset: u64,
        /// How many bytes at most.
        len: u64,
    },
    /// The last `len` bytes; the whole entry if it is shorter.
    Suffix {
        /// How many bytes at most.
        len: u64,
    },
}

impl ByteRange {
    /// This range of `whole`, the entire content of an entry (for servers that ignore a
    /// `Range` header and send everything).
    pub fn cut(self, mut whole: Vec<u8>) -> Vec<u8> {
        let len = whole.len() as u64;
        let (start, end) = match self {
            Self::Span { offset, len: n } => (offset.min(len), offset.saturating_add(n).min(len)),
            Self::Suffix { len: n } => (len.saturating_sub(n), len),
        };
        whole.truncate(end as usize);
        whole.drain(..start as usize);
        whole
    }

    /// The HTTP `Range` header value for this range; `None` for an empty range, which
    /// needs no request.
    pub fn http_header(self) -> Option<String> {
        match self {
            Self::Span { len: 0, .. } | Self::Suffix { len: 0 } => None,
            Self::Span { offset, len } => {
                Some(format!("bytes={offset}-{}", offset.saturating_add(len - 1)))
            }
            Self::Suffix { len } => Some(format!("bytes=-{len}")),
        }
    }
}

/// A place where music files are kept: a local folder, a cloud drive, …
///
/// Paged operations are one call per page so the host drives them: it persists cursors,
/// retries, rate-limits and cancels between pages.
pub trait StorageProvider: Send + Sync {
    /// A cursor for "now": changes after this point are what
    /// [`changes`](StorageProvider::changes) will report. Taken before a full listing.
    fn change_cursor(&self) -> PluginResult<String>;

    /// One page of the full listing of files; `None` asks for the first page.
    fn list(&self, page_token: Option<&str>) -> PluginResult<ListPage>;

    /// The changes since `cursor`, one page at a time. An expired cursor yields
    /// [`PluginError::CursorExpired`](crate::PluginError::CursorExpired).
    fn changes(&self, cursor: &str) -> PluginResult<ChangePage>;

    /// Reads a byte range of one entry. Reading past the end returns fewer bytes.
    fn read_range(&self, id: &str, range: ByteRange) -> PluginResult<Vec<u8>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str) -> RemoteEntry {
        RemoteEntry {
            id: path.into(),
            path: path.into(),
            size: 0,
            modified_ms: None,
            content_hash: None,
            mime: None,
        }
    }

    #[test]
    fn ranges_cut_whole_bodies_and_name_http_ranges() {
        let body = b"0123456789".to_vec();
        assert_eq!(
            ByteRange::Span { offset: 2, len: 3 }.cut(body.clone()),
            b"234"
        );
        assert_eq!(ByteRange::Suffix { len: 4 }.cut(body.clone()), b"6789");
        assert_eq!(ByteRange::Span { offset: 20, len: 3 }.cut(body), b"");
        assert_eq!(
            ByteRange::Span { offset: 5, len: 10 }
                .http_header()
                .as_deref(),
            Some("bytes=5-14")
        );
        assert_eq!(
            ByteRange::Suffix { len: 7 }.http_header().as_deref(),
            Some("bytes=-7")
        );
        assert_eq!(ByteRange::Suffix { len: 0 }.http_header(), None);
    }

    #[test]
    fn extension_is_lowercase_and_ignores_dotfiles() {
        assert_eq!(entry("a/b.Song.FLAC").extension().as_deref(), Some("flac"));
        assert_eq!(entry("a.b/noext").extension(), None);
        assert_eq!(entry(".hidden").extension(), None);
        assert_eq!(entry("trailing.").extension(), None);
        assert_eq!(extension_of(r"C:\Music\a.Opus").as_deref(), Some("opus"));
        assert_eq!(extension_of("dir.d/file").as_deref(), None);
    }
}
