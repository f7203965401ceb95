//! Full and incremental sync of sources into the library.
//!
//! A full sync takes a change cursor, lists every page, and commits each batch together
//! with the page it reached; a killed process resumes from that page with the same
//! generation, and files not seen by the end are removed. An incremental sync applies the
//! changes since the cursor, committing the next cursor with each page. Tags are read from
//! bounded ranges on blocking threads, a few files at a time.

pub mod retry;
pub mod tags;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tonearm_plugin_api::{Change, HostContext, PluginError, RemoteEntry, StorageProvider};
use tracing::Instrument;

use crate::auth::TokenStore;
use crate::capabilities::{GrantedFolder, HttpService, SqliteState, SystemClock, TracingLog};
use crate::events::{CoreEvent, EventBus, LibraryEvent, SyncCounts, SyncEvent};
use crate::library::{CursorUpdate, FileWrite, KnownFile, Library, LibraryError, Source};
use crate::registry::{Registry, RegistryError};

pub use retry::{RetryPolicy, RetryingProvider};
pub use tags::ReadLimits;

/// Why a sync stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The library failed.
    #[error(transparent)]
    Library(#[from] LibraryError),
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

/// How syncs run.
#[derive(Debug, Clone, Copy)]
pub struct SyncOptions {
    /// Files per transaction.
    pub batch_size: usize,
    /// Files whose tags are read at once.
    pub concurrency: usize,
    /// Sources synced at once by [`Syncer::sync_all`].
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
            batch_size: 256,
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
#[derive(Clone)]
pub struct Syncer {
    library: Library,
    registry: Arc<Registry>,
    options: SyncOptions,
    network: Option<Network>,
}

/// What providers that reach the network need from the host.
#[derive(Clone)]
pub struct Network {
    /// The HTTP stack.
    pub http: Arc<HttpService>,
    /// Where sources' tokens are kept.
    pub tokens: Arc<TokenStore>,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, SyncError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SyncError::Worker(e.to_string()))
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

impl Syncer {
    /// A syncer writing into `library`.
    pub fn new(library: Library, registry: Arc<Registry>, options: SyncOptions) -> Self {
        Self {
            library,
            registry,
            options,
            network: None,
        }
    }

    /// Lets providers reach the network (and sign in) through `network`.
    pub fn with_network(mut self, network: Network) -> Self {
        self.network = Some(network);
        self
    }

    fn bus(&self) -> &EventBus {
        self.registry.bus()
    }

    /// Creates the provider instance of `source`, with exactly the capabilities its
    /// manifest asks for.
    pub fn provider_for(&self, source: &Source) -> Result<Arc<dyn StorageProvider>, SyncError> {
        let factory = self.registry.provider(&source.provider)?;
        let manifest = self.registry.info(&source.provider)?.manifest;
        let mut ctx = HostContext::new(
            Arc::new(TracingLog::new(&manifest.id)),
            Arc::new(SystemClock),
        );
        ctx.settings = source.settings.clone();
        if manifest.capabilities.filesystem {
            let root = source
                .settings
                .get("root")
                .ok_or_else(|| SyncError::Config {
                    source_name: source.name.clone(),
                    reason: "it has no `root` folder setting".into(),
                })?;
            let folder = GrantedFolder::new(root).map_err(|e| SyncError::Config {
                source_name: source.name.clone(),
                reason: format!("cannot open folder {root}: {e}"),
            })?;
            ctx = ctx.with_fs(Arc::new(folder));
        }
        if manifest.capabilities.state {
            let runtime = tokio::runtime::Handle::try_current()
                .map_err(|e| SyncError::Worker(e.to_string()))?;
            ctx = ctx.with_state(Arc::new(SqliteState::new(
                self.library.pool().clone(),
                source.id,
                runtime,
            )));
        }
        if !manifest.capabilities.http_hosts.is_empty() || manifest.capabilities.oauth.is_some() {
            let network = self.network.as_ref().ok_or_else(|| SyncError::Config {
                source_name: source.name.clone(),
                reason: "its provider needs the network, which this host did not enable".into(),
            })?;
            let http = network
                .http
                .client_for_source(
                    &manifest,
                    &source.name,
                    &source.settings,
                    &network.tokens,
                    self.bus(),
                )
                .map_err(|e| SyncError::Config {
                    source_name: source.name.clone(),
                    reason: e.to_string(),
                })?;
            ctx = ctx.with_http(http);
        }
        let provider = factory.create(&ctx).map_err(|error| SyncError::Provider {
            provider: manifest.id,
            error,
        })?;
        Ok(Arc::new(RetryingProvider::new(
            provider,
            self.options.retry,
        )))
    }

    /// Syncs every source, a few at once; returns each source's outcome.
    pub async fn sync_all(
        &self,
    ) -> Result<Vec<(String, Result<SyncCounts, SyncError>)>, SyncError> {
        let sources = self.library.sources().await?;
        let limit = Arc::new(Semaphore::new(self.options.parallel_sources.max(1)));
        let mut tasks = JoinSet::new();
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
        results.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(results)
    }

    /// Syncs one source: incrementally when it has a cursor, else in full.
    pub async fn sync_source(&self, name: &str) -> Result<SyncCounts, SyncError> {
        let source = self.library.source(name).await?;
        let span = tracing::info_span!("sync", source = %source.name, provider = %source.provider);
        let result = self.run(&source).instrument(span).await;
        match &result {
            Ok(counts) => {
                self.library.record_sync_result(source.id, None).await?;
                self.bus().emit(CoreEvent::Sync(SyncEvent::Completed {
                    source: source.name.clone(),
                    counts: *counts,
                }));
            }
            Err(e) => {
                let error = e.to_string();
                tracing::warn!(source = %source.name, %error, "sync failed");
                self.library
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
        let provider = self.provider_for(source)?;
        let mut counts = SyncCounts::default();
        let incremental =
            source.cursor.is_some() && source.pending_cursor.is_none() && !self.options.full;
        self.bus().emit(CoreEvent::Sync(SyncEvent::Started {
            source: source.name.clone(),
            full: !incremental,
        }));
        if incremental {
            match self
                .incremental(source, provider.clone(), &mut counts)
                .await
            {
                Err(SyncError::Provider {
                    error: PluginError::CursorExpired(why),
                    ..
                }) => {
                    tracing::info!(source = %source.name, %why, "change cursor expired; listing everything again");
                    self.library.reset_cursor(source.id).await?;
                    let source = self.library.source(&source.name).await?;
                    self.full(&source, provider, &mut counts).await?;
                }
                other => other?,
            }
        } else {
            self.full(source, provider, &mut counts).await?;
        }
        self.library.remove_orphans_now().await?;
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
        provider: Arc<dyn StorageProvider>,
        counts: &mut SyncCounts,
    ) -> Result<(), SyncError> {
        let err = self.provider_error(source);
        let (generation, mut page) = match &source.pending_cursor {
            // A listing was interrupted: resume it where its last committed batch ended.
            Some(_) => (source.generation, source.pending_page.clone()),
            None => {
                let p = provider.clone();
                let cursor = blocking(move || p.change_cursor()).await?.map_err(&err)?;
                (self.library.begin_listing(source.id, &cursor).await?, None)
            }
        };
        let audio = self.audio_filter();
        loop {
            let p = provider.clone();
            let token = page.clone();
            let listed = match blocking(move || p.list(token.as_deref())).await? {
                // A stale page token from an interrupted run: list again from the start;
                // what was committed is recognised as unchanged.
                Err(PluginError::Invalid(why)) if page.is_some() => {
                    tracing::warn!(%why, "page token refused; restarting the listing");
                    page = None;
                    continue;
                }
                other => other.map_err(&err)?,
            };
            counts.seen += listed.entries.len() as u64;
            let entries: Vec<RemoteEntry> =
                listed.entries.into_iter().filter(|e| audio(e)).collect();
            let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
            let known = self.library.known_files(source.id, &ids).await?;
            let plans = entries
                .into_iter()
                .map(|entry| match known.get(&entry.id) {
                    Some(k) if unchanged(k, &entry) => Plan::Write(FileWrite::Unchanged { entry }),
                    _ => Plan::Scan(entry),
                })
                .collect();
            let end = CursorUpdate::ListingPage(listed.next_page.clone());
            self.execute(source, generation, &provider, plans, &known, end, counts)
                .await?;
            match listed.next_page {
                Some(next) => page = Some(next),
                None => break,
            }
        }
        counts.removed += self.library.finish_listing(source.id, generation).await?;
        Ok(())
    }

    async fn incremental(
        &self,
        source: &Source,
        provider: Arc<dyn StorageProvider>,
        counts: &mut SyncCounts,
    ) -> Result<(), SyncError> {
        let err = self.provider_error(source);
        let audio = self.audio_filter();
        let mut cursor = source.cursor.clone().unwrap_or_default();
        loop {
            let p = provider.clone();
            let at = cursor.clone();
            let page = blocking(move || p.changes(&at)).await?.map_err(&err)?;
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
            let known = self.library.known_files(source.id, &ids).await?;
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
                        Some(k) if unchanged(k, &entry) => {
                            Some(Plan::Write(FileWrite::Moved { from_id, entry }))
                        }
                        Some(_) => Some(Plan::MoveAndScan { from_id, entry }),
                        None => Some(match known.get(&entry.id) {
                            Some(k) if unchanged(k, &entry) => {
                                Plan::Write(FileWrite::Unchanged { entry })
                            }
                            _ => Plan::Scan(entry),
                        }),
                    },
                    Change::Upsert { entry } => Some(match known.get(&entry.id) {
                        Some(k) if unchanged(k, &entry) => {
                            Plan::Write(FileWrite::Unchanged { entry })
                        }
                        _ => Plan::Scan(entry),
                    }),
                };
                plans.extend(plan);
            }
            let generation = source.generation;
            let end = CursorUpdate::Cursor(page.next_cursor.clone());
            self.execute(source, generation, &provider, plans, &known, end, counts)
                .await?;
            cursor = page.next_cursor;
            if !page.has_more {
                return Ok(());
            }
        }
    }

    /// Which entries are audio: an extension some decoder claims, or an `audio/` MIME type.
    fn audio_filter(&self) -> impl Fn(&RemoteEntry) -> bool + use<> {
        let extensions: HashSet<String> = self.registry.audio_extensions().into_iter().collect();
        move |entry| {
            entry.extension().is_some_and(|e| extensions.contains(&e))
                || entry
                    .mime
                    .as_deref()
                    .is_some_and(|m| m.starts_with("audio/"))
        }
    }

    /// Reads tags where needed and writes `plans` in batches; the last batch carries `end`.
    #[allow(clippy::too_many_arguments)]
    async fn execute(
        &self,
        source: &Source,
        generation: i64,
        provider: &Arc<dyn StorageProvider>,
        plans: Vec<Plan>,
        known: &HashMap<String, KnownFile>,
        end: CursorUpdate,
        counts: &mut SyncCounts,
    ) -> Result<(), SyncError> {
        let batch_size = self.options.batch_size.max(1);
        let mut plans = plans.into_iter().peekable();
        loop {
            let batch: Vec<Plan> = plans.by_ref().take(batch_size).collect();
            let last = plans.peek().is_none();
            let writes = self.scan_batch(provider, batch, counts).await?;
            let position = if last {
                end.clone()
            } else {
                CursorUpdate::None
            };
            self.library
                .apply_batch(source.id, generation, &writes, &position)
                .await?;
            self.report(source, &writes, known, counts);
            if last {
                return Ok(());
            }
        }
    }

    async fn scan_batch(
        &self,
        provider: &Arc<dyn StorageProvider>,
        batch: Vec<Plan>,
        counts: &mut SyncCounts,
    ) -> Result<Vec<FileWrite>, SyncError> {
        let limit = Arc::new(Semaphore::new(self.options.concurrency.max(1)));
        let mut reads = JoinSet::new();
        let mut slots: Vec<Vec<FileWrite>> = Vec::with_capacity(batch.len());
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
            let provider = provider.clone();
            let limits = self.options.read_limits;
            let permit = limit
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| SyncError::Worker(e.to_string()))?;
            reads.spawn_blocking(move || {
                let _permit = permit;
                let _span = tracing::debug_span!("read_tags", path = %entry.path).entered();
                let read = tags::read(provider, &entry, limits);
                (index, entry, read)
            });
        }
        while let Some(done) = reads.join_next().await {
            let (index, entry, read) = done.map_err(|e| SyncError::Worker(e.to_string()))?;
            counts.scanned += 1;
            counts.bytes_read += read.bytes_read;
            let write = match read.result {
                Ok(track) => FileWrite::Scanned {
                    entry,
                    track: Box::new(track),
                    bytes_read: read.bytes_read,
                },
                Err(reason) => {
                    tracing::info!(path = %entry.path, %reason, "skipping a file whose tags cannot be read");
                    FileWrite::Failed {
                        entry,
                        reason,
                        bytes_read: read.bytes_read,
                    }
                }
            };
            slots[index].push(write);
        }
        Ok(slots.into_iter().flatten().collect())
    }

    fn report(
        &self,
        source: &Source,
        writes: &[FileWrite],
        known: &HashMap<String, KnownFile>,
        counts: &mut SyncCounts,
    ) {
        let (mut added, mut updated, mut removed) = (0, 0, 0);
        for write in writes {
            match write {
                FileWrite::Scanned { entry, .. } => match known.get(&entry.id) {
                    Some(k) if k.ok => updated += 1,
                    _ => added += 1,
                },
                FileWrite::Failed { entry, .. } => {
                    counts.failed += 1;
                    if known.get(&entry.id).is_some_and(|k| k.ok) {
                        removed += 1;
                    }
                }
                FileWrite::Unchanged { .. } => counts.unchanged += 1,
                FileWrite::Moved { .. } => updated += 1,
                FileWrite::Removed { remote_id } => {
                    counts.removed += 1;
                    if known.get(remote_id).is_some_and(|k| k.ok) {
                        removed += 1;
                    }
                }
            }
        }
        counts.added += added;
        counts.updated += updated;
        self.bus().emit(CoreEvent::Sync(SyncEvent::Progress {
            source: source.name.clone(),
            counts: *counts,
        }));
        if added + updated + removed > 0 {
            self.bus()
                .emit(CoreEvent::Library(LibraryEvent::TracksChanged {
                    added,
                    updated,
                    removed,
                }));
        }
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
