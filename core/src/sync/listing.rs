//! A full listing: every page of a source, each written with the page it reached; the
//! files it did not see are removed at its end.

use std::collections::HashSet;

use tonearm_plugin_api::{PluginError, RemoteEntry};

use super::batches::Writing;
use super::{Plan, SyncError, Syncer, now_ms, settled};
use crate::events::SyncCounts;
use crate::library::{CursorUpdate, FileWrite, LibraryStore, Source};
use crate::sources::{Capabilities, OpenSource};

impl<S: LibraryStore, C: Capabilities> Syncer<S, C> {
    pub(super) async fn full(
        &self,
        source: &Source,
        open: &OpenSource,
        counts: &mut SyncCounts,
    ) -> Result<(), SyncError> {
        let err = self.provider_error(source);
        let (generation, page) = match &source.pending_cursor {
            // A listing was interrupted: resume it where its last committed batch ended.
            Some(_) => (source.generation, source.pending_page.clone()),
            None => {
                let cursor = self
                    .call(source, "change_cursor", open, |p| p.change_cursor())
                    .await?
                    .map_err(&err)?;
                (self.store().begin_listing(source.id, &cursor).await?, None)
            }
        };
        // The last batch of a page is still being written while the next page is listed
        // and read; it is waited for before the listing finishes, and on any error.
        let mut writing = None;
        let listed = self
            .list_pages(source, generation, page, open, counts, &mut writing)
            .await;
        self.settle(source, listed, &mut writing, counts).await?;
        counts.removed += self.store().finish_listing(source.id, generation).await?;
        Ok(())
    }

    /// Lists and applies every page of a full listing from `page` on.
    #[allow(clippy::too_many_arguments)]
    async fn list_pages(
        &self,
        source: &Source,
        generation: i64,
        mut page: Option<String>,
        open: &OpenSource,
        counts: &mut SyncCounts,
        writing: &mut Option<Writing>,
    ) -> Result<(), SyncError> {
        let err = self.provider_error(source);
        let audio = self.audio_filter();
        // A provider is outside code: a listing whose tokens lead back to a page already
        // listed, or that refuses its own tokens, would never end.
        let mut tokens = HashSet::new();
        let mut restarted = false;
        loop {
            let token = page.clone();
            let listed = match self
                .call(source, "list", open, move |p| p.list(token.as_deref()))
                .await?
            {
                // A stale page token from an interrupted run: list again from the start;
                // what was committed is recognised as unchanged.
                Err(PluginError::Invalid(why)) if page.is_some() && !restarted => {
                    tracing::warn!(%why, "page token refused; restarting the listing");
                    page = None;
                    restarted = true;
                    tokens.clear();
                    continue;
                }
                other => other.map_err(&err)?,
            };
            if let Some(next) = &listed.next_page
                && !tokens.insert(next.clone())
            {
                return Err(err(PluginError::Invalid(format!(
                    "the listing went back to page token `{next}`, which it gave before: it \
                     would never end"
                ))));
            }
            counts.seen += listed.entries.len() as u64;
            let entries: Vec<RemoteEntry> =
                listed.entries.into_iter().filter(|e| audio(e)).collect();
            let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
            let known = self.store().known_files(source.id, &ids).await?;
            let now = now_ms();
            let plans = entries
                .into_iter()
                .map(|entry| match known.get(&entry.id) {
                    Some(k) if settled(k, &entry, now) => {
                        Plan::Write(FileWrite::Unchanged { entry })
                    }
                    _ => Plan::Scan(entry),
                })
                .collect();
            let end = CursorUpdate::ListingPage(listed.next_page.clone());
            self.execute(
                source, generation, open, plans, &known, end, counts, writing,
            )
            .await?;
            match listed.next_page {
                Some(next) => page = Some(next),
                None => return Ok(()),
            }
        }
    }
}
