//! The service's JSON, as it sends it: what the provider reads and the fake writes.

use serde::{Deserialize, Serialize};

/// One file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct File {
    /// Stable across renames.
    pub id: String,
    /// `/`-separated, from the drive's root.
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// Milliseconds since the Unix epoch.
    pub modified_ms: i64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
}

/// `GET /v1/files?page_token=T&page_size=N`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileList {
    /// This page's files.
    pub files: Vec<File>,
    /// The next page's token; none on the last page.
    pub next_page_token: Option<String>,
}

/// `GET /v1/changes/start`: a cursor for now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StartCursor {
    /// The cursor.
    pub cursor: String,
}

/// One change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    /// A file was added, changed, renamed or moved.
    Upsert {
        /// The file as it is now.
        file: File,
    },
    /// A file was deleted.
    Removed {
        /// Its id.
        id: String,
    },
}

/// `GET /v1/changes?cursor=C&page_size=N`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangeList {
    /// The changes, oldest first.
    pub changes: Vec<Change>,
    /// Where to continue.
    pub next_cursor: String,
    /// Whether more changes wait at `next_cursor`.
    pub has_more: bool,
}
