//! A point-in-time record of the granted folder, and the changes between two of them.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::walk::{self, Folder};
use tonearm_plugin_api::{
    Change, FileSystem, Log, LogLevel, PluginError, PluginResult, RemoteEntry,
};

/// Size, time and identity of one file.
///
/// Stored as an array, `[size, modified_ms, file_id]`: a snapshot holds one per file and
/// a rescan parses them all, so field names repeated per file were most of its bytes.
/// Snapshots stored before, with named fields, still read (a derived `Deserialize`
/// accepts both forms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "(u64, i64, Option<u64>)")]
pub(crate) struct FileRecord {
    pub(crate) size: u64,
    pub(crate) modified_ms: i64,
    pub(crate) file_id: Option<u64>,
}

impl From<FileRecord> for (u64, i64, Option<u64>) {
    fn from(r: FileRecord) -> Self {
        (r.size, r.modified_ms, r.file_id)
    }
}

/// Every visible file under the root, by relative path, in path order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Snapshot {
    pub(crate) files: BTreeMap<String, FileRecord>,
    /// Folders that could not be read: nothing under them counts as deleted.
    pub(crate) unreadable: Vec<String>,
}

impl Snapshot {
    /// Walks the whole granted folder. Hidden entries (names starting with `.`) and anything
    /// that is neither a file nor a folder are skipped.
    pub(crate) fn take(fs: &dyn FileSystem, log: &dyn Log) -> PluginResult<Self> {
        let mut snapshot = Snapshot::default();
        // The root itself must be readable; anything below may fail alone.
        let mut found = Folder::default();
        found.add("", fs.read_dir("")?);
        let mut files = found.files;
        // Level by level: no recursion, so deep nesting cannot overflow the stack.
        let mut dirs = found.dirs;
        while !dirs.is_empty() {
            let mut next = Vec::new();
            let listed = walk::list_level(fs, &dirs);
            for (dir, listed) in dirs.into_iter().zip(listed) {
                match listed {
                    Ok(folder) => {
                        files.extend(folder.files);
                        next.extend(folder.dirs);
                    }
                    Err(e) => {
                        log.log(
                            LogLevel::Warn,
                            &format!("skipping unreadable folder {dir:?}: {e}"),
                        );
                        snapshot.unreadable.push(dir);
                    }
                }
            }
            dirs = next;
        }
        snapshot.files = files.into_iter().collect();
        // In path order, whatever order the walk met them in: a rescan compares them.
        snapshot.unreadable.sort_unstable();
        Ok(snapshot)
    }

    fn under_unreadable(&self, path: &str) -> bool {
        self.unreadable.iter().any(|d| {
            path.strip_prefix(d.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
        })
    }

    /// Keeps the records of `old` under folders this snapshot could not read, so a folder
    /// that is briefly unreadable does not look like a mass deletion.
    pub(crate) fn carry_over_unreadable(&mut self, old: &Snapshot) {
        if self.unreadable.is_empty() {
            return;
        }
        for (path, record) in &old.files {
            if self.under_unreadable(path) {
                self.files.entry(path.clone()).or_insert(*record);
            }
        }
    }

    /// Serialises for the host's state store.
    pub(crate) fn to_bytes(&self) -> PluginResult<Vec<u8>> {
        serde_json::to_vec(self)
            .map_err(|e| PluginError::Internal(format!("cannot encode snapshot: {e}")))
    }

    /// Reads a snapshot back from the state store.
    pub(crate) fn from_bytes(bytes: &[u8]) -> PluginResult<Self> {
        serde_json::from_slice(bytes)
            .map_err(|e| PluginError::Corrupt(format!("stored snapshot: {e}")))
    }
}

/// The entry the host sees for one file.
pub(crate) fn entry(path: &str, record: &FileRecord) -> RemoteEntry {
    RemoteEntry {
        id: path.to_owned(),
        path: path.to_owned(),
        size: record.size,
        modified_ms: Some(record.modified_ms),
        content_hash: None,
        mime: None,
    }
}

/// What changed from `old` to `new`: removals first, then moves, then additions and
/// modifications.
pub(crate) fn diff(old: &Snapshot, new: &Snapshot) -> Vec<Change> {
    let mut removed: Vec<(&String, &FileRecord)> = Vec::new();
    let mut added: Vec<(&String, &FileRecord)> = Vec::new();
    let mut upserts = Vec::new();
    // Both are in path order: one pass over the two, no lookup per file.
    let (mut before, mut after) = (old.files.iter().peekable(), new.files.iter().peekable());
    loop {
        match (before.peek(), after.peek()) {
            (None, None) => break,
            (Some(_), None) => removed.extend(before.by_ref()),
            (None, Some(_)) => added.extend(after.by_ref()),
            (Some((was, _)), Some((is, _))) => match was.cmp(is) {
                std::cmp::Ordering::Less => removed.extend(before.next()),
                std::cmp::Ordering::Greater => added.extend(after.next()),
                std::cmp::Ordering::Equal => {
                    if let (Some((_, old_record)), Some((path, record))) =
                        (before.next(), after.next())
                        && old_record != record
                    {
                        upserts.push(Change::Upsert {
                            entry: entry(path, record),
                        });
                    }
                }
            },
        }
    }

    // A rename keeps the file's identity (inode) and contents; without an identity, a
    // unique (size, mtime) pair is the next best evidence.
    let mut by_id: HashMap<u64, usize> = HashMap::new();
    let mut by_shape: HashMap<(u64, i64), Option<usize>> = HashMap::new();
    for (i, (_, r)) in removed.iter().enumerate() {
        if let Some(id) = r.file_id {
            by_id.insert(id, i);
        }
        by_shape
            .entry((r.size, r.modified_ms))
            .and_modify(|e| *e = None)
            .or_insert(Some(i));
    }
    let mut added_shapes: HashMap<(u64, i64), usize> = HashMap::new();
    for (_, r) in &added {
        *added_shapes.entry((r.size, r.modified_ms)).or_default() += 1;
    }

    let mut moved_from = vec![false; removed.len()];
    let mut moves = Vec::new();
    let mut additions = Vec::new();
    for (path, record) in added {
        let shape = (record.size, record.modified_ms);
        let by_identity = record.file_id.and_then(|id| by_id.get(&id).copied());
        let candidate = by_identity.or_else(|| {
            let unique_here = added_shapes.get(&shape) == Some(&1);
            let any_identity = record.file_id.is_some();
            by_shape
                .get(&shape)
                .copied()
                .flatten()
                .filter(|_| unique_here && !any_identity)
        });
        match candidate {
            Some(i) if !moved_from[i] && removed[i].1.size == record.size => {
                moved_from[i] = true;
                moves.push(Change::Moved {
                    from_id: removed[i].0.clone(),
                    entry: entry(path, record),
                });
            }
            _ => additions.push(Change::Upsert {
                entry: entry(path, record),
            }),
        }
    }

    let mut changes: Vec<Change> = removed
        .iter()
        .zip(&moved_from)
        .filter(|(_, moved)| !**moved)
        .filter(|((path, _), _)| !new.under_unreadable(path))
        .map(|((path, _), _)| Change::Removed {
            id: (*path).clone(),
        })
        .collect();
    changes.extend(moves);
    changes.extend(additions);
    changes.extend(upserts);
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(files: &[(&str, u64, i64, Option<u64>)]) -> Snapshot {
        Snapshot {
            files: files
                .iter()
                .map(|&(p, size, modified_ms, file_id)| {
                    (
                        p.to_owned(),
                        FileRecord {
                            size,
                            modified_ms,
                            file_id,
                        },
                    )
                })
                .collect(),
            unreadable: Vec::new(),
        }
    }

    #[test]
    fn interleaved_paths_are_each_classified_once() {
        let old = snap(&[
            ("a", 1, 1, Some(1)),
            ("c", 3, 3, Some(3)),
            ("e", 5, 5, Some(5)),
            ("g", 7, 7, Some(7)),
        ]);
        let new = snap(&[
            ("b", 2, 2, Some(2)),
            ("c", 30, 3, Some(3)),
            ("d", 4, 4, Some(4)),
            ("e", 5, 5, Some(5)),
            ("h", 8, 8, Some(8)),
        ]);
        let ids = |f: fn(&Change) -> Option<&str>| -> Vec<String> {
            diff(&old, &new)
                .iter()
                .filter_map(f)
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(
            ids(|c| match c {
                Change::Removed { id } => Some(id),
                _ => None,
            }),
            ["a", "g"]
        );
        assert_eq!(
            ids(|c| match c {
                Change::Upsert { entry } => Some(&entry.id),
                _ => None,
            }),
            ["b", "d", "h", "c"]
        );
        assert_eq!(diff(&new, &new), vec![]);
    }

    #[test]
    fn records_are_stored_as_arrays_and_the_named_form_still_reads() {
        let snapshot = snap(&[("a.mp3", 10, 1, Some(7)), ("b.mp3", 20, -2, None)]);
        let bytes = snapshot.to_bytes().unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains(r#""a.mp3":[10,1,7]"#), "{text}");
        assert!(!text.contains("size"), "{text}");
        assert_eq!(Snapshot::from_bytes(&bytes).unwrap(), snapshot);
        // As snapshots were stored before this form: a rescan after an upgrade reads them.
        let stored = br#"{"files":{"a.mp3":{"size":10,"modified_ms":1,"file_id":7},
            "b.mp3":{"size":20,"modified_ms":-2,"file_id":null}},"unreadable":[]}"#;
        assert_eq!(Snapshot::from_bytes(stored).unwrap(), snapshot);
    }

    #[test]
    fn rename_with_identity_is_a_move() {
        let old = snap(&[("a.mp3", 10, 1, Some(7)), ("b.mp3", 10, 1, Some(8))]);
        let new = snap(&[("x/a.mp3", 10, 1, Some(7)), ("b.mp3", 10, 1, Some(8))]);
        let changes = diff(&old, &new);
        assert_eq!(changes.len(), 1);
        assert!(
            matches!(&changes[0], Change::Moved { from_id, entry } if from_id == "a.mp3" && entry.id == "x/a.mp3")
        );
    }

    #[test]
    fn without_identity_only_unique_shapes_are_moves() {
        let old = snap(&[("a", 10, 1, None), ("b", 10, 1, None), ("c", 20, 2, None)]);
        let new = snap(&[
            ("a2", 10, 1, None),
            ("b2", 10, 1, None),
            ("c2", 20, 2, None),
        ]);
        let changes = diff(&old, &new);
        let moves: Vec<_> = changes
            .iter()
            .filter(|c| matches!(c, Change::Moved { .. }))
            .collect();
        assert_eq!(moves.len(), 1, "{changes:?}");
        assert_eq!(
            changes
                .iter()
                .filter(|c| matches!(c, Change::Removed { .. }))
                .count(),
            2
        );
    }

    #[test]
    fn modification_and_deletion() {
        let old = snap(&[("a", 10, 1, Some(1)), ("b", 10, 1, Some(2))]);
        let new = snap(&[("a", 11, 2, Some(1))]);
        let changes = diff(&old, &new);
        assert_eq!(
            changes,
            vec![
                Change::Removed { id: "b".into() },
                Change::Upsert {
                    entry: entry(
                        "a",
                        &FileRecord {
                            size: 11,
                            modified_ms: 2,
                            file_id: Some(1)
                        }
                    )
                }
            ]
        );
    }

    #[test]
    fn unreadable_folders_do_not_delete_their_files() {
        let old = snap(&[("locked/a", 1, 1, None), ("locked2", 1, 1, None)]);
        let mut new = snap(&[]);
        new.unreadable.push("locked".into());
        new.carry_over_unreadable(&old);
        let changes = diff(&old, &new);
        assert_eq!(
            changes,
            vec![Change::Removed {
                id: "locked2".into()
            }]
        );
    }
}
