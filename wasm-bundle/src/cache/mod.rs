//! The offline cache in the browser: the core's rules and format (a size limit, least
//! recently used out first, pinned tracks never; authenticated encryption in segments)
//! over the origin-private file system, one folder per library. The key is kept in an
//! IndexedDB database of its own ([`key`]).
//!
//! The index is one file whose synchronous access handle the worker holds while it runs:
//! it is written (and flushed) on every change, and it doubles as the lock that keeps a
//! second tab's worker out of the same cache (that worker plays without one). A copy is
//! read whole and checked when opened: tracks are small next to a worker's memory, and a
//! copy in memory never holds a file another open would need.

mod key;
mod opfs;

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use tonearm_core::cache::crypt::{self, Header, Sealer};
use tonearm_core::cache::index::{CacheIndex, Entry};
use tonearm_core::cache::sealing::Sealing;
use tonearm_core::cache::{CacheError, CacheFuture, CacheKey, CacheStatus, TrackCache};
use tonearm_core::events::{CacheEvent, CoreEvent, EventBus};
use tonearm_core::sync::rt;
use tonearm_plugin_api::{ByteSource, MemoryByteSource};
use web_sys::{FileSystemDirectoryHandle, FileSystemSyncAccessHandle};

/// Downloads running at once; more wait their turn.
const DOWNLOADS: u64 = 2;
/// How long a download holds the worker before giving it back to the player and the page
/// (as a sync does between plugin calls).
const HOLD_MS: f64 = 8.0;

/// The cache of one library, in the origin-private file system.
#[derive(Clone)]
pub(crate) struct OpfsCache {
    inner: Rc<Inner>,
}

struct Inner {
    dir: FileSystemDirectoryHandle,
    index_file: FileSystemSyncAccessHandle,
    index: RefCell<CacheIndex>,
    key: [u8; 32],
    limit: u64,
    bus: EventBus,
    in_flight: RefCell<HashSet<String>>,
    /// Entries whose files are being removed: a new copy waits until they are gone.
    removing: RefCell<HashSet<String>>,
    /// Downloads running or waiting.
    downloads: Cell<u64>,
    running: Cell<u64>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The handle is the cache's lock: the next worker may take it now.
        self.index_file.close();
    }
}

fn storage(e: String) -> CacheError {
    CacheError::Storage(e)
}

fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

fn file_name(id: &str) -> String {
    format!("{id}.track")
}

impl OpfsCache {
    /// Opens (or creates) the cache of library `database`, holding at most `limit` bytes
    /// of unpinned tracks. Fails where the browser has no origin-private file system, or
    /// another worker holds this cache.
    pub(crate) async fn open(database: &str, limit: u64, bus: EventBus) -> Result<Self, String> {
        let dir = opfs::folder(&format!("{database}.cache")).await?;
        let index_file = opfs::handle(&dir, "index.json", true)
            .await?
            .ok_or("the offline cache: its index cannot be created")?;
        // The handle is the cache's lock: closed on the way out of a failed open, not left
        // to the garbage collector.
        let opened = async {
            let key = key::load_or_make(&format!("{database}.cache-key")).await?;
            let bytes = opfs::read_all(&index_file)?;
            let names = opfs::names(&dir).await?;
            Ok::<_, String>((key, bytes, names))
        }
        .await;
        let (key, bytes, names) = match opened {
            Ok(opened) => opened,
            Err(e) => {
                index_file.close();
                return Err(e);
            }
        };
        // An index cut short (a tab closed mid-write) or damaged: its copies cannot be
        // told apart, and nobody can rescue files here, so they are swept and fetched
        // again as they play. Pins go with it.
        let index = if bytes.is_empty() {
            CacheIndex::default()
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the cache index is unreadable; starting it anew");
                CacheIndex::default()
            })
        };
        let cache = Self {
            inner: Rc::new(Inner {
                dir,
                index_file,
                index: RefCell::new(index),
                key,
                limit,
                bus,
                in_flight: RefCell::default(),
                removing: RefCell::default(),
                downloads: Cell::new(0),
                running: Cell::new(0),
            }),
        };
        cache.inner.sweep(&names).await?;
        Ok(cache)
    }
}

impl Inner {
    /// Runs `change` on the index and writes it if `change` says it changed something.
    fn with_index<R>(
        &self,
        change: impl FnOnce(&mut CacheIndex) -> (R, bool),
    ) -> Result<R, CacheError> {
        let mut index = self.index.borrow_mut();
        let mut changed_index = index.clone();
        let (result, changed) = change(&mut changed_index);
        if changed {
            let bytes = serde_json::to_vec(&changed_index)
                .map_err(|e| CacheError::Storage(e.to_string()))?;
            opfs::replace(&self.index_file, &bytes).map_err(storage)?;
            *index = changed_index;
        }
        Ok(result)
    }

    fn emit(&self, event: CacheEvent) {
        self.bus.emit(CoreEvent::Cache(event));
    }

    /// Removes files no entry names (a download the closing of a tab cut short), and
    /// unpinned entries whose file is gone.
    async fn sweep(&self, names: &[String]) -> Result<(), String> {
        let known: HashSet<String> = self
            .index
            .borrow()
            .entries()
            .map(|(id, _)| file_name(id))
            .collect();
        for name in names {
            if name.ends_with(".track") && !known.contains(name) {
                opfs::remove(&self.dir, name).await?;
            }
        }
        let present: HashSet<&String> = names.iter().collect();
        self.with_index(|index| {
            let missing: Vec<String> = index
                .entries()
                .filter(|(id, e)| !e.pinned && !present.contains(&file_name(id)))
                .map(|(id, _)| id.clone())
                .collect();
            for id in &missing {
                index.remove(id);
            }
            ((), !missing.is_empty())
        })
        .map_err(|e| e.to_string())
    }

    /// Removes the files of entries that left the index, in the background.
    fn remove_files(self: &Rc<Self>, ids: Vec<String>) {
        if ids.is_empty() {
            return;
        }
        self.removing.borrow_mut().extend(ids.iter().cloned());
        let this = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            for id in ids {
                if let Err(e) = opfs::remove(&this.dir, &file_name(&id)).await {
                    tracing::warn!(error = %e, "cannot remove a cached track");
                }
                this.removing.borrow_mut().remove(&id);
            }
        });
    }

    /// The intact copy of `id`, decrypted; `Ok(None)` if it is not stored.
    async fn read(&self, id: &str) -> Result<Option<Vec<u8>>, ReadError> {
        let Some(handle) = opfs::handle(&self.dir, &file_name(id), false)
            .await
            .map_err(ReadError::Storage)?
        else {
            return Ok(None);
        };
        let sealed = opfs::read_all(&handle);
        handle.close();
        let sealed = sealed.map_err(ReadError::Storage)?;
        let header = Header::decode(&sealed).map_err(ReadError::Damaged)?;
        if sealed.len() as u64 != header.file_len() {
            return Err(ReadError::Damaged(crypt::CryptError::Header));
        }
        let sealer = Sealer::new(&self.key, header, id);
        let mut plain = Vec::with_capacity(sealed.len());
        for i in 0..header.segments() {
            let start = header.offset(i) as usize;
            let end = start + (header.plain_len(i) + crypt::TAG) as usize;
            let segment = sealer
                .open(i, &sealed[start..end])
                .map_err(ReadError::Damaged)?;
            plain.extend_from_slice(&segment);
        }
        Ok(Some(plain))
    }

    /// Downloads `bytes` into the encrypted file of `id`; returns the bytes it takes.
    async fn download(
        &self,
        id: &str,
        track_id: i64,
        size: u64,
        bytes: &dyn ByteSource,
    ) -> Result<u64, CacheError> {
        let mut prefix = [0u8; 16];
        opfs::random(&mut prefix).map_err(storage)?;
        let sealing = Sealing::new(&self.key, id, size, prefix, bytes);
        let stored = sealing.header().file_len();
        let name = file_name(id);
        while self.removing.borrow().contains(id) {
            rt::sleep(Duration::from_millis(5)).await;
        }
        let handle = opfs::handle(&self.dir, &name, true)
            .await
            .map_err(storage)?
            .ok_or_else(|| CacheError::Storage(format!("cannot create {name}")))?;
        let written = async {
            handle
                .truncate_with_u32(0)
                .map_err(|e| storage(opfs::failed("cannot cut a file")(e)))?;
            let mut held_since = js_sys::Date::now();
            for piece in sealing {
                let piece = piece?;
                opfs::write_at(&handle, piece.offset, &piece.bytes).map_err(storage)?;
                if piece.report {
                    self.emit(CacheEvent::Downloading {
                        track_id,
                        bytes: piece.done,
                        total: size,
                    });
                }
                if js_sys::Date::now() - held_since >= HOLD_MS {
                    // Reads block the worker: let the player and the page have it.
                    rt::sleep(Duration::ZERO).await;
                    held_since = js_sys::Date::now();
                }
            }
            handle
                .flush()
                .map_err(|e| storage(opfs::failed("cannot flush a file")(e)))
        }
        .await;
        handle.close();
        if written.is_err() {
            let _ = opfs::remove(&self.dir, &name).await;
        }
        written.map(|()| stored)
    }

    /// Stores a track (downloading it if no copy is there) and pins it if asked.
    async fn store_now(
        self: Rc<Self>,
        key: CacheKey,
        track_id: i64,
        size: u64,
        bytes: Arc<dyn ByteSource>,
        pin: bool,
    ) -> Result<(), CacheError> {
        let id = key.id();
        self.downloads.set(self.downloads.get() + 1);
        // One download of an entry at a time (a pin of the track that is being stored as
        // it plays waits for that download), and a slot among the running ones.
        while self.in_flight.borrow().contains(&id) || self.running.get() >= DOWNLOADS {
            rt::sleep(Duration::from_millis(20)).await;
        }
        let stored = self.with_index(|index| match index.get(&id) {
            Some(entry) if entry.stored > 0 => {
                let changed = pin && index.set_pinned(track_id, true) > 0;
                (true, changed)
            }
            _ => (false, false),
        });
        if !matches!(stored, Ok(false)) {
            self.downloads.set(self.downloads.get() - 1);
            return stored.map(|_| ());
        }
        self.in_flight.borrow_mut().insert(id.clone());
        self.running.set(self.running.get() + 1);
        let downloaded = self.download(&id, track_id, size, bytes.as_ref()).await;
        self.running.set(self.running.get() - 1);
        self.downloads.set(self.downloads.get() - 1);
        let admitted =
            downloaded.and_then(|stored| self.admit(key, id.clone(), track_id, stored, pin));
        self.in_flight.borrow_mut().remove(&id);
        admitted
    }

    /// Records a copy just downloaded, making room for it.
    fn admit(
        self: &Rc<Self>,
        key: CacheKey,
        id: String,
        track_id: i64,
        stored: u64,
        pin: bool,
    ) -> Result<(), CacheError> {
        let entry = Entry {
            key,
            track_id,
            stored,
            last_used: now_ms(),
            pinned: pin,
        };
        let admitted = self.with_index(|index| match index.admit(id.clone(), entry, self.limit) {
            Ok(admitted) => (Ok(admitted), true),
            Err(e) => (Err(e), false),
        });
        let admitted = match admitted.and_then(|a| a) {
            Ok(admitted) => admitted,
            Err(e) => {
                self.remove_files(vec![id]);
                return Err(e);
            }
        };
        self.remove_files(admitted.removed);
        for track_id in admitted.evicted_tracks {
            self.emit(CacheEvent::Evicted { track_id });
        }
        self.emit(CacheEvent::Stored {
            track_id,
            bytes: stored,
            pinned: admitted.pinned,
        });
        Ok(())
    }
}

/// Why a stored copy could not be read.
enum ReadError {
    /// The file system failed: the copy may be good.
    Storage(String),
    /// The copy was changed or cut.
    Damaged(crypt::CryptError),
}

impl TrackCache for OpfsCache {
    fn open(&self, key: &CacheKey) -> CacheFuture<'_, Option<Arc<dyn ByteSource>>> {
        let id = key.id();
        let inner = self.inner.clone();
        Box::pin(async move {
            let track_id = match inner.index.borrow().get(&id) {
                Some(entry) if entry.stored > 0 => entry.track_id,
                _ => return None,
            };
            match inner.read(&id).await {
                Ok(Some(plain)) => {
                    let touched = inner.with_index(|index| {
                        index.touch(&id, now_ms());
                        ((), true)
                    });
                    if let Err(e) = touched {
                        tracing::debug!(error = %e, "cannot mark a cached track used");
                    }
                    Some(Arc::new(MemoryByteSource::new(plain)) as Arc<dyn ByteSource>)
                }
                Ok(None) => {
                    // Listed but gone: fetched again when it next plays.
                    let _ = inner.with_index(|index| {
                        let changed = index.forget_file(&id);
                        ((), changed)
                    });
                    None
                }
                Err(ReadError::Storage(error)) => {
                    tracing::warn!(%error, "cannot read a cached track");
                    None
                }
                Err(ReadError::Damaged(error)) => {
                    // The file goes; the entry (and its pin) stays, to be stored again,
                    // and takes no room meanwhile.
                    let _ = inner.with_index(|index| {
                        let changed = index.forget_file(&id);
                        ((), changed)
                    });
                    inner.remove_files(vec![id]);
                    inner.emit(CacheEvent::Corrupt {
                        track_id,
                        error: error.to_string(),
                    });
                    None
                }
            }
        })
    }

    fn store(
        &self,
        key: CacheKey,
        track_id: i64,
        size: u64,
        bytes: Arc<dyn ByteSource>,
        pin: bool,
    ) -> CacheFuture<'_, Result<(), CacheError>> {
        Box::pin(
            self.inner
                .clone()
                .store_now(key, track_id, size, bytes, pin),
        )
    }

    fn store_later(&self, key: CacheKey, track_id: i64, size: u64, bytes: Arc<dyn ByteSource>) {
        if self.inner.in_flight.borrow().contains(&key.id()) {
            // Being stored already.
            return;
        }
        let inner = self.inner.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let result = inner
                .clone()
                .store_now(key, track_id, size, bytes, false)
                .await;
            if let Err(e) = result {
                inner.emit(CacheEvent::Failed {
                    track_id,
                    error: e.to_string(),
                });
            }
        });
    }

    fn unpin(&self, track_id: i64) -> Result<usize, CacheError> {
        self.inner.with_index(|index| {
            let changed = index.set_pinned(track_id, false);
            (changed, changed > 0)
        })
    }

    fn clear(&self, pinned_too: bool) -> Result<usize, CacheError> {
        let gone = self.inner.with_index(|index| {
            let gone: Vec<String> = index
                .entries()
                .filter(|(_, e)| pinned_too || !e.pinned)
                .map(|(id, _)| id.clone())
                .collect();
            for id in &gone {
                index.remove(id);
            }
            let changed = !gone.is_empty();
            (gone, changed)
        })?;
        let count = gone.len();
        self.inner.remove_files(gone);
        Ok(count)
    }

    fn status(&self) -> Result<CacheStatus, CacheError> {
        let index = self.inner.index.borrow();
        let (mut status, limit) = (CacheStatus::default(), self.inner.limit);
        for (_, entry) in index.entries().filter(|(_, e)| e.stored > 0) {
            status.tracks += 1;
            status.bytes += entry.stored;
            if entry.pinned {
                status.pinned += 1;
                status.pinned_bytes += entry.stored;
            }
        }
        status.limit = limit;
        status.downloading = self.inner.downloads.get();
        Ok(status)
    }
}

#[cfg(test)]
mod tests;
