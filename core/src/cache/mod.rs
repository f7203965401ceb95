//! Offline copies of cloud tracks: what the cache is keyed by, the rules it keeps (a size
//! limit, least recently used out first, pinned tracks never), and its format at rest
//! (authenticated encryption in segments). The platform keeps the files and the key:
//! natively a folder and a key file beside the library, never in it.
//!
//! The facade reads through the cache: a cloud track found there (and intact) plays from
//! it, with or without a network; one not found plays from its source and is stored as it
//! plays. A changed file has another [`CacheKey::version`], so it is fetched again.

pub mod crypt;
pub mod index;
pub mod sealing;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tonearm_plugin_api::ByteSource;

use crate::MaybeSend;

/// What a cached copy is a copy of: one version of one file of one source.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CacheKey {
    /// The source's name.
    pub source: String,
    /// The provider's id of the file.
    pub remote_id: String,
    /// The file's version: its content hash, or its size and modification time.
    pub version: String,
}

impl CacheKey {
    /// The entry's id: a SHA-256 of the key, hex (also its file's name).
    pub fn id(&self) -> String {
        let mut hash = Sha256::new();
        for part in [&self.source, &self.remote_id, &self.version] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Why the cache failed.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// Reading the track from its source failed.
    #[error("cannot read the track from its source: {0}")]
    Source(String),
    /// The cache's storage failed.
    #[error("cache storage: {0}")]
    Storage(String),
    /// The track does not fit even with everything unpinned gone.
    #[error("{needed} bytes do not fit the cache's limit of {limit} (pinned: {pinned})")]
    Full {
        /// Bytes the track takes.
        needed: u64,
        /// The limit.
        limit: u64,
        /// Bytes pinned.
        pinned: u64,
    },
}

/// What the cache holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct CacheStatus {
    /// Tracks cached.
    pub tracks: u64,
    /// Of them, pinned.
    pub pinned: u64,
    /// Bytes stored.
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub bytes: u64,
    /// Bytes of the pinned ones.
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub pinned_bytes: u64,
    /// The size limit.
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub limit: u64,
    /// Downloads running or waiting.
    pub downloading: u64,
}

/// A future the cache returns.
#[cfg(not(all(target_arch = "wasm32", not(target_os = "wasi"))))]
pub type CacheFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
/// A future the cache returns.
#[cfg(all(target_arch = "wasm32", not(target_os = "wasi")))]
pub type CacheFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// A platform's store of cached tracks.
pub trait TrackCache: MaybeSend + crate::MaybeSync {
    /// The intact copy stored under `key`, marked used; `None` if there is none, or if it
    /// was changed (it is then dropped, to be fetched again). Opening may check the whole
    /// copy, so it resolves later rather than blocking its caller.
    fn open(&self, key: &CacheKey) -> CacheFuture<'_, Option<Arc<dyn ByteSource>>>;

    /// Stores `bytes` (the track's file, `size` bytes) under `key` for library track
    /// `track_id`, pinned if asked; resolves once it is stored. A copy already stored
    /// is kept (and pinned if asked).
    fn store(
        &self,
        key: CacheKey,
        track_id: i64,
        size: u64,
        bytes: Arc<dyn ByteSource>,
        pin: bool,
    ) -> CacheFuture<'_, Result<(), CacheError>>;

    /// Stores a track that is playing from its source, in the background, when a download
    /// slot is free; failures are reported as events, not to the player.
    fn store_later(&self, key: CacheKey, track_id: i64, size: u64, bytes: Arc<dyn ByteSource>);

    /// Unpins every copy of `track_id`; returns how many were pinned.
    fn unpin(&self, track_id: i64) -> Result<usize, CacheError>;

    /// Removes every copy (pinned ones too, if asked); returns how many went.
    fn clear(&self, pinned_too: bool) -> Result<usize, CacheError>;

    /// What the cache holds.
    fn status(&self) -> Result<CacheStatus, CacheError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_id_changes_with_any_part_of_its_key() {
        let key = CacheKey {
            source: "drive".into(),
            remote_id: "f1".into(),
            version: "md5:aa".into(),
        };
        let id = key.id();
        assert_eq!(id.len(), 64);
        for other in [
            CacheKey {
                version: "md5:ab".into(),
                ..key.clone()
            },
            CacheKey {
                remote_id: "f2".into(),
                ..key.clone()
            },
            CacheKey {
                source: "drive2".into(),
                ..key.clone()
            },
            // Parts are separated: "ab"+"c" is not "a"+"bc".
            CacheKey {
                source: "drivef".into(),
                remote_id: "1".into(),
                ..key.clone()
            },
        ] {
            assert_ne!(other.id(), id, "{other:?}");
        }
    }
}
