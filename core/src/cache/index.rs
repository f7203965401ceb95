//! What the cache holds and what it lets go: least recently used first, never a pinned
//! entry, until the whole fits the size limit.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{CacheError, CacheKey};

/// One cached track.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// What it is a copy of.
    pub key: CacheKey,
    /// The library track it was stored for.
    pub track_id: i64,
    /// Bytes it takes on disk.
    pub stored: u64,
    /// When it was last opened or stored (ms since the epoch).
    pub last_used: i64,
    /// Kept whatever the limit.
    pub pinned: bool,
}

/// The cache's entries, by entry id ([`CacheKey::id`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheIndex {
    entries: BTreeMap<String, Entry>,
}

impl CacheIndex {
    /// The entry stored under `id`.
    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.entries.get(id)
    }

    /// Every entry, by id.
    pub fn entries(&self) -> impl Iterator<Item = (&String, &Entry)> {
        self.entries.iter()
    }

    /// Bytes of every entry.
    pub fn total(&self) -> u64 {
        self.entries.values().map(|e| e.stored).sum()
    }

    /// Marks `id` used at `now`.
    pub fn touch(&mut self, id: &str, now: i64) {
        if let Some(entry) = self.entries.get_mut(id) {
            entry.last_used = now;
        }
    }

    /// Adds (or replaces) an entry; any other entry for the same source file (an older
    /// version) goes. Returns the ids of the entries removed.
    pub fn insert(&mut self, id: String, entry: Entry) -> Vec<String> {
        let stale: Vec<String> = self
            .entries
            .iter()
            .filter(|(other, e)| {
                **other != id
                    && e.key.source == entry.key.source
                    && e.key.remote_id == entry.key.remote_id
            })
            .map(|(other, _)| other.clone())
            .collect();
        // A pin is on the track: it carries over to the new version of its file.
        let mut pinned = entry.pinned || self.entries.get(&id).is_some_and(|e| e.pinned);
        for other in &stale {
            pinned |= self.entries.remove(other).is_some_and(|e| e.pinned);
        }
        self.entries.insert(id, Entry { pinned, ..entry });
        stale
    }

    /// Removes an entry.
    pub fn remove(&mut self, id: &str) -> Option<Entry> {
        self.entries.remove(id)
    }

    /// Notes that `id`'s file is gone (dropped as damaged): the entry stays for its pin,
    /// taking no room until stored again. Returns whether it was there.
    pub fn forget_file(&mut self, id: &str) -> bool {
        match self.entries.get_mut(id) {
            Some(entry) => {
                entry.stored = 0;
                true
            }
            None => false,
        }
    }

    /// Pins or unpins every entry of `track`; returns how many changed.
    pub fn set_pinned(&mut self, track: i64, pinned: bool) -> usize {
        let mut changed = 0;
        for entry in self.entries.values_mut().filter(|e| e.track_id == track) {
            if entry.pinned != pinned {
                entry.pinned = pinned;
                changed += 1;
            }
        }
        changed
    }

    /// The entries to remove, least recently used first and never a pinned one, so that
    /// the rest (with `incoming` bytes about to be added) fit in `limit`.
    pub fn evictions(&self, limit: u64, incoming: u64) -> Vec<String> {
        let mut total = self.total() + incoming;
        let mut candidates: Vec<(&String, &Entry)> =
            self.entries.iter().filter(|(_, e)| !e.pinned).collect();
        candidates.sort_by_key(|(id, e)| (e.last_used, (*id).clone()));
        let mut out = Vec::new();
        for (id, entry) in candidates {
            if total <= limit {
                break;
            }
            total -= entry.stored;
            out.push(id.clone());
        }
        out
    }

    /// Adds a copy just stored (`entry`, under `id`), making room for it: an entry of
    /// the same id (its file dropped as damaged) is replaced with its pin kept, the least
    /// recently used unpinned entries are evicted until everything fits in `limit`, and
    /// older versions of the same file go. An unpinned copy that still does not fit is
    /// refused and nothing changes; a pinned one is kept whatever the limit.
    pub fn admit(&mut self, id: String, entry: Entry, limit: u64) -> Result<Admitted, CacheError> {
        let stored = entry.stored;
        let mut after = self.clone();
        let mut pin = after.remove(&id).is_some_and(|e| e.pinned) || entry.pinned;
        // Older versions of the same file go first: they do not count against the limit,
        // and their pin carries over.
        let mut removed: Vec<String> = after
            .entries
            .iter()
            .filter(|(_, e)| {
                e.key.source == entry.key.source && e.key.remote_id == entry.key.remote_id
            })
            .map(|(other, _)| other.clone())
            .collect();
        for old in &removed {
            pin |= after.remove(old).is_some_and(|e| e.pinned);
        }
        let evicted = after.evictions(limit, stored);
        let mut evicted_tracks = Vec::new();
        for gone in evicted {
            if let Some(entry) = after.remove(&gone) {
                evicted_tracks.push(entry.track_id);
                removed.push(gone);
            }
        }
        if !pin && after.total() + stored > limit {
            let pinned = after
                .entries()
                .filter(|(_, e)| e.pinned)
                .map(|(_, e)| e.stored)
                .sum();
            return Err(CacheError::Full {
                needed: stored,
                limit,
                pinned,
            });
        }
        removed.extend(after.insert(
            id.clone(),
            Entry {
                pinned: pin,
                ..entry
            },
        ));
        let pinned = after.get(&id).is_some_and(|e| e.pinned);
        *self = after;
        Ok(Admitted {
            removed,
            evicted_tracks,
            pinned,
        })
    }
}

/// What [`CacheIndex::admit`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// Ids of the entries that went (evicted, or older versions): their files go too.
    pub removed: Vec<String>,
    /// The library tracks evicted to make room.
    pub evicted_tracks: Vec<i64>,
    /// Whether the new copy is pinned.
    pub pinned: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(remote: &str, version: &str, stored: u64, last_used: i64, pinned: bool) -> Entry {
        Entry {
            key: CacheKey {
                source: "drive".into(),
                remote_id: remote.into(),
                version: version.into(),
            },
            track_id: remote.len() as i64,
            stored,
            last_used,
            pinned,
        }
    }

    #[test]
    fn the_least_recently_used_go_first_and_pinned_never() {
        let mut index = CacheIndex::default();
        index.insert("a".into(), entry("a", "1", 100, 1, false));
        index.insert("b".into(), entry("bb", "1", 100, 2, true));
        index.insert("c".into(), entry("ccc", "1", 100, 3, false));
        index.touch("a", 10);
        assert_eq!(index.evictions(250, 0), ["c"], "a was used since");
        assert_eq!(index.evictions(150, 100), ["c", "a"]);
        assert_eq!(
            index.evictions(50, 0),
            ["c", "a"],
            "b is pinned, whatever the limit"
        );
        assert!(index.evictions(300, 0).is_empty());
    }

    #[test]
    fn a_new_version_replaces_the_old_and_keeps_its_pin() {
        let mut index = CacheIndex::default();
        index.insert("old".into(), entry("x", "1", 100, 1, true));
        let gone = index.insert("new".into(), entry("x", "2", 120, 2, false));
        assert_eq!(gone, ["old"]);
        assert_eq!(index.total(), 120);
        assert!(
            index.get("new").is_some_and(|e| e.pinned),
            "the pin carried over"
        );
        index.insert("new".into(), entry("x", "2", 120, 3, true));
        index.insert("new".into(), entry("x", "2", 120, 4, false));
        assert!(
            index.get("new").is_some_and(|e| e.pinned),
            "a pin stays until unpinned"
        );
        assert_eq!(index.set_pinned(1, false), 1);
        assert!(!index.get("new").is_some_and(|e| e.pinned));
    }

    #[test]
    fn a_new_version_is_admitted_in_the_room_of_the_old_one_with_its_pin() {
        let mut index = CacheIndex::default();
        index.insert("old".into(), entry("x", "1", 100, 1, true));
        index.insert("other".into(), entry("yy", "1", 100, 2, false));
        // Pins fill the limit but for the old version: the new one replaces it.
        let admitted = index
            .admit("new".into(), entry("x", "2", 100, 3, false), 200)
            .unwrap();
        assert_eq!(admitted.removed, ["old"]);
        assert!(admitted.evicted_tracks.is_empty(), "nothing else had to go");
        assert!(admitted.pinned, "the pin carried over");
        assert_eq!(index.total(), 200);
    }

    #[test]
    fn admitting_a_copy_evicts_to_fit_or_refuses_and_changes_nothing() {
        let mut index = CacheIndex::default();
        index.insert("a".into(), entry("a", "1", 100, 1, false));
        index.insert("b".into(), entry("bb", "1", 100, 2, true));
        let admitted = index
            .admit("c".into(), entry("ccc", "1", 100, 3, false), 200)
            .unwrap();
        assert_eq!(admitted.removed, ["a"]);
        assert_eq!(admitted.evicted_tracks, [1]);
        assert!(!admitted.pinned);
        assert_eq!(index.total(), 200);

        let before = index.clone();
        let refused = index.admit("d".into(), entry("dddd", "1", 150, 4, false), 200);
        assert!(
            matches!(
                refused,
                Err(CacheError::Full {
                    needed: 150,
                    limit: 200,
                    pinned: 100
                })
            ),
            "{refused:?}"
        );
        assert_eq!(index, before, "a refused copy changes nothing");

        let admitted = index
            .admit("d".into(), entry("dddd", "1", 150, 5, true), 200)
            .unwrap();
        assert!(admitted.pinned, "a pinned copy is kept over the limit");
        assert_eq!(admitted.removed, ["c"]);
        assert_eq!(index.total(), 250);
    }
}
