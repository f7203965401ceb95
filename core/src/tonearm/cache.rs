//! The offline cache through the facade: pinning tracks (downloading them now), and what
//! the cache holds.

use crate::cache::{CacheError, CacheKey, CacheStatus};
use crate::library::LibraryStore;
use crate::playback;
use crate::sources::Capabilities;

use super::{Tonearm, TonearmError};

/// What pinning did to each track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pinned {
    /// Stored (or already there) and pinned.
    Pinned,
    /// On this machine already (a folder's file): nothing to keep.
    Local,
}

impl<S: LibraryStore, C: Capabilities> Tonearm<S, C> {
    /// Downloads library track `id` into the cache if it is not there, and pins it so it
    /// stays whatever the size limit.
    pub async fn pin(&self, id: i64) -> Result<Pinned, TonearmError> {
        let cache = self.cache.clone().ok_or(TonearmError::NoCache)?;
        let location = self.store().track_location(id).await?;
        let manifest = self.registry().info(&location.source.provider)?.manifest;
        if !manifest.capabilities.needs_network() {
            return Ok(Pinned::Local);
        }
        let key = CacheKey {
            source: location.source.name.clone(),
            remote_id: location.remote_id.clone(),
            version: location.version(),
        };
        let open = self.sources.open(&location.source).await?;
        #[cfg(not(all(target_arch = "wasm32", not(target_os = "wasi"))))]
        let provider: std::sync::Arc<dyn tonearm_plugin_api::StorageProvider> = std::sync::Arc::new(
            crate::sync::RetryingProvider::new(open.provider, self.sync_options.retry),
        );
        #[cfg(all(target_arch = "wasm32", not(target_os = "wasi")))]
        let provider = open.provider;
        let bytes = std::sync::Arc::new(playback::provider_source(
            provider,
            &location.remote_id,
            location.size,
        ));
        cache
            .store(key, id, location.size, bytes, true)
            .await
            .map_err(TonearmError::Cache)?;
        Ok(Pinned::Pinned)
    }

    /// Lets library track `id` go when the cache needs room; false if it was not pinned.
    pub fn unpin(&self, id: i64) -> Result<bool, TonearmError> {
        let cache = self.cache.as_ref().ok_or(TonearmError::NoCache)?;
        Ok(cache.unpin(id)? > 0)
    }

    /// Empties the cache (pinned tracks too, if asked); returns how many copies went.
    pub fn clear_cache(&self, pinned_too: bool) -> Result<usize, TonearmError> {
        let cache = self.cache.as_ref().ok_or(TonearmError::NoCache)?;
        Ok(cache.clear(pinned_too)?)
    }

    /// What the cache holds.
    pub fn cache_status(&self) -> Result<CacheStatus, TonearmError> {
        let cache = self.cache.as_ref().ok_or(TonearmError::NoCache)?;
        Ok(cache.status()?)
    }
}

impl From<CacheError> for TonearmError {
    fn from(e: CacheError) -> Self {
        Self::Cache(e)
    }
}
