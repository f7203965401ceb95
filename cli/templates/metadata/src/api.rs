//! The service's JSON, as it sends it: what the source reads and the fake writes.

use serde::{Deserialize, Serialize};

/// `GET /v1/lyrics?artist=A&title=T[&duration_s=S]`: 200 with this, or 404.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Record {
    /// Plain text.
    pub plain: Option<String>,
    /// LRC: `[mm:ss.xx] line`.
    pub synced: Option<String>,
    /// The track has no words.
    pub instrumental: bool,
}
