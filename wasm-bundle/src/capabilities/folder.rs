//! A folder the person picked (`<input type=file webkitdirectory>`, or files dropped) as
//! the [`FileSystem`] the local provider reads.
//!
//! `File` objects are JavaScript values, which cannot live in a `Send` type: they stay in
//! this worker's thread-local table, and the folder holds their keys. Reads slice the file
//! and read the slice with `FileReaderSync`, so only the bytes asked for are loaded.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use tonearm_plugin_api::{DirEntry, EntryKind, FileStat, FileSystem, PluginError, PluginResult};

thread_local! {
    static FILES: RefCell<HashMap<u64, web_sys::File>> = RefCell::new(HashMap::new());
    static NEXT_KEY: RefCell<u64> = const { RefCell::new(0) };
}

#[derive(Debug, Clone, Copy)]
struct Picked {
    key: u64,
    stat: FileStat,
}

/// Picked files by `/`-separated path relative to the picked folder.
#[derive(Debug)]
pub struct PickedFolder {
    files: BTreeMap<String, Picked>,
}

impl PickedFolder {
    /// The folder made of `files`, each at its path. A path from a folder picker starts
    /// with the picked folder's own name; give `strip_first` to make it the root.
    pub fn new(files: Vec<(String, web_sys::File)>, strip_first: bool) -> Self {
        let mut picked = BTreeMap::new();
        for (path, file) in files {
            let path = path.trim_start_matches('/');
            let path = match (strip_first, path.split_once('/')) {
                (true, Some((_, rest))) => rest.to_owned(),
                _ => path.to_owned(),
            };
            if path.is_empty()
                || path
                    .split('/')
                    .any(|c| c.is_empty() || c == "." || c == "..")
            {
                continue;
            }
            let key = NEXT_KEY.with(|k| {
                let mut k = k.borrow_mut();
                *k += 1;
                *k
            });
            let stat = FileStat {
                size: file.size() as u64,
                modified_ms: file.last_modified() as i64,
                file_id: None,
            };
            FILES.with(|f| f.borrow_mut().insert(key, file));
            picked.insert(path, Picked { key, stat });
        }
        Self { files: picked }
    }

    fn get(&self, path: &str) -> PluginResult<Picked> {
        self.files
            .get(path)
            .copied()
            .ok_or_else(|| PluginError::NotFound(path.to_owned()))
    }
}

impl Drop for PickedFolder {
    fn drop(&mut self) {
        FILES.with(|f| {
            let mut f = f.borrow_mut();
            for p in self.files.values() {
                f.remove(&p.key);
            }
        });
    }
}

impl FileSystem for PickedFolder {
    fn read_dir(&self, path: &str) -> PluginResult<Vec<DirEntry>> {
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{}/", path.trim_end_matches('/'))
        };
        let mut dirs = BTreeSet::new();
        let mut entries = Vec::new();
        for (p, picked) in self.files.range(prefix.clone()..) {
            let Some(rest) = p.strip_prefix(&prefix) else {
                break;
            };
            match rest.split_once('/') {
                Some((dir, _)) => {
                    dirs.insert(dir.to_owned());
                }
                None => entries.push(DirEntry {
                    name: rest.to_owned(),
                    kind: EntryKind::File,
                    stat: picked.stat,
                }),
            }
        }
        if entries.is_empty() && dirs.is_empty() && !path.is_empty() {
            return Err(PluginError::NotFound(path.to_owned()));
        }
        entries.extend(dirs.into_iter().map(|name| DirEntry {
            name,
            kind: EntryKind::Dir,
            stat: FileStat {
                size: 0,
                modified_ms: 0,
                file_id: None,
            },
        }));
        Ok(entries)
    }

    fn stat(&self, path: &str) -> PluginResult<FileStat> {
        Ok(self.get(path)?.stat)
    }

    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> PluginResult<usize> {
        let picked = self.get(path)?;
        let end = offset
            .saturating_add(buf.len() as u64)
            .min(picked.stat.size);
        if offset >= end {
            return Ok(0);
        }
        let bytes = FILES.with(|f| -> Result<js_sys::Uint8Array, String> {
            let files = f.borrow();
            let file = files.get(&picked.key).ok_or("the file was released")?;
            let slice = file
                .slice_with_f64_and_f64(offset as f64, end as f64)
                .map_err(|e| format!("{e:?}"))?;
            let reader = web_sys::FileReaderSync::new().map_err(|e| format!("{e:?}"))?;
            let buffer = reader
                .read_as_array_buffer(&slice)
                .map_err(|e| format!("{e:?}"))?;
            Ok(js_sys::Uint8Array::new(&buffer))
        });
        let bytes = bytes.map_err(|e| PluginError::Io(format!("reading {path}: {e}")))?;
        let n = (bytes.length() as usize).min(buf.len());
        bytes.subarray(0, n as u32).copy_to(&mut buf[..n]);
        Ok(n)
    }
}
