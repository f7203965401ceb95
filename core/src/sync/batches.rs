//! Batches: tags read where needed, and each batch written in one transaction with the
//! provider state and position it led to, while the next one is read.

use std::collections::HashMap;
use std::sync::Arc;

use tonearm_plugin_api::RemoteEntry;

use super::{Delays, Plan, SyncError, Syncer, now_ms, rt, tags};
use crate::events::{CoreEvent, LibraryEvent, SyncCounts, SyncEvent};
use crate::library::{CursorUpdate, FileWrite, KnownFile, LibraryStore, Retry, Source};
use crate::sources::{Capabilities, OpenSource};

impl<S: LibraryStore, C: Capabilities> Syncer<S, C> {
    /// Waits for the batch still being written, if any, and reports it. The error of
    /// what ran meanwhile (`done`) comes first; the write is waited for either way, so
    /// nothing is left half-committed.
    pub(super) async fn settle(
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

    /// Reads tags where needed and writes `plans` in batches; the last batch carries `end`.
    ///
    /// The write of one batch overlaps the reading of the next (and the last one's, the
    /// caller's next steps: it is left in `writing`), so the tag readers and the
    /// library's writer work at once. Batches still commit in order, each with the
    /// provider state and the position it led to.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn execute(
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
pub(super) type Writing = std::pin::Pin<Box<dyn Future<Output = Result<Tally, SyncError>> + Send>>;
/// A batch being committed; yields what it did once it is.
#[cfg(all(target_arch = "wasm32", not(target_os = "wasi")))]
pub(super) type Writing = std::pin::Pin<Box<dyn Future<Output = Result<Tally, SyncError>>>>;

/// What one batch does to the library, counted before it is written.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Tally {
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
