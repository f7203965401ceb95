//! [`Tonearm`], the one type an app embeds: plugins, sources, sync, the library, opening
//! tracks for playback, and the events of all of them.
//!
//! The facade is the same on every platform. What differs is given to it: a
//! [`LibraryStore`] (SQLite natively, IndexedDB in the browser) and the platform's
//! [`Capabilities`] (which folders and which network a provider may reach). The `tonearm`
//! command and the browser worker are both thin clients of it.
//!
//! `examples/embed` in the repository is a whole app in 59 lines (built and run by the
//! test suite); its core is:
//!
//! ```ignore
//! let tonearm = Tonearm::new(registry, store, capabilities);
//! let mut events = tonearm.events();
//! tonearm.add_source("music", "local", settings).await?;
//! for outcome in tonearm.sync(SyncRequest::all()).await? { /* … */ }
//! let hits = tonearm.search("zoe keating", 10).await?;
//! let mut stream = tonearm.open_track(hits[0].id, None).await?;
//! ```
//!
//! A source whose service signs in (Google Drive, OneDrive) is added through
//! [`Tonearm::begin_sign_in`] and [`Tonearm::complete_sign_in`]: the app only shows the
//! URL and hands back the code the redirect carried.

use std::collections::BTreeMap;
use std::sync::Arc;

use tonearm_plugin_api::{ByteSource, PluginKind};

use crate::cache::{CacheKey, TrackCache};
use crate::events::{CoreEvent, EventBus, LibraryEvent, Subscription, SyncCounts};
use crate::library::{
    FailedFile, LibraryStats, LibraryStore, Source, StoreError, TrackLocation, TrackRow,
};
use crate::playback::{self, PlaybackError, Stream};
use crate::player::OpenedTrack;
use crate::plugin::LoadedPlugin;
use crate::registry::{PluginInfo, Registry, RegistryError};
use crate::sources::{Capabilities, Sources};
use crate::sync::{SyncError, SyncOptions, Syncer, rt};

mod cache;
mod enrich;
pub use cache::Pinned;
mod playlists;
#[cfg(feature = "oauth")]
mod sign_in;
#[cfg(feature = "oauth")]
pub use sign_in::{OAuthClient, SignIn, SignInError, SignInStart};

/// Why a facade call failed. Each variant wraps the layer that failed, so callers can match
/// on the cause (an unknown source is `Store(StoreError::NoSuchSource(_))`).
#[derive(Debug, thiserror::Error)]
pub enum TonearmError {
    /// The library refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A plugin is missing, of another kind, or disabled.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A source could not be opened or synced.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// A track could not be opened for decoding.
    #[error(transparent)]
    Playback(#[from] PlaybackError),
    /// Enrichment could not run.
    #[error(transparent)]
    Enrich(#[from] crate::enrich::EnrichError),
    /// A sign-in could not start or finish.
    #[cfg(feature = "oauth")]
    #[error(transparent)]
    SignIn(#[from] SignInError),
    /// The platform could not forget a removed source's sign-in.
    #[error("cannot forget the sign-in of source `{source_name}`: {reason}")]
    Tokens {
        /// The source.
        source_name: String,
        /// What the platform said.
        reason: String,
    },
    /// The offline cache failed.
    #[error(transparent)]
    Cache(crate::cache::CacheError),
    /// The app keeps no offline cache.
    #[error("there is no offline cache")]
    NoCache,
    /// A source cannot be added as asked.
    #[error("cannot add source `{name}`: {reason}")]
    BadSource {
        /// The source's name.
        name: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
}

/// Retries of a playing track's reads: a listener is waiting, so a source that stays
/// down is reported in seconds, not after a sync's minute of backoff.
#[cfg(not(all(target_arch = "wasm32", not(target_os = "wasi"))))]
const PLAYBACK_RETRY: crate::sync::RetryPolicy = crate::sync::RetryPolicy {
    attempts: 3,
    min_delay: std::time::Duration::from_millis(250),
    max_delay: std::time::Duration::from_secs(2),
};

/// Which sources a sync reads, and how much of each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncRequest {
    /// One source by name, or every source.
    pub source: Option<String>,
    /// List everything even where a change cursor would allow reading only the changes.
    pub full: bool,
}

impl SyncRequest {
    /// Every source, reading only what changed where possible.
    pub fn all() -> Self {
        Self::default()
    }

    /// The source named `name`.
    pub fn source(name: &str) -> Self {
        Self {
            source: Some(name.to_owned()),
            full: false,
        }
    }

    /// Lists everything again (a full sync) instead of reading only the changes.
    pub fn full(mut self) -> Self {
        self.full = true;
        self
    }
}

/// What one source's sync did.
#[derive(Debug)]
pub struct SyncOutcome {
    /// The source's name.
    pub source: String,
    /// Its counts, or why it stopped (what it committed before stopping stays).
    pub result: Result<SyncCounts, SyncError>,
}

/// The Tonearm core as an app sees it: one library, its sources, and the plugins that
/// read them.
///
/// Cheap to clone: clones share the registry, the store and the event bus.
pub struct Tonearm<S, C> {
    sources: Sources<S, C>,
    sync_options: SyncOptions,
    /// Offline copies of cloud tracks, if the app keeps them.
    cache: Option<Arc<dyn TrackCache>>,
    #[cfg(feature = "oauth")]
    sign_ins: sign_in::PendingSignIns,
}

impl<S: Clone, C> Clone for Tonearm<S, C> {
    fn clone(&self) -> Self {
        Self {
            sources: self.sources.clone(),
            sync_options: self.sync_options,
            cache: self.cache.clone(),
            #[cfg(feature = "oauth")]
            sign_ins: self.sign_ins.clone(),
        }
    }
}

impl<S: LibraryStore, C: Capabilities> Tonearm<S, C> {
    /// A core over the library in `store`, with the plugins of `registry`, granting
    /// providers what `capabilities` allow.
    pub fn new(registry: Arc<Registry>, store: S, capabilities: C) -> Self {
        Self {
            sources: Sources::new(store, registry, Arc::new(capabilities)),
            sync_options: SyncOptions::default(),
            cache: None,
            #[cfg(feature = "oauth")]
            sign_ins: sign_in::PendingSignIns::default(),
        }
    }

    /// Syncs with `options` (batch size, concurrency, retries, read limits); `full` is
    /// taken from each [`SyncRequest`].
    pub fn with_sync_options(mut self, options: SyncOptions) -> Self {
        self.sync_options = options;
        self
    }

    /// Plays cloud tracks through `cache`: from it when a copy is there, into it as they
    /// play when not (see [`crate::cache`]).
    pub fn with_cache(mut self, cache: Arc<dyn TrackCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// The offline cache, if there is one.
    pub fn cache(&self) -> Option<&Arc<dyn TrackCache>> {
        self.cache.as_ref()
    }

    /// The plugins.
    pub fn registry(&self) -> &Arc<Registry> {
        self.sources.registry()
    }

    /// The library.
    pub fn store(&self) -> &S {
        self.sources.store()
    }

    /// What providers are granted.
    pub fn capabilities(&self) -> &C {
        self.sources.capabilities()
    }

    /// The event bus every part reports on.
    pub fn bus(&self) -> &EventBus {
        self.registry().bus()
    }

    /// A new subscription to every event from now on: sync progress, library changes,
    /// playback, plugin failures, sign-in.
    pub fn events(&self) -> Subscription {
        self.bus().subscribe()
    }

    // Plugins.

    /// Every registered plugin, by id.
    pub fn plugins(&self) -> Vec<PluginInfo> {
        self.registry().list()
    }

    /// One plugin.
    pub fn plugin(&self, id: &str) -> Result<PluginInfo, TonearmError> {
        Ok(self.registry().info(id)?)
    }

    /// Registers a plugin the app loaded (see `tonearm-loader` for files).
    pub fn add_plugin(&self, plugin: LoadedPlugin) -> Result<PluginInfo, TonearmError> {
        let id = plugin.manifest.id.clone();
        self.registry().register(plugin)?;
        Ok(self.registry().info(&id)?)
    }

    // Sources.

    /// Every source, by name.
    pub async fn sources(&self) -> Result<Vec<Source>, TonearmError> {
        Ok(self.store().sources().await?)
    }

    /// The source named `name`.
    pub async fn source(&self, name: &str) -> Result<Source, TonearmError> {
        Ok(self.store().source(name).await?)
    }

    /// Adds a source named `name`, served by the storage provider `provider` with
    /// `settings` (for `local`, `root` is the folder). A provider that signs in is added
    /// through [`begin_sign_in`](Self::begin_sign_in) instead, or needs its tokens kept
    /// under `name` first.
    pub async fn add_source(
        &self,
        name: &str,
        provider: &str,
        settings: BTreeMap<String, String>,
    ) -> Result<Source, TonearmError> {
        self.check_new_source(name, provider)?;
        let source = self.store().add_source(name, provider, &settings).await?;
        self.bus()
            .emit(CoreEvent::Library(LibraryEvent::SourceAdded {
                source: source.name.clone(),
            }));
        Ok(source)
    }

    /// Whether `provider` can serve a new source `name`.
    fn check_new_source(&self, name: &str, provider: &str) -> Result<(), TonearmError> {
        let bad = |reason: String| TonearmError::BadSource {
            name: name.to_owned(),
            reason,
        };
        if name.trim().is_empty() {
            return Err(bad("a source needs a name".into()));
        }
        let manifest = self.registry().info(provider)?.manifest;
        if manifest.kind != PluginKind::StorageProvider {
            return Err(bad(format!(
                "plugin `{provider}` is a {}, not a storage provider",
                manifest.kind
            )));
        }
        Ok(())
    }

    /// Removes a source with its files, tracks, plugin state and sign-in.
    pub async fn remove_source(&self, name: &str) -> Result<(), TonearmError> {
        // The sign-in goes first: a source left behind can be removed again, tokens left
        // behind would outlive the source they were granted for.
        self.store().source(name).await?;
        self.capabilities()
            .forget_tokens(name)
            .await
            .map_err(|reason| TonearmError::Tokens {
                source_name: name.to_owned(),
                reason,
            })?;
        self.store().remove_source(name).await?;
        self.bus()
            .emit(CoreEvent::Library(LibraryEvent::SourceRemoved {
                source: name.to_owned(),
            }));
        Ok(())
    }

    // Sync.

    /// Syncs the sources `request` names; each source's outcome, by name. Progress and
    /// library changes are reported on the bus as they happen.
    pub async fn sync(&self, request: SyncRequest) -> Result<Vec<SyncOutcome>, TonearmError> {
        let syncer = Syncer::over(
            self.sources.clone(),
            SyncOptions {
                full: request.full,
                ..self.sync_options
            },
        );
        let outcomes = match request.source {
            Some(name) => {
                // An unknown name is the caller's mistake, not a sync outcome.
                self.store().source(&name).await?;
                let result = syncer.sync_source(&name).await;
                vec![(name, result)]
            }
            None => syncer.sync_all().await?,
        };
        Ok(outcomes
            .into_iter()
            .map(|(source, result)| SyncOutcome { source, result })
            .collect())
    }

    // The library.

    /// Tracks ordered by album artists, album, disc, track number and path.
    pub async fn tracks(&self, limit: u32, offset: u32) -> Result<Vec<TrackRow>, TonearmError> {
        Ok(self.store().tracks(limit, offset).await?)
    }

    /// Tracks matching every word of `text` (word prefixes; case and accents ignored),
    /// best first.
    pub async fn search(&self, text: &str, limit: u32) -> Result<Vec<TrackRow>, TonearmError> {
        Ok(self.store().search(text, limit).await?)
    }

    /// One track.
    pub async fn track(&self, id: i64) -> Result<TrackRow, TonearmError> {
        Ok(self.store().track(id).await?)
    }

    /// Counts over the whole library.
    pub async fn stats(&self) -> Result<LibraryStats, TonearmError> {
        Ok(self.store().stats().await?)
    }

    /// Files whose tags could not be read, and why.
    pub async fn failed_files(&self, limit: u32) -> Result<Vec<FailedFile>, TonearmError> {
        Ok(self.store().failed_files(limit).await?)
    }

    // Playback.

    /// Opens library track `id` for decoding, from wherever its source keeps it, with the
    /// best decoder for it (or `decoder` if given).
    pub async fn open_track(&self, id: i64, decoder: Option<&str>) -> Result<Stream, TonearmError> {
        let location = self.store().track_location(id).await?;
        self.open_location(location, decoder).await
    }

    /// Opens library track `id` for the [`Player`](crate::player::Player): the stream,
    /// with the track's gain tags and its source.
    pub async fn open_for_player(&self, id: i64) -> Result<OpenedTrack, TonearmError> {
        let location = self.store().track_location(id).await?;
        let (gain, source) = (location.gain.clone(), location.source.name.clone());
        let stream = self.open_location(location, None).await?;
        Ok(OpenedTrack {
            stream,
            gain,
            source,
        })
    }

    async fn open_location(
        &self,
        location: TrackLocation,
        decoder: Option<&str>,
    ) -> Result<Stream, TonearmError> {
        let cached = self.cached(&location).await;
        if let Some(bytes) = cached.as_ref().and_then(|(_, bytes)| bytes.clone()) {
            return self.open_bytes(bytes, &location.path, decoder).await;
        }
        let track_id = location.track_id;
        let TrackLocation {
            source,
            remote_id,
            path,
            size,
            ..
        } = location;
        let open = self.sources.open(&source).await?;
        // Playback reads block their thread: natively a temporary failure (a 503, a
        // dropped connection) is waited out there, as the sync engine would.
        #[cfg(not(all(target_arch = "wasm32", not(target_os = "wasi"))))]
        let provider: Arc<dyn tonearm_plugin_api::StorageProvider> = Arc::new(
            crate::sync::RetryingProvider::new(open.provider, PLAYBACK_RETRY),
        );
        #[cfg(all(target_arch = "wasm32", not(target_os = "wasi")))]
        let provider = open.provider;
        let bytes = Arc::new(playback::provider_source(
            provider.clone(),
            &remote_id,
            size,
        ));
        if let (Some(cache), Some((key, None))) = (&self.cache, cached) {
            // Its own reader: the download's blocks do not crowd out the player's.
            let copy = Arc::new(playback::provider_source(provider, &remote_id, size));
            cache.store_later(key, track_id, size, copy);
        }
        self.open_bytes(bytes, &path, decoder).await
    }

    /// For a track of a source on the network, with a cache: its key, and its intact
    /// copy if the cache has one.
    async fn cached(
        &self,
        location: &TrackLocation,
    ) -> Option<(CacheKey, Option<Arc<dyn ByteSource>>)> {
        let cache = self.cache.as_ref()?;
        let manifest = self
            .registry()
            .info(&location.source.provider)
            .ok()?
            .manifest;
        if !manifest.capabilities.needs_network() {
            // A folder's files are on this machine already.
            return None;
        }
        let key = CacheKey {
            source: location.source.name.clone(),
            remote_id: location.remote_id.clone(),
            version: location.version(),
        };
        let bytes = cache.open(&key).await;
        Some((key, bytes))
    }

    /// Opens `bytes`, the file at `path` (its name gives the decoder a hint), for
    /// decoding with the best decoder for it, or with `decoder` if given.
    pub async fn open_bytes(
        &self,
        bytes: Arc<dyn ByteSource>,
        path: &str,
        decoder: Option<&str>,
    ) -> Result<Stream, TonearmError> {
        // Choosing reads the file's head, which may be a network request.
        let registry = self.registry().clone();
        let (path, decoder) = (path.to_owned(), decoder.map(str::to_owned));
        let stream =
            rt::blocking(move || playback::open(&registry, bytes, &path, decoder.as_deref()))
                .await
                .map_err(SyncError::Worker)??;
        Ok(stream)
    }
}
