//! Full and incremental sync of sources into a library.
//!
//! A full sync takes a change cursor, lists every page, and commits each batch together
//! with the page it reached; a killed process resumes from that page with the same
//! generation, and files not seen by the end are removed. An incremental sync applies the
//! changes since the cursor, committing the next cursor with each page. Tags are read from
//! bounded ranges, a few files at a time where the platform has threads. The engine is the
//! same natively and in the browser worker: a [`LibraryStore`] keeps the library, and
//! [`Capabilities`] grant providers what only the platform has (a folder, the network).

pub mod retry;
pub mod rt;
pub mod tags;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tonearm_plugin_api::{Change, PluginError, PluginResult, RemoteEntry, StorageProvider};
use tracing::Instrument;

use crate::events::{CoreEvent, EventBus, LibraryEvent, SyncCounts, SyncEvent};
use crate::library::{CursorUpdate, FileWrite, KnownFile, LibraryStore, Retry, Source, StoreError};
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

    async fn full(
        &self,
        source: &Source,
        open: &OpenSource,
        counts: &mut SyncCounts,
    ) -> Result<(), SyncError> {
        let err = self.provider_error(source);
        let (generation, page) = match &source.pending_cursor {
            // A listing was interrupted: resume it where its last committed batch ended.
            Some(_) => (source.generation, source.pending_page.clone()),
            None => {
                let cursor = self
                    .call(source, "change_cursor", open, |p| p.change_cursor())
                    .await?
                    .map_err(&err)?;
                (self.store().begin_listing(source.id, &cursor).await?, None)
            }
        };
        // The last batch of a page is still being written while the next page is listed
        // and read; it is waited for before the listing finishes, and on any error.
        let mut writing = None;
        let listed = self
            .list_pages(source, generation, page, open, counts, &mut writing)
            .await;
        self.settle(source, listed, &mut writing, counts).await?;
        counts.removed += self.store().finish_listing(source.id, generation).await?;
        Ok(())
    }

    /// Lists and applies every page of a full listing from `page` on.
    #[allow(clippy::too_many_arguments)]
    async fn list_pages(
        &self,
        source: &Source,
        generation: i64,
        mut page: Option<String>,
        open: &OpenSource,
        counts: &mut SyncCounts,
        writing: &mut Option<Writing>,
    ) -> Result<(), SyncError> {
        let err = self.provider_error(source);
        let audio = self.audio_filter();
        // A provider is outside code: a listing whose tokens lead back to a page already
        // listed, or that refuses its own tokens, would never end.
        let mut tokens = HashSet::new();
        let mut restarted = false;
        loop {
            let token = page.clone();
            let listed = match self
                .call(source, "list", open, move |p| p.list(token.as_deref()))
                .await?
            {
                // A stale page token from an interrupted run: list again from the start;
                // what was committed is recognised as unchanged.
                Err(PluginError::Invalid(why)) if page.is_some() && !restarted => {
                    tracing::warn!(%why, "page token refused; restarting the listing");
                    page = None;
                    restarted = true;
                    tokens.clear();
                    continue;
                }
                other => other.map_err(&err)?,
            };
            if let Some(next) = &listed.next_page
                && !tokens.insert(next.clone())
            {
                return Err(err(PluginError::Invalid(format!(
                    "the listing went back to page token `{next}`, which it gave before: it \
                     would never end"
                ))));
            }
            counts.seen += listed.entries.len() as u64;
            let entries: Vec<RemoteEntry> =
                listed.entries.into_iter().filter(|e| audio(e)).collect();
            let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
            let known = self.store().known_files(source.id, &ids).await?;
            let now = now_ms();
            let plans = entries
                .into_iter()
                .map(|entry| match known.get(&entry.id) {
                    Some(k) if settled(k, &entry, now) => {
                        Plan::Write(FileWrite::Unchanged { entry })
                    }
                    _ => Plan::Scan(entry),
                })
                .collect();
            let end = CursorUpdate::ListingPage(listed.next_page.clone());
            self.execute(
                source, generation, open, plans, &known, end, counts, writing,
            )
            .await?;
            match listed.next_page {
                Some(next) => page = Some(next),
                None => return Ok(()),
            }
        }
    }

    async fn incremental(
        &self,
        source: &Source,
        open: &OpenSource,
        counts: &mut SyncCounts,
    ) -> Result<(), SyncError> {
        let err = self.provider_error(source);
        let audio = self.audio_filter();
        let mut cursor = source.cursor.clone().unwrap_or_default();
        // A feed that says it has more at a cursor it gave before would never end.
        let mut cursors = HashSet::from([cursor.clone()]);
        loop {
            let at = cursor.clone();
            let page = self
                .call(source, "changes", open, move |p| p.changes(&at))
                .await?
                .map_err(&err)?;
            counts.seen += page.changes.len() as u64;
            let changes = last_change_per_id(page.changes);
            let mut ids: Vec<&str> = Vec::new();
            for change in &changes {
                match change {
                    Change::Upsert { entry } => ids.push(&entry.id),
                    Change::Removed { id } => ids.push(id),
                    Change::Moved { from_id, entry } => {
                        ids.extend([from_id.as_str(), entry.id.as_str()])
                    }
                }
            }
            let known = self.store().known_files(source.id, &ids).await?;
            let now = now_ms();
            let mut plans = Vec::new();
            for change in changes {
                let plan = match change {
                    Change::Removed { id } => known
                        .contains_key(&id)
                        .then_some(Plan::Write(FileWrite::Removed { remote_id: id })),
                    Change::Upsert { entry } | Change::Moved { entry, .. } if !audio(&entry) => {
                        // Renamed to something that is not audio: it leaves the library.
                        known
                            .contains_key(&entry.id)
                            .then_some(Plan::Write(FileWrite::Removed {
                                remote_id: entry.id,
                            }))
                    }
                    Change::Moved { from_id, entry } => match known.get(&from_id) {
                        Some(k) if settled(k, &entry, now) => {
                            Some(Plan::Write(FileWrite::Moved { from_id, entry }))
                        }
                        Some(_) => Some(Plan::MoveAndScan { from_id, entry }),
                        None => Some(match known.get(&entry.id) {
                            Some(k) if settled(k, &entry, now) => {
                                Plan::Write(FileWrite::Unchanged { entry })
                            }
                            _ => Plan::Scan(entry),
                        }),
                    },
                    Change::Upsert { entry } => Some(match known.get(&entry.id) {
                        Some(k) if settled(k, &entry, now) => {
                            Plan::Write(FileWrite::Unchanged { entry })
                        }
                        _ => Plan::Scan(entry),
                    }),
                };
                plans.extend(plan);
            }
            let generation = source.generation;
            // A feed with nothing new may give back the cursor it was asked at: there is no
            // position to move then, and a batch with nothing else is not written.
            let end = if page.next_cursor == cursor {
                CursorUpdate::None
            } else {
                CursorUpdate::Cursor(page.next_cursor.clone())
            };
            // A later page may change a file of this one: it is compared with what this
            // page committed, so each page is written before the next is read.
            let mut writing = None;
            let executed = self
                .execute(
                    source,
                    generation,
                    open,
                    plans,
                    &known,
                    end,
                    counts,
                    &mut writing,
                )
                .await;
            self.settle(source, executed, &mut writing, counts).await?;
            if !page.has_more {
                return Ok(());
            }
            if !cursors.insert(page.next_cursor.clone()) {
                return Err(err(PluginError::Invalid(format!(
                    "the change feed has more at cursor `{}`, which it gave before: it would \
                     never end",
                    page.next_cursor
                ))));
            }
            cursor = page.next_cursor;
        }
    }

    /// Reads again the files of `source` whose last read failed for a passing reason and
    /// is due: they are not among the changes, since they did not change. Runs before
    /// the changes are read, so a file that fails in this sync waits for the next one.
    async fn read_retries(
        &self,
        source: &Source,
        open: &OpenSource,
        counts: &mut SyncCounts,
    ) -> Result<(), SyncError> {
        let due = self.store().retries_due(source.id, now_ms()).await?;
        if due.is_empty() {
            return Ok(());
        }
        tracing::info!(
            files = due.len(),
            "reading files that failed for a passing reason again"
        );
        let ids: Vec<&str> = due.iter().map(|e| e.id.as_str()).collect();
        let known = self.store().known_files(source.id, &ids).await?;
        let plans = due.into_iter().map(Plan::Scan).collect();
        let mut writing = None;
        let executed = self
            .execute(
                source,
                source.generation,
                open,
                plans,
                &known,
                CursorUpdate::None,
                counts,
                &mut writing,
            )
            .await;
        self.settle(source, executed, &mut writing, counts).await
    }

    /// Waits for the batch still being written, if any, and reports it. The error of
    /// what ran meanwhile (`done`) comes first; the write is waited for either way, so
    /// nothing is left half-committed.
    async fn settle(
        &self,
        source: &Source,
        done: Result<(), SyncError>,
        writing: &mut Option<Writing>,
        counts: &mut SyncCounts,
    ) -> Result<(), SyncError> {
        let written = finish(writing.take()).await;
        done?;
        if let Some(tally) = written? {
            self.report(source, tally, counts);
        }
        Ok(())
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

    /// Reads tags where needed and writes `plans` in batches; the last batch carries `end`.
    ///
    /// The write of one batch overlaps the reading of the next (and the last one's, the
    /// caller's next steps: it is left in `writing`), so the tag readers and the
    /// library's writer work at once. Batches still commit in order, each with the
    /// provider state and the position it led to.
    #[allow(clippy::too_many_arguments)]
    async fn execute(
        &self,
        source: &Source,
        generation: i64,
        open: &OpenSource,
        plans: Vec<Plan>,
        known: &HashMap<String, KnownFile>,
        end: CursorUpdate,
        counts: &mut SyncCounts,
        writing: &mut Option<Writing>,
    ) -> Result<(), SyncError> {
        let batch_size = self.options.batch_size.max(1);
        let mut plans = plans.into_iter().peekable();
        loop {
            let batch: Vec<Plan> = plans.by_ref().take(batch_size).collect();
            let last = plans.peek().is_none();
            let (writes, written) = tokio::join!(
                self.scan_batch(open, batch, known, counts),
                finish(writing.take())
            );
            if let Some(tally) = written? {
                self.report(source, tally, counts);
            }
            let writes = writes?;
            let tally = Tally::of(&writes, known);
            let position = if last {
                end.clone()
            } else {
                CursorUpdate::None
            };
            // The provider's state goes with the batch and position it led to: a resumed sync
            // never sees one without the other.
            let state = open.take_state_changes();
            if writes.is_empty() && state.is_empty() && matches!(position, CursorUpdate::None) {
                if last {
                    return Ok(());
                }
                continue;
            }
            let (store, source_id) = (self.store().clone(), source.id);
            *writing = Some(Box::pin(async move {
                store
                    .apply_batch(source_id, generation, writes, state, position)
                    .await?;
                Ok(tally)
            }));
            if last {
                return Ok(());
            }
        }
    }

    async fn scan_batch(
        &self,
        open: &OpenSource,
        batch: Vec<Plan>,
        known: &HashMap<String, KnownFile>,
        counts: &mut SyncCounts,
    ) -> Result<Vec<FileWrite>, SyncError> {
        let mut slots: Vec<Vec<FileWrite>> = Vec::with_capacity(batch.len());
        let mut pending: Vec<(usize, RemoteEntry)> = Vec::new();
        for (index, plan) in batch.into_iter().enumerate() {
            let (prefix, entry) = match plan {
                Plan::Write(write) => {
                    slots.push(vec![write]);
                    continue;
                }
                Plan::Scan(entry) => (None, entry),
                Plan::MoveAndScan { from_id, entry } => (
                    Some(FileWrite::Moved {
                        from_id,
                        entry: entry.clone(),
                    }),
                    entry,
                ),
            };
            slots.push(prefix.into_iter().collect());
            pending.push((index, entry));
        }
        // A disk's reads are parsing once cached: more threads than cores only switch.
        let (limits, concurrency) = if open.reaches_network {
            (self.options.read_limits, self.options.concurrency)
        } else {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            (
                self.options.read_limits.local(),
                self.options.concurrency.min(cores),
            )
        };
        // Files the provider failed to serve for a temporary reason are read again after
        // the policy's wait, all of them together.
        let mut delays = Delays::new(self.options.retry);
        // Tracks of one album embed the same cover: the batch holds each image once.
        let images: Arc<std::sync::Mutex<HashMap<String, Arc<[u8]>>>> = Arc::default();
        while !pending.is_empty() {
            let provider = open.provider.clone();
            let decoders = self.sources.registry().clone();
            let images = images.clone();
            let reads = rt::map_blocking(pending, concurrency, move |(index, entry)| {
                let _span = tracing::debug_span!("read_tags", path = %entry.path).entered();
                let mut read = tags::read(provider.clone(), &entry, limits, &decoders);
                if let Ok(track) = &mut read.result
                    && let Some(art) = &mut track.artwork
                    && let Some(bytes) = art.bytes.take()
                {
                    let mut images = images
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    art.bytes = Some(images.entry(art.sha256.clone()).or_insert(bytes).clone());
                }
                (index, entry, read)
            })
            .await
            .map_err(SyncError::Worker)?;
            pending = Vec::new();
            let mut wait = None;
            for (index, entry, read) in reads {
                counts.bytes_read += read.bytes_read;
                let retryable = read.provider_error.as_ref().filter(|e| e.is_retryable());
                let retry = retryable.and_then(|error| {
                    wait.or_else(|| delays.after(error))
                        .map(|delay| (error, delay))
                });
                if let Some((error, delay)) = retry {
                    tracing::info!(path = %entry.path, %error, "provider failed a tag read; retrying");
                    wait = Some(delay);
                    pending.push((index, entry));
                    continue;
                }
                counts.scanned += 1;
                let write = match read.result {
                    Ok(track) => FileWrite::Scanned {
                        entry,
                        track: Box::new(track),
                        bytes_read: read.bytes_read,
                    },
                    Err(reason) => {
                        // The provider failing (down, throttling past the retries, a
                        // dead sign-in, a vanished file) says nothing of the file: the
                        // file is read again by a later sync. Only a failure of the file
                        // itself is remembered until it changes.
                        let retry = read.provider_error.as_ref().map(|_| {
                            let previous = known.get(&entry.id).and_then(|k| k.retry);
                            Retry::after(previous, now_ms())
                        });
                        tracing::info!(path = %entry.path, %reason, temporary = retry.is_some(), "a file's tags cannot be read");
                        FileWrite::Failed {
                            entry,
                            reason,
                            bytes_read: read.bytes_read,
                            retry,
                        }
                    }
                };
                slots[index].push(write);
            }
            if let Some(delay) = wait {
                rt::sleep(delay).await;
            }
        }
        Ok(slots.into_iter().flatten().collect())
    }

    /// Counts a committed batch and reports it on the bus.
    fn report(&self, source: &Source, tally: Tally, counts: &mut SyncCounts) {
        counts.added += tally.added;
        counts.updated += tally.updated;
        counts.failed += tally.failed;
        counts.unchanged += tally.unchanged;
        counts.removed += tally.gone;
        self.bus().emit(CoreEvent::Sync(SyncEvent::Progress {
            source: source.name.clone(),
            counts: *counts,
        }));
        if tally.added + tally.updated + tally.removed > 0 {
            self.bus()
                .emit(CoreEvent::Library(LibraryEvent::TracksChanged {
                    added: tally.added,
                    updated: tally.updated,
                    removed: tally.removed,
                }));
        }
    }
}

/// A batch being committed; yields what it did once it is.
#[cfg(not(all(target_arch = "wasm32", not(target_os = "wasi"))))]
type Writing = std::pin::Pin<Box<dyn Future<Output = Result<Tally, SyncError>> + Send>>;
/// A batch being committed; yields what it did once it is.
#[cfg(all(target_arch = "wasm32", not(target_os = "wasi")))]
type Writing = std::pin::Pin<Box<dyn Future<Output = Result<Tally, SyncError>>>>;

/// What one batch does to the library, counted before it is written.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    /// Tracks added.
    added: u64,
    /// Tracks changed (rescanned or moved).
    updated: u64,
    /// Tracks that leave the library.
    removed: u64,
    /// Files whose tags could not be read.
    failed: u64,
    /// Files found unchanged.
    unchanged: u64,
    /// Files gone from the source.
    gone: u64,
}

impl Tally {
    /// The tally of `writes`, given what the library knew of their files.
    fn of(writes: &[FileWrite], known: &HashMap<String, KnownFile>) -> Self {
        let was_track = |id: &str| known.get(id).is_some_and(|k| k.ok);
        let mut tally = Self::default();
        for write in writes {
            match write {
                FileWrite::Scanned { entry, .. } if was_track(&entry.id) => tally.updated += 1,
                FileWrite::Scanned { .. } => tally.added += 1,
                FileWrite::Failed { entry, .. } => {
                    tally.failed += 1;
                    tally.removed += u64::from(was_track(&entry.id));
                }
                FileWrite::Unchanged { .. } => tally.unchanged += 1,
                FileWrite::Moved { .. } => tally.updated += 1,
                FileWrite::Removed { remote_id } => {
                    tally.gone += 1;
                    tally.removed += u64::from(was_track(remote_id));
                }
            }
        }
        tally
    }
}

/// Waits for `write`, if a batch is being written; returns what it did.
async fn finish(write: Option<Writing>) -> Result<Option<Tally>, SyncError> {
    match write {
        Some(write) => write.await.map(Some),
        None => Ok(None),
    }
}

/// Keeps only the last change for each id, in order: the contract says the last one wins.
fn last_change_per_id(changes: Vec<Change>) -> Vec<Change> {
    let id_of = |c: &Change| match c {
        Change::Upsert { entry } | Change::Moved { entry, .. } => entry.id.clone(),
        Change::Removed { id } => id.clone(),
    };
    let mut last: HashMap<String, usize> = HashMap::new();
    for (i, change) in changes.iter().enumerate() {
        last.insert(id_of(change), i);
    }
    changes
        .into_iter()
        .enumerate()
        .filter(|(i, c)| last.get(&id_of(c)) == Some(i))
        .map(|(_, c)| c)
        .collect()
}
