//! The offline cache on disk: each cloud track encrypted in its own file
//! (`tonearm_core::cache::crypt`), an index beside them, and the key in a file of its
//! own, outside the library (and outside the cache folder, so the folder alone reveals
//! nothing).

mod file;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tonearm_core::cache::index::{CacheIndex, Entry};
use tonearm_core::cache::sealing::Sealing;
use tonearm_core::cache::{CacheError, CacheFuture, CacheKey, CacheStatus, TrackCache};
use tonearm_core::events::{CacheEvent, CoreEvent, EventBus};
use tonearm_plugin_api::ByteSource;

use file::CachedFile;

pub use tonearm_core::tonearm::Pinned;

/// Downloads into the cache at once; more wait their turn.
const DOWNLOADS: usize = 2;

/// Where the cache keeps things, and how much.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSettings {
    /// The folder of the encrypted tracks and their index.
    pub dir: PathBuf,
    /// The key's file (created, owner-only, if missing).
    pub key_file: PathBuf,
    /// Bytes the cache may hold besides pinned tracks.
    pub limit: u64,
}

/// The cache on this machine's disk.
#[derive(Clone)]
pub struct DiskCache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for DiskCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskCache")
            .field("dir", &self.inner.settings.dir)
            .finish_non_exhaustive()
    }
}

struct Inner {
    settings: CacheSettings,
    key: [u8; 32],
    /// Serializes this process's index changes; the lock file serializes processes'.
    index: Mutex<()>,
    in_flight: Mutex<HashSet<String>>,
    downloads: Arc<tokio::sync::Semaphore>,
    runtime: tokio::runtime::Handle,
    bus: EventBus,
}

fn storage(what: &str, path: &Path, e: impl std::fmt::Display) -> CacheError {
    CacheError::Storage(format!("{what} {}: {e}", path.display()))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl DiskCache {
    /// Opens (or creates) the cache of `settings`; downloads run on `runtime`, events go
    /// to `bus`. Files the index does not know (a download a kill cut short) are removed.
    pub fn open(
        settings: CacheSettings,
        runtime: tokio::runtime::Handle,
        bus: EventBus,
    ) -> Result<Self, CacheError> {
        std::fs::create_dir_all(&settings.dir)
            .map_err(|e| storage("cannot create", &settings.dir, e))?;
        let key = load_or_make_key(&settings.key_file)?;
        let cache = Self {
            inner: Arc::new(Inner {
                settings,
                key,
                index: Mutex::new(()),
                in_flight: Mutex::new(HashSet::new()),
                downloads: Arc::new(tokio::sync::Semaphore::new(DOWNLOADS)),
                runtime,
                bus,
            }),
        };
        cache.inner.sweep()?;
        Ok(cache)
    }
}

/// Reads the key, or makes one (32 random bytes, readable by the owner only).
fn load_or_make_key(path: &Path) -> Result<[u8; 32], CacheError> {
    match std::fs::read(path) {
        Ok(bytes) => bytes
            .try_into()
            .map_err(|_| storage("not a cache key (32 bytes):", path, "wrong length")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key).map_err(|e| storage("no randomness for", path, e))?;
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| storage("cannot create", parent, e))?;
            }
            // Written aside, then linked into place: two processes starting at once
            // agree on one key (the second link fails and reads the first's).
            let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let written = options.open(&tmp).and_then(|mut file| {
                std::io::Write::write_all(&mut file, &key)?;
                file.sync_all()
            });
            let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
            let _ = std::fs::remove_file(&tmp);
            match linked {
                Ok(()) => Ok(key),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_make_key(path),
                Err(e) => Err(storage("cannot create", path, e)),
            }
        }
        Err(e) => Err(storage("cannot read", path, e)),
    }
}

impl Inner {
    /// Runs `change` on the index as it is on disk, and writes it back if `change` says
    /// it changed something: under this process's lock and the folder's lock file, so
    /// two `tonearm` processes sharing the cache never lose each other's entries.
    fn with_index<R>(
        &self,
        change: impl FnOnce(&mut CacheIndex) -> (R, bool),
    ) -> Result<R, CacheError> {
        let _process = self.index.lock().unwrap_or_else(|e| e.into_inner());
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.settings.dir.join("lock"));
        // Without the lock file (a read-only folder) this process still works alone.
        let _folder = lock.as_ref().ok().map(|file| file.lock());
        let mut index = self.load()?;
        let (result, changed) = change(&mut index);
        if changed {
            self.save(&index)?;
        }
        Ok(result)
    }

    /// The index on disk. One that cannot be parsed is kept aside (`index.json.bad`),
    /// and while it is there no file is swept: its tracks stay for someone to rescue.
    fn load(&self) -> Result<CacheIndex, CacheError> {
        let path = self.settings.dir.join("index.json");
        match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(index) => Ok(index),
                Err(e) => {
                    let aside = self.settings.dir.join("index.json.bad");
                    tracing::warn!(error = %e, aside = %aside.display(), "the cache index is unreadable; kept aside");
                    std::fs::rename(&path, &aside).map_err(|e| storage("cannot move", &path, e))?;
                    Ok(CacheIndex::default())
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(CacheIndex::default()),
            Err(e) => Err(storage("cannot read", &path, e)),
        }
    }

    fn path(&self, id: &str) -> PathBuf {
        self.settings.dir.join(format!("{id}.track"))
    }

    fn emit(&self, event: CacheEvent) {
        self.bus.emit(CoreEvent::Cache(event));
    }

    /// Writes the index: synced, then renamed over the old one, so a crash leaves one
    /// or the other, never an empty file.
    fn save(&self, index: &CacheIndex) -> Result<(), CacheError> {
        let path = self.settings.dir.join("index.json");
        let tmp = self
            .settings
            .dir
            .join(format!("index.json.{}.tmp", std::process::id()));
        let written = serde_json::to_vec(index)
            .map_err(std::io::Error::other)
            .and_then(|bytes| {
                let mut file = std::fs::File::create(&tmp)?;
                std::io::Write::write_all(&mut file, &bytes)?;
                file.sync_all()
            })
            .and_then(|()| std::fs::rename(&tmp, &path))
            .and_then(|()| sync_dir(&self.settings.dir));
        written.map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            storage("cannot save", &path, e)
        })
    }

    /// Removes files no entry names (a download a kill cut short, after a day: another
    /// process may still be writing it), and unpinned entries whose file is gone.
    fn sweep(&self) -> Result<(), CacheError> {
        self.with_index(|index| {
            // An index kept aside as unreadable (maybe by the load just now): its tracks
            // stay for someone to rescue.
            let salvage = self.settings.dir.join("index.json.bad").exists();
            // Listed under the lock: a track another process just stored is in its index.
            let Ok(files) = std::fs::read_dir(&self.settings.dir) else {
                return ((), false);
            };
            let known: HashSet<String> = index
                .entries()
                .map(|(id, _)| format!("{id}.track"))
                .collect();
            let day = std::time::Duration::from_secs(24 * 3600);
            for file in files.flatten() {
                let name = file.file_name().to_string_lossy().into_owned();
                let stale_part = name.ends_with(".part")
                    && file
                        .metadata()
                        .and_then(|m| m.modified())
                        .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > day));
                let unknown = name.ends_with(".track") && !known.contains(&name) && !salvage;
                if unknown || stale_part {
                    let _ = std::fs::remove_file(file.path());
                }
            }
            // A pinned entry stays to be fetched again; the others are simply gone.
            let missing: Vec<String> = index
                .entries()
                .filter(|(id, e)| !e.pinned && !self.path(id).exists())
                .map(|(id, _)| id.clone())
                .collect();
            for id in &missing {
                index.remove(id);
            }
            ((), !missing.is_empty())
        })
    }

    /// Downloads `bytes` into an encrypted `.part` file; returns it and its size.
    fn download(
        &self,
        id: &str,
        track_id: i64,
        size: u64,
        bytes: &dyn ByteSource,
    ) -> Result<(PathBuf, u64), CacheError> {
        let mut prefix = [0u8; 16];
        getrandom::fill(&mut prefix).map_err(|e| CacheError::Storage(e.to_string()))?;
        let sealing = Sealing::new(&self.key, id, size, prefix, bytes);
        let stored = sealing.header().file_len();
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).map_err(|e| CacheError::Storage(e.to_string()))?;
        let part = self.settings.dir.join(format!(
            "{id}.{}.part",
            suffix
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ));
        let result = (|| {
            let mut out = std::io::BufWriter::new(
                std::fs::File::create(&part).map_err(|e| storage("cannot create", &part, e))?,
            );
            for piece in sealing {
                let piece = piece?;
                std::io::Write::write_all(&mut out, &piece.bytes)
                    .map_err(|e| storage("cannot write", &part, e))?;
                if piece.report {
                    self.emit(CacheEvent::Downloading {
                        track_id,
                        bytes: piece.done,
                        total: size,
                    });
                }
            }
            let file = out
                .into_inner()
                .map_err(|e| storage("cannot write", &part, e.error()))?;
            file.sync_all()
                .map_err(|e| storage("cannot write", &part, e))
        })();
        match result {
            Ok(()) => Ok((part, stored)),
            Err(e) => {
                let _ = std::fs::remove_file(&part);
                Err(e)
            }
        }
    }

    /// Stores a track (downloading it if no intact copy is there) and pins it if asked.
    fn store_now(
        &self,
        key: CacheKey,
        track_id: i64,
        size: u64,
        bytes: &dyn ByteSource,
        pin: bool,
    ) -> Result<(), CacheError> {
        let id = key.id();
        let path = self.path(&id);
        let done = self.with_index(|index| {
            if index.get(&id).is_some() && path.exists() {
                let changed = pin && index.set_pinned(track_id, true) > 0;
                (true, changed)
            } else {
                (false, false)
            }
        })?;
        if done {
            return Ok(());
        }
        let (part, stored) = self.download(&id, track_id, size, bytes)?;
        let outcome = self.with_index(|index| {
            let entry = Entry {
                key,
                track_id,
                stored,
                last_used: now_ms(),
                pinned: pin,
            };
            let admitted = match index.admit(id.clone(), entry, self.settings.limit) {
                Ok(admitted) => admitted,
                Err(e) => return (Err(e), false),
            };
            // Put in place under the lock, so no other process's sweep takes it first;
            // if it cannot be, the index is left as it was.
            if let Err(e) = std::fs::rename(&part, &path) {
                return (Err(storage("cannot store", &path, e)), false);
            }
            for gone in &admitted.removed {
                let _ = std::fs::remove_file(self.path(gone));
            }
            (Ok((admitted.evicted_tracks, admitted.pinned)), true)
        });
        match outcome.and_then(|inner| inner) {
            Ok((evicted, pinned)) => {
                for track_id in evicted {
                    self.emit(CacheEvent::Evicted { track_id });
                }
                self.emit(CacheEvent::Stored {
                    track_id,
                    bytes: stored,
                    pinned,
                });
                Ok(())
            }
            Err(e) => {
                let _ = std::fs::remove_file(&part);
                Err(e)
            }
        }
    }
}

/// Makes a rename in `dir` durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

impl DiskCache {
    /// The intact copy stored under `key`, marked used, read on this thread (see
    /// [`TrackCache::open`], which reads off the async threads).
    pub fn open_blocking(&self, key: &CacheKey) -> Option<Arc<dyn ByteSource>> {
        let id = key.id();
        let path = self.inner.path(&id);
        let entry = self
            .inner
            .with_index(|index| (index.get(&id).cloned(), false));
        let track_id = match entry {
            Ok(Some(entry)) => entry.track_id,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "the offline cache is unreadable");
                return None;
            }
        };
        if !path.exists() {
            // Dropped as damaged; a pinned entry waits to be fetched again.
            return None;
        }
        match CachedFile::open(&path, &self.inner.key, &id) {
            Ok(file) => {
                let touched = self.inner.with_index(|index| {
                    index.touch(&id, now_ms());
                    ((), true)
                });
                if let Err(e) = touched {
                    tracing::debug!(error = %e, "cannot mark a cached track used");
                }
                Some(Arc::new(file))
            }
            // A passing failure (too many open files, a busy disk): the copy may be good.
            Err(file::OpenError::Io(error)) => {
                tracing::warn!(%error, path = %path.display(), "cannot read a cached track");
                None
            }
            Err(error) => {
                tracing::warn!(%error, path = %path.display(), "a cached track is damaged; fetching it again");
                // The file goes; the entry (and its pin) stays, to be stored again, and
                // takes no room meanwhile.
                let _ = std::fs::remove_file(&path);
                let _ = self.inner.with_index(|index| {
                    let changed = index.forget_file(&id);
                    ((), changed)
                });
                self.inner.emit(CacheEvent::Corrupt {
                    track_id,
                    error: error.to_string(),
                });
                None
            }
        }
    }
}

impl TrackCache for DiskCache {
    fn open(&self, key: &CacheKey) -> CacheFuture<'_, Option<Arc<dyn ByteSource>>> {
        // Opening checks the whole copy: file reads and decryption, off the async threads.
        let (cache, key) = (self.clone(), key.clone());
        let task = self
            .inner
            .runtime
            .spawn_blocking(move || cache.open_blocking(&key));
        Box::pin(async move { task.await.ok().flatten() })
    }

    fn store(
        &self,
        key: CacheKey,
        track_id: i64,
        size: u64,
        bytes: Arc<dyn ByteSource>,
        pin: bool,
    ) -> CacheFuture<'_, Result<(), CacheError>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            let _permit = inner
                .downloads
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| CacheError::Storage(e.to_string()))?;
            let task = inner.clone();
            inner
                .runtime
                .spawn_blocking(move || task.store_now(key, track_id, size, bytes.as_ref(), pin))
                .await
                .map_err(|e| CacheError::Storage(e.to_string()))?
        })
    }

    fn store_later(&self, key: CacheKey, track_id: i64, size: u64, bytes: Arc<dyn ByteSource>) {
        let id = key.id();
        {
            let mut in_flight = self
                .inner
                .in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if !in_flight.insert(id.clone()) {
                return;
            }
        }
        let cache = self.clone();
        self.inner.runtime.spawn(async move {
            if let Err(e) = cache.store(key, track_id, size, bytes, false).await {
                cache.inner.emit(CacheEvent::Failed {
                    track_id,
                    error: e.to_string(),
                });
            }
            let mut in_flight = cache
                .inner
                .in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            in_flight.remove(&id);
        });
    }

    fn unpin(&self, track_id: i64) -> Result<usize, CacheError> {
        self.inner.with_index(|index| {
            let changed = index.set_pinned(track_id, false);
            (changed, changed > 0)
        })
    }

    fn clear(&self, pinned_too: bool) -> Result<usize, CacheError> {
        self.inner.with_index(|index| {
            let gone: Vec<String> = index
                .entries()
                .filter(|(_, e)| pinned_too || !e.pinned)
                .map(|(id, _)| id.clone())
                .collect();
            for id in &gone {
                index.remove(id);
                let _ = std::fs::remove_file(self.inner.path(id));
            }
            (gone.len(), true)
        })
    }

    fn status(&self) -> Result<CacheStatus, CacheError> {
        // Downloads running, or queued by playback and waiting for a slot.
        let running = DOWNLOADS - self.inner.downloads.available_permits();
        let queued = self
            .inner
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len();
        let mut status = CacheStatus {
            limit: self.inner.settings.limit,
            downloading: running.max(queued) as u64,
            ..CacheStatus::default()
        };
        self.inner.with_index(|index| {
            for (id, entry) in index.entries() {
                if !self.inner.path(id).exists() {
                    continue;
                }
                status.tracks += 1;
                status.bytes += entry.stored;
                if entry.pinned {
                    status.pinned += 1;
                    status.pinned_bytes += entry.stored;
                }
            }
            ((), false)
        })?;
        Ok(status)
    }
}

#[cfg(test)]
mod tests;
