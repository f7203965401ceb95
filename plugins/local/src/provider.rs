//! The [`StorageProvider`] over the granted folder.

use std::sync::{Arc, Mutex, PoisonError};

use tonearm_plugin_api::{
    ByteRange, ChangePage, FileSystem, HostContext, KeyValueStore, ListPage, Log, PluginError,
    PluginResult, StorageProvider,
};

use crate::snapshot::{self, Snapshot};

/// Entries per listing page unless the `page_size` setting says otherwise.
const DEFAULT_PAGE_SIZE: usize = 500;
/// State-store keys of snapshots: `snapshot/<generation>`.
const SNAPSHOT_PREFIX: &str = "snapshot/";
/// Version tag of the cursor format.
const CURSOR_PREFIX: &str = "v1:";
/// The largest single read we allocate for; longer spans are cut to this.
const MAX_READ: u64 = 64 * 1024 * 1024;
/// The buffer a read starts with; it doubles while the file has more of the span.
const FIRST_BUFFER: usize = 1024 * 1024;

/// A folder on this machine, as the host grants it.
pub struct LocalProvider {
    fs: Arc<dyn FileSystem>,
    state: Arc<dyn KeyValueStore>,
    log: Arc<dyn Log>,
    page_size: usize,
    /// The walk behind the listing in progress, so pages do not walk again.
    listing: Mutex<Option<Listing>>,
}

/// A walk kept between the pages of one listing.
struct Listing {
    snapshot: Arc<Snapshot>,
    /// Made by `change_cursor` and not yet listed.
    fresh: bool,
}

impl LocalProvider {
    /// A provider over the context's granted folder and state store.
    pub fn new(ctx: &HostContext) -> PluginResult<Self> {
        let page_size =
            ctx.number_setting("page_size", DEFAULT_PAGE_SIZE as u64, 1..=1_000_000)? as usize;
        Ok(Self {
            fs: ctx.require_fs()?,
            state: ctx.require_state()?,
            log: ctx.log.clone(),
            page_size,
            listing: Mutex::new(None),
        })
    }

    fn walk(&self) -> PluginResult<Snapshot> {
        Snapshot::take(self.fs.as_ref(), self.log.as_ref())
    }

    fn generations(&self) -> PluginResult<Vec<u64>> {
        let mut gens: Vec<u64> = self
            .state
            .keys(SNAPSHOT_PREFIX)?
            .iter()
            .filter_map(|k| k.strip_prefix(SNAPSHOT_PREFIX)?.parse().ok())
            .collect();
        gens.sort_unstable();
        Ok(gens)
    }

    /// Stores `snapshot` as a new generation and returns its cursor.
    fn save(&self, snapshot: &Snapshot) -> PluginResult<String> {
        let generation = self.generations()?.last().map_or(1, |g| g + 1);
        self.state.put(
            &format!("{SNAPSHOT_PREFIX}{generation}"),
            &snapshot.to_bytes()?,
        )?;
        Ok(format!("{CURSOR_PREFIX}{generation}"))
    }

    /// Drops generations older than `keep`: the host only asks for `keep` or newer once it
    /// has committed `keep`, and may ask for `keep` again if it crashes before committing
    /// the next one.
    fn prune_before(&self, keep: u64) -> PluginResult<()> {
        for generation in self.generations()?.into_iter().filter(|&g| g < keep) {
            self.state
                .delete(&format!("{SNAPSHOT_PREFIX}{generation}"))?;
        }
        Ok(())
    }
}

fn parse_cursor(cursor: &str) -> PluginResult<u64> {
    cursor
        .strip_prefix(CURSOR_PREFIX)
        .and_then(|g| g.parse().ok())
        .ok_or_else(|| PluginError::Invalid(format!("not a local-folder cursor: {cursor:?}")))
}

impl StorageProvider for LocalProvider {
    fn change_cursor(&self) -> PluginResult<String> {
        let snapshot = Arc::new(self.walk()?);
        let cursor = self.save(&snapshot)?;
        // The full listing that follows a new cursor lists exactly this snapshot.
        *self.listing.lock().unwrap_or_else(PoisonError::into_inner) = Some(Listing {
            snapshot,
            fresh: true,
        });
        Ok(cursor)
    }

    fn list(&self, page_token: Option<&str>) -> PluginResult<ListPage> {
        let snapshot = {
            let mut listing = self.listing.lock().unwrap_or_else(PoisonError::into_inner);
            let reusable = match (page_token, listing.take()) {
                // A first page reuses only the walk `change_cursor` just made.
                (None, Some(cached)) if cached.fresh => Some(cached.snapshot),
                (Some(_), Some(cached)) => Some(cached.snapshot),
                _ => None,
            };
            let snapshot = match reusable {
                Some(s) => s,
                None => Arc::new(self.walk()?),
            };
            *listing = Some(Listing {
                snapshot: snapshot.clone(),
                fresh: false,
            });
            snapshot
        };
        // Tokens name the last path listed, so a listing survives a restart of the host:
        // a fresh walk resumes after that path.
        let after = match page_token {
            None => None,
            Some(t) => Some(t.strip_prefix("after:").ok_or_else(|| {
                PluginError::Invalid(format!("not a local-folder page token: {t:?}"))
            })?),
        };
        let range = match after {
            None => snapshot.files.range::<str, _>(..),
            Some(p) => snapshot
                .files
                .range::<str, _>((std::ops::Bound::Excluded(p), std::ops::Bound::Unbounded)),
        };
        let entries: Vec<_> = range
            .take(self.page_size)
            .map(|(p, r)| snapshot::entry(p, r))
            .collect();
        let last = entries.last().map(|e| e.path.clone());
        let more = last.as_deref().is_some_and(|l| {
            snapshot
                .files
                .range::<str, _>((std::ops::Bound::Excluded(l), std::ops::Bound::Unbounded))
                .next()
                .is_some()
        });
        if !more {
            *self.listing.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
        Ok(ListPage {
            entries,
            next_page: if more {
                last.map(|l| format!("after:{l}"))
            } else {
                None
            },
        })
    }

    fn changes(&self, cursor: &str) -> PluginResult<ChangePage> {
        let generation = parse_cursor(cursor)?;
        let old = match self.state.get(&format!("{SNAPSHOT_PREFIX}{generation}"))? {
            Some(bytes) => Snapshot::from_bytes(&bytes)?,
            None => {
                return Err(PluginError::CursorExpired(format!(
                    "no snapshot for cursor {cursor}"
                )));
            }
        };
        let mut new = self.walk()?;
        new.carry_over_unreadable(&old);
        let changes = snapshot::diff(&old, &new);
        let next_cursor = if changes.is_empty() && new.unreadable == old.unreadable {
            // Nothing changed: the old cursor stays valid and nothing is written.
            cursor.to_owned()
        } else {
            self.save(&new)?
        };
        self.prune_before(generation)?;
        Ok(ChangePage {
            changes,
            next_cursor,
            has_more: false,
        })
    }

    fn read_range(&self, id: &str, range: ByteRange) -> PluginResult<Vec<u8>> {
        // A span within the read limit needs no stat: the read stops at the file's end.
        // Tag reads ask for such spans, a few per file, and a stat is a path lookup more.
        let (offset, len) = match range {
            ByteRange::Span { offset, len } if len <= MAX_READ => (offset, len),
            ByteRange::Span { offset, len } => {
                let size = self.fs.stat(id)?.size;
                (offset, len.min(size.saturating_sub(offset)))
            }
            ByteRange::Suffix { len } => {
                let size = self.fs.stat(id)?.size;
                (size.saturating_sub(len), len.min(size))
            }
        };
        if len > MAX_READ {
            return Err(PluginError::Invalid(format!(
                "a single read is limited to {MAX_READ} bytes; {len} were asked for"
            )));
        }
        // Without a stat the file may be far shorter than the span: the buffer grows with
        // what is read, from at most 1 MiB.
        let len = len as usize;
        let mut buf = vec![0u8; len.min(FIRST_BUFFER)];
        let mut filled = 0;
        loop {
            let want = buf.len() - filled;
            let n = self
                .fs
                .read_at(id, offset + filled as u64, &mut buf[filled..])?;
            filled += n;
            // A file system reads less than asked only at the file's end.
            if n < want || filled == len {
                break;
            }
            buf.resize(len.min(filled.saturating_mul(2)), 0);
        }
        buf.truncate(filled);
        Ok(buf)
    }
}
