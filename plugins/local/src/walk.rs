//! Walking the granted folder, a level of folders at a time, on every core there is.
//!
//! A walk is a listing and a `stat` per entry: system calls, each waiting on the kernel's
//! lookups. Folders of one level do not depend on each other, so their listings run on
//! up to [`MAX_THREADS`] threads; a level of one folder, and a platform without threads
//! (a WebAssembly plugin), walks on the calling thread.

use std::sync::atomic::{AtomicUsize, Ordering};

use tonearm_plugin_api::{DirEntry, EntryKind, FileSystem, PluginResult};

use crate::snapshot::FileRecord;

/// Listings at once at most: beyond a few, threads only wait on the same disk.
const MAX_THREADS: usize = 4;

/// What one folder held: its visible files and folders, by path from the root.
#[derive(Default)]
pub(crate) struct Level {
    pub(crate) files: Vec<(String, FileRecord)>,
    pub(crate) dirs: Vec<String>,
}

impl Level {
    /// Adds the entries of `dir`, skipping hidden names (starting with `.`) and anything
    /// that is neither a file nor a folder.
    pub(crate) fn add(&mut self, dir: &str, entries: Vec<DirEntry>) {
        for entry in entries {
            if entry.name.starts_with('.') {
                continue;
            }
            let path = if dir.is_empty() {
                entry.name
            } else {
                format!("{dir}/{}", entry.name)
            };
            match entry.kind {
                EntryKind::Dir => self.dirs.push(path),
                EntryKind::File => {
                    let s = entry.stat;
                    self.files.push((
                        path,
                        FileRecord {
                            size: s.size,
                            modified_ms: s.modified_ms,
                            file_id: s.file_id,
                        },
                    ));
                }
                EntryKind::Other => {}
            }
        }
    }
}

/// Lists every folder of `dirs`: each one's entries, or why it could not be read, in the
/// order of `dirs`.
pub(crate) fn list_level(fs: &dyn FileSystem, dirs: &[String]) -> Vec<PluginResult<Level>> {
    let list = |dir: &String| {
        fs.read_dir(dir).map(|entries| {
            let mut level = Level::default();
            level.add(dir, entries);
            level
        })
    };
    let threads = threads().min(dirs.len());
    if threads <= 1 {
        return dirs.iter().map(list).collect();
    }
    // Each thread takes the next folder not yet taken, so a large folder holds up one
    // thread only.
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(dir) = dirs.get(index) else {
                return done;
            };
            done.push((index, list(dir)));
        }
    };
    let mut listed = std::thread::scope(|scope| {
        // A thread that cannot be started leaves its share to the others; this one works
        // too.
        let helpers: Vec<_> = (1..threads)
            .filter_map(|_| std::thread::Builder::new().spawn_scoped(scope, work).ok())
            .collect();
        let mut listed = work();
        for helper in helpers {
            match helper.join() {
                Ok(done) => listed.extend(done),
                // The host contains a plugin's panics; this one goes on as it came.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        listed
    });
    listed.sort_unstable_by_key(|(index, _)| *index);
    listed.into_iter().map(|(_, level)| level).collect()
}

/// How many threads a level may use here.
fn threads() -> usize {
    if cfg!(target_family = "wasm") {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS))
}
