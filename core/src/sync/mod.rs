//! Full and incremental sync of sources into a library.
//!
//! A full sync takes a change cursor, lists every page, and commits each batch together
//! with the page it reached; a killed process resumes from that page with the same
//! generation, and files not seen by the end are removed. An incremental sync applies the
//! changes since the cursor, committing the next cursor with each page. Tags are read from
//! bounded ranges, a few files at a time where the platform has threads. The engine is the
//! same natively and in the browser worker: a [`LibraryStore`] keeps the library, and
//! [`Capabilities`] grant providers what only the platform has (a folder, the network).

mod batches;
mod changes;
mod listing;
pub mod retry;
pub mod rt;
pub mod tags;

use std::collections::HashSet;
use std::sync::Arc;

use tonearm_plugin_api::{PluginError, PluginResult, RemoteEntry, StorageProvider};
use tracing::Instrument;

use crate::events::{CoreEvent, EventBus, SyncCounts, SyncEvent};
use crate::library::{FileWrite, KnownFile, LibraryStore, Source, StoreError};
use crate::registry::{Registry, RegistryError};
use crate::sources::{Capabilities, OpenSource, Sources};

#[cfg(not(all(target_arch = "wasm32", not(target_os = "wasi"))))]
pub use retry::RetryingProvider;
pub use retry::{Delays, RetryPolicy};
pub use tags::ReadLimits;

/// Why a sync stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The library failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The provider plugin is not loaded or is disabled.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The provider failed.
    #[error("provider `{provider}` failed: {error}")]
    Provider {
        /// The provider's id.
        provider: String,
        /// What it said.
        error: PluginError,
    },
    /// The source's settings do not work.
    #[error("source `{source_name}` is misconfigured: {reason}")]
    Config {
        /// The source.
        source_name: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A blocking task died.
    #[error("a sync worker stopped unexpectedly: {0}")]
    Worker(String),
}

/// Files per transaction by default: a local listing page (500) is one batch, half the
/// commits of 256 (+12 % full-scan speed, docs/benchmarks.md).
#[cfg(not(all(target_arch = "wasm32", not(target_os = "wasi"))))]
const DEFAULT_BATCH: usize = 512;
/// In the browser, two batches (one read, one written) and their cover images are held in
/// 32-bit memory, each written in one IndexedDB transaction; the larger batch was
/// measured natively only.
#[cfg(all(target_arch = "wasm32", not(target_os = "wasi")))]
const DEFAULT_BATCH: usize = 256;

/// How syncs run.
#[derive(Debug, Clone, Copy)]
pub struct SyncOptions {
    /// Files per transaction.
    pub batch_size: usize,
    /// Files whose tags are read at once (where the platform has threads).
    pub concurrency: usize,
    /// Sources synced at once by [`Syncer::sync_all`] (likewise).
    pub parallel_sources: usize,
    /// List everything even when a change cursor exists.
    pub full: bool,
    /// How tags are fetched.
    pub read_limits: ReadLimits,
    /// How temporary provider failures are retried.
    pub retry: RetryPolicy,
}

impl Default for SyncOptions {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            batch_size: DEFAULT_BATCH,
            // Tag reads are mostly waiting on I/O (a disk, a network): more than the cores.
            concurrency: cores * 4,
            parallel_sources: 4,
            full: false,
            read_limits: ReadLimits::default(),
            retry: RetryPolicy::default(),
        }
    }
}

/// Syncs sources into a library with the providers of a registry.
pub struct Syncer<S, C> {
    sources: Sources<S, C>,
    options: SyncOptions,
}

impl<S: Clone, C> Clone for Syncer<S, C> {
    fn clone(&self) -> Self {
        Self {
            sources: self.sources.clone(),
            options: self.options,
        }
    }
}

/// What the engine decided for one entry.
enum Plan {
    Write(FileWrite),
    Scan(RemoteEntry),
    /// A move whose contents changed too: rename the row, then rescan it.
    MoveAndScan {
        from_id: String,
        entry: RemoteEntry,
    },
}

/// Whether `entry` needs no reading: unchanged, and not a passing failure due again.
fn settled(known: &KnownFile, entry: &RemoteEntry, now_ms: i64) -> bool {
    unchanged(known, entry) && !known.retry.is_some_and(|r| r.due(now_ms))
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    use tonearm_plugin_api::Clock as _;
    crate::log::SystemClock.now_unix_ms()
}

fn unchanged(known: &KnownFile, entry: &RemoteEntry) -> bool {
    let hash = entry
        .content_hash
        .as_ref()
        .map(|h| format!("{}:{}", h.algorithm, h.value));
    match (&known.content_hash, &hash) {
        // A content hash is the strongest evidence either way.
        (Some(a), Some(b)) => a == b && known.size == entry.size,
        _ => known.size == entry.size && known.modified_ms == entry.modified_ms,
    }
}

impl<S: LibraryStore, C: Capabilities> Syncer<S, C> {
    /// A syncer writing into `store`, granting providers `capabilities`.
    pub fn new(store: S, registry: Arc<Registry>, capabilities: C, options: SyncOptions) -> Self {
        Self::over(
            Sources::new(store, registry, Arc::new(capabilities)),
            options,
        )
    }

    /// A syncer over `sources`.
    pub fn over(sources: Sources<S, C>, options: SyncOptions) -> Self {
        Self { sources, options }
    }

    /// The library this syncer writes.
    pub fn store(&self) -> &S {
        self.sources.store()
    }

    fn bus(&self) -> &EventBus {
        self.sources.registry().bus()
    }

    /// Saves what the provider changed in its state since the last batch (after a sync's
    /// last batch, which carries the rest).
    async fn save_state(&self, source: &Source, open: &OpenSource) -> Result<(), SyncError> {
        let changes = open.take_state_changes();
        if !changes.is_empty() {
            self.store().save_state(source.id, &changes).await?;
        }
        Ok(())
    }

    /// Calls the provider on a blocking thread, waiting out the failures it calls
    /// temporary under the retry policy.
    async fn call<T: Send + 'static>(
        &self,
        source: &Source,
        what: &'static str,
        open: &OpenSource,
        f: impl Fn(&dyn StorageProvider) -> PluginResult<T> + Send + Sync + 'static,
    ) -> Result<PluginResult<T>, SyncError> {
        let f = Arc::new(f);
        let mut delays = Delays::new(self.options.retry);
        loop {
            let (provider, g) = (open.provider.clone(), f.clone());
            let span =
                tracing::debug_span!("provider_call", call = what, provider = %source.provider);
            let result = rt::blocking(move || span.in_scope(|| g(&*provider)))
                .await
                .map_err(SyncError::Worker)?;
            let error = match result {
                Err(e) => e,
                ok => return Ok(ok),
            };
            let Some(delay) = delays.after(&error) else {
                return Ok(Err(error));
            };
            tracing::info!(call = what, %error, delay_ms = delay.as_millis() as u64, "provider call failed; retrying");
            rt::sleep(delay).await;
        }
    }

    /// Syncs every source (a few at once where the platform has threads); returns each
    /// source's outcome, by name.
    pub async fn sync_all(
        &self,
    ) -> Result<Vec<(String, Result<SyncCounts, SyncError>)>, SyncError> {
        let sources = self.store().sources().await?;
        let mut results = self.sync_each(sources).await?;
        results.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(results)
    }

    #[cfg(not(all(target_arch = "wasm32", not(target_os = "wasi"))))]
    async fn sync_each(
        &self,
        sources: Vec<Source>,
    ) -> Result<Vec<(String, Result<SyncCounts, SyncError>)>, SyncError> {
        let limit = Arc::new(tokio::sync::Semaphore::new(
            self.options.parallel_sources.max(1),
        ));
        let mut tasks = tokio::task::JoinSet::new();
        for source in sources {
            let this = self.clone();
            let limit = limit.clone();
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let result = this.sync_source(&source.name).await;
                (source.name, result)
            });
        }
        let mut results = Vec::new();
        while let Some(done) = tasks.join_next().await {
            results.push(done.map_err(|e| SyncError::Worker(e.to_string()))?);
        }
        Ok(results)
    }

    #[cfg(all(target_arch = "wasm32", not(target_os = "wasi")))]
    async fn sync_each(
        &self,
        sources: Vec<Source>,
    ) -> Result<Vec<(String, Result<SyncCounts, SyncError>)>, SyncError> {
        let mut results = Vec::new();
        for source in sources {
            let result = self.sync_source(&source.name).await;
            results.push((source.name, result));
        }
        Ok(results)
    }

    /// Syncs one source: incrementally when it has a cursor, else in full.
    pub async fn sync_source(&self, name: &str) -> Result<SyncCounts, SyncError> {
        let source = self.store().source(name).await?;
        let span = tracing::info_span!("sync", source = %source.name, provider = %source.provider);
        let result = self.run(&source).instrument(span).await;
        match &result {
            Ok(counts) => {
                self.store().record_sync_result(source.id, None).await?;
                self.bus().emit(CoreEvent::Sync(SyncEvent::Completed {
                    source: source.name.clone(),
                    counts: *counts,
                }));
            }
            Err(e) => {
                let error = e.to_string();
                tracing::warn!(source = %source.name, %error, "sync failed");
                self.store()
                    .record_sync_result(source.id, Some(&error))
                    .await?;
                self.bus().emit(CoreEvent::Sync(SyncEvent::Failed {
                    source: source.name.clone(),
                    error,
                }));
            }
        }
        result
    }

    async fn run(&self, source: &Source) -> Result<SyncCounts, SyncError> {
        let open = self.sources.open(source).await?;
        let mut counts = SyncCounts::default();
        let incremental =
            source.cursor.is_some() && source.pending_cursor.is_none() && !self.options.full;
        self.bus().emit(CoreEvent::Sync(SyncEvent::Started {
            source: source.name.clone(),
            full: !incremental,
        }));
        if incremental {
            self.read_retries(source, &open, &mut counts).await?;
            match self.incremental(source, &open, &mut counts).await {
                Err(SyncError::Provider {
                    error: PluginError::CursorExpired(why),
                    ..
                }) => {
                    tracing::info!(source = %source.name, %why, "change cursor expired; listing everything again");
                    self.store().reset_cursor(source.id).await?;
                    let source = self.store().source(&source.name).await?;
                    self.full(&source, &open, &mut counts).await?;
                }
                other => other?,
            }
        } else {
            self.full(source, &open, &mut counts).await?;
        }
        self.save_state(source, &open).await?;
        self.store().remove_orphans().await?;
        Ok(counts)
    }

    fn provider_error(&self, source: &Source) -> impl Fn(PluginError) -> SyncError + '_ {
        let provider = source.provider.clone();
        move |error| SyncError::Provider {
            provider: provider.clone(),
            error,
        }
    }

    /// Which entries are audio: an extension some decoder claims, or an `audio/` MIME type.
    fn audio_filter(&self) -> impl Fn(&RemoteEntry) -> bool + use<S, C> {
        let extensions: HashSet<String> = self
            .sources
            .registry()
            .audio_extensions()
            .into_iter()
            .collect();
        move |entry| {
            entry.extension().is_some_and(|e| extensions.contains(&e))
                || entry
                    .mime
                    .as_deref()
                    .is_some_and(|m| m.starts_with("audio/"))
        }
    }
}
