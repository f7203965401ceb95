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

/// What one folder holds: its visible files and folders, by path from the root.
#[derive(Default)]
pub(crate) struct Folder {
    pub(crate) files: Vec<(String, FileRecord)>,
    pub(crate) dirs: Vec<String>,
}

impl Folder {
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
pub(crate) fn list_level(fs: &dyn FileSystem, dirs: &[String]) -> Vec<PluginResult<Folder>> {
    let list = |dir: &String| {
        fs.read_dir(dir).map(|entries| {
            let mut folder = Folder::default();
            folder.add(dir, entries);
            folder
        })
    };
    let threads = threads().min(dirs.len());
    if threads <= 1 {
        return dirs.iter().map(list).collect();
    }
    // Each thread takes the next folder not yet taken, so a large folder holds up one
    // thread only.
    let next = AtomicUsize::new(0);
    // What the file system reports from a helper thread (a name skipped, say) belongs to
    // the plugin call that walks, as it does from this one.
    let span = tracing::Span::current();
    let work = || {
        let _entered = span.enter();
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

/// How many threads a level may use here (asked once: it reads the process's CPU quota).
fn threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| {
        if cfg!(target_family = "wasm") {
            return 1;
        }
        std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS))
    })
}

#[cfg(test)]
mod tests {
    use tonearm_plugin_api::{FileStat, PluginError};

    use super::*;

    /// Folders `0`…`N`, each holding files `0.mp3`…`N.mp3` and a folder `sub`; listing
    /// folder `3` fails.
    struct Numbered;

    impl FileSystem for Numbered {
        fn read_dir(&self, path: &str) -> PluginResult<Vec<DirEntry>> {
            let n: u64 = path
                .parse()
                .map_err(|_| PluginError::NotFound(path.into()))?;
            if n == 3 {
                return Err(PluginError::Io("unreadable".into()));
            }
            let stat = |size| FileStat {
                size,
                modified_ms: 7,
                file_id: Some(size),
            };
            let mut entries: Vec<DirEntry> = (0..=n)
                .map(|i| DirEntry {
                    name: format!("{i}.mp3"),
                    kind: EntryKind::File,
                    stat: stat(n * 100 + i),
                })
                .collect();
            entries.push(DirEntry {
                name: "sub".into(),
                kind: EntryKind::Dir,
                stat: stat(0),
            });
            entries.push(DirEntry {
                name: ".hidden".into(),
                kind: EntryKind::File,
                stat: stat(0),
            });
            Ok(entries)
        }

        fn stat(&self, path: &str) -> PluginResult<FileStat> {
            Err(PluginError::NotFound(path.into()))
        }

        fn read_at(&self, path: &str, _: u64, _: &mut [u8]) -> PluginResult<usize> {
            Err(PluginError::NotFound(path.into()))
        }
    }

    #[test]
    fn a_level_lists_every_folder_in_order_whatever_thread_lists_it() {
        let dirs: Vec<String> = (0..40).map(|n| n.to_string()).collect();
        let listed = list_level(&Numbered, &dirs);
        assert_eq!(listed.len(), dirs.len());
        for (n, folder) in listed.iter().enumerate() {
            if n == 3 {
                assert!(folder.is_err(), "folder 3 fails alone");
                continue;
            }
            let folder = folder.as_ref().unwrap();
            assert_eq!(folder.dirs, [format!("{n}/sub")]);
            assert_eq!(folder.files.len(), n + 1, "hidden files are skipped");
            for (i, (path, record)) in folder.files.iter().enumerate() {
                assert_eq!(path, &format!("{n}/{i}.mp3"));
                assert_eq!(record.size, (n * 100 + i) as u64);
            }
        }
    }
}
