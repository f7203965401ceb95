//! An incremental sync: the changes since the cursor, and the files whose last read failed
//! for a passing reason.

use std::collections::{HashMap, HashSet};

use tonearm_plugin_api::{Change, PluginError};

use super::{Plan, SyncError, Syncer, now_ms, settled};
use crate::events::SyncCounts;
use crate::library::{CursorUpdate, FileWrite, LibraryStore, Source};
use crate::sources::{Capabilities, OpenSource};

impl<S: LibraryStore, C: Capabilities> Syncer<S, C> {
    pub(super) async fn incremental(
        &self,
        source: &Source,
        open: &OpenSource,
        counts: &mut SyncCounts,
    ) -> Result<(), SyncError> {
        let err = self.provider_error(source);
        let audio = self.audio_filter();
        let mut cursor = source.cursor.clone().unwrap_or_default();
        // A feed that says it has more at a cursor it gave before would never end.
        let mut cursors = HashSet::from([cursor.clone()]);
        loop {
            let at = cursor.clone();
            let page = self
                .call(source, "changes", open, move |p| p.changes(&at))
                .await?
                .map_err(&err)?;
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
            let known = self.store().known_files(source.id, &ids).await?;
            let now = now_ms();
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
                        Some(k) if settled(k, &entry, now) => {
                            Some(Plan::Write(FileWrite::Moved { from_id, entry }))
                        }
                        Some(_) => Some(Plan::MoveAndScan { from_id, entry }),
                        None => Some(match known.get(&entry.id) {
                            Some(k) if settled(k, &entry, now) => {
                                Plan::Write(FileWrite::Unchanged { entry })
                            }
                            _ => Plan::Scan(entry),
                        }),
                    },
                    Change::Upsert { entry } => Some(match known.get(&entry.id) {
                        Some(k) if settled(k, &entry, now) => {
                            Plan::Write(FileWrite::Unchanged { entry })
                        }
                        _ => Plan::Scan(entry),
                    }),
                };
                plans.extend(plan);
            }
            let generation = source.generation;
            // A feed with nothing new may give back the cursor it was asked at: there is no
            // position to move then, and a batch with nothing else is not written.
            let end = if page.next_cursor == cursor {
                CursorUpdate::None
            } else {
                CursorUpdate::Cursor(page.next_cursor.clone())
            };
            // A later page may change a file of this one: it is compared with what this
            // page committed, so each page is written before the next is read.
            let mut writing = None;
            let executed = self
                .execute(
                    source,
                    generation,
                    open,
                    plans,
                    &known,
                    end,
                    counts,
                    &mut writing,
                )
                .await;
            self.settle(source, executed, &mut writing, counts).await?;
            if !page.has_more {
                return Ok(());
            }
            if !cursors.insert(page.next_cursor.clone()) {
                return Err(err(PluginError::Invalid(format!(
                    "the change feed has more at cursor `{}`, which it gave before: it would \
                     never end",
                    page.next_cursor
                ))));
            }
            cursor = page.next_cursor;
        }
    }

    /// Reads again the files of `source` whose last read failed for a passing reason and
    /// is due: they are not among the changes, since they did not change. Runs before
    /// the changes are read, so a file that fails in this sync waits for the next one.
    pub(super) async fn read_retries(
        &self,
        source: &Source,
        open: &OpenSource,
        counts: &mut SyncCounts,
    ) -> Result<(), SyncError> {
        let due = self.store().retries_due(source.id, now_ms()).await?;
        if due.is_empty() {
            return Ok(());
        }
        tracing::info!(
            files = due.len(),
            "reading files that failed for a passing reason again"
        );
        let ids: Vec<&str> = due.iter().map(|e| e.id.as_str()).collect();
        let known = self.store().known_files(source.id, &ids).await?;
        let plans = due.into_iter().map(Plan::Scan).collect();
        let mut writing = None;
        let executed = self
            .execute(
                source,
                source.generation,
                open,
                plans,
                &known,
                CursorUpdate::None,
                counts,
                &mut writing,
            )
            .await;
        self.settle(source, executed, &mut writing, counts).await
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
