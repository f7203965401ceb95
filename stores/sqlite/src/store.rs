//! The SQLite library as the core's [`LibraryStore`], and the plugin state it keeps.

use std::collections::{BTreeMap, HashMap};

use tonearm_core::library::{PlaylistEdit, StateChange, StoreResult};

use super::{
    CursorUpdate, FailedFile, FileWrite, KnownFile, LibraryError, LibraryStats, LibraryStore,
    Playlist, Source, SqliteStore, StoreError, TrackLocation, TrackRow,
};

impl From<LibraryError> for StoreError {
    fn from(error: LibraryError) -> Self {
        match error {
            LibraryError::Store(e) => e,
            other => Self::Storage(Box::new(other)),
        }
    }
}

impl SqliteStore {
    /// The plugin state of a source.
    pub async fn load_state(
        &self,
        source_id: i64,
    ) -> Result<BTreeMap<String, Vec<u8>>, LibraryError> {
        let rows: Vec<(String, Vec<u8>)> =
            sqlx::query_as("SELECT key, value FROM plugin_state WHERE source_id = ?")
                .bind(source_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().collect())
    }

    /// The state of metadata source `plugin`.
    pub async fn metadata_state(
        &self,
        plugin: &str,
    ) -> Result<BTreeMap<String, Vec<u8>>, LibraryError> {
        let rows: Vec<(String, Vec<u8>)> =
            sqlx::query_as("SELECT key, value FROM metadata_state WHERE plugin = ?")
                .bind(plugin)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().collect())
    }

    /// Applies changes to the state of metadata source `plugin` in one transaction.
    pub async fn save_metadata_state(
        &self,
        plugin: &str,
        changes: &[StateChange],
    ) -> Result<(), LibraryError> {
        let (plugin, changes) = (plugin.to_owned(), changes.to_vec());
        self.writer
            .transaction(move |tx| {
                for (key, value) in &changes {
                    match value {
                        Some(value) => tx
                            .prepare_cached(
                                "INSERT INTO metadata_state (plugin, key, value) VALUES (?, ?, ?) \
                                 ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value",
                            )?
                            .execute(rusqlite::params![plugin, key, value])?,
                        None => tx
                            .prepare_cached(
                                "DELETE FROM metadata_state WHERE plugin = ? AND key = ?",
                            )?
                            .execute(rusqlite::params![plugin, key])?,
                    };
                }
                Ok(())
            })
            .await
    }
}

fn limit(n: u32) -> i64 {
    i64::from(n)
}

// Each method is the inherent one of the same name, with the store's error type.
impl LibraryStore for SqliteStore {
    async fn add_source(
        &self,
        name: &str,
        provider: &str,
        settings: &BTreeMap<String, String>,
    ) -> StoreResult<Source> {
        Ok(SqliteStore::add_source(self, name, provider, settings).await?)
    }

    async fn sources(&self) -> StoreResult<Vec<Source>> {
        Ok(SqliteStore::sources(self).await?)
    }

    async fn source(&self, name: &str) -> StoreResult<Source> {
        Ok(SqliteStore::source(self, name).await?)
    }

    async fn remove_source(&self, name: &str) -> StoreResult<()> {
        Ok(SqliteStore::remove_source(self, name).await?)
    }

    async fn known_files(
        &self,
        source_id: i64,
        remote_ids: &[&str],
    ) -> StoreResult<HashMap<String, KnownFile>> {
        Ok(SqliteStore::known_files(self, source_id, remote_ids).await?)
    }

    async fn retries_due(
        &self,
        source_id: i64,
        now_ms: i64,
    ) -> StoreResult<Vec<tonearm_plugin_api::RemoteEntry>> {
        Ok(SqliteStore::retries_due(self, source_id, now_ms).await?)
    }

    async fn begin_listing(&self, source_id: i64, cursor: &str) -> StoreResult<i64> {
        Ok(SqliteStore::begin_listing(self, source_id, cursor).await?)
    }

    async fn finish_listing(&self, source_id: i64, generation: i64) -> StoreResult<u64> {
        Ok(SqliteStore::finish_listing(self, source_id, generation).await?)
    }

    async fn reset_cursor(&self, source_id: i64) -> StoreResult<()> {
        Ok(SqliteStore::reset_cursor(self, source_id).await?)
    }

    async fn record_sync_result(&self, source_id: i64, error: Option<&str>) -> StoreResult<()> {
        Ok(SqliteStore::record_sync_result(self, source_id, error).await?)
    }

    async fn apply_batch(
        &self,
        source_id: i64,
        generation: i64,
        writes: Vec<FileWrite>,
        state: Vec<StateChange>,
        position: CursorUpdate,
    ) -> StoreResult<()> {
        Ok(SqliteStore::apply_batch(self, source_id, generation, writes, state, position).await?)
    }

    async fn remove_orphans(&self) -> StoreResult<()> {
        Ok(SqliteStore::remove_orphans_now(self).await?)
    }

    async fn tracks(&self, limit_to: u32, offset: u32) -> StoreResult<Vec<TrackRow>> {
        Ok(SqliteStore::tracks(self, limit(limit_to), limit(offset)).await?)
    }

    async fn search(&self, text: &str, limit_to: u32) -> StoreResult<Vec<TrackRow>> {
        Ok(SqliteStore::search(self, text, limit(limit_to)).await?)
    }

    async fn track(&self, id: i64) -> StoreResult<TrackRow> {
        Ok(SqliteStore::track(self, id).await?)
    }

    async fn track_location(&self, id: i64) -> StoreResult<TrackLocation> {
        Ok(SqliteStore::track_location(self, id).await?)
    }

    async fn failed_files(&self, limit_to: u32) -> StoreResult<Vec<FailedFile>> {
        Ok(SqliteStore::failed_files(self, limit(limit_to)).await?)
    }

    async fn stats(&self) -> StoreResult<LibraryStats> {
        Ok(SqliteStore::stats(self).await?)
    }

    async fn create_playlist(&self, name: &str) -> StoreResult<i64> {
        Ok(SqliteStore::create_playlist(self, name).await?)
    }

    async fn append_to_playlist(&self, playlist_id: i64, track_id: i64) -> StoreResult<()> {
        Ok(SqliteStore::append_to_playlist(self, playlist_id, track_id).await?)
    }

    async fn playlist_tracks(&self, playlist_id: i64) -> StoreResult<Vec<TrackRow>> {
        Ok(SqliteStore::playlist_tracks(self, playlist_id).await?)
    }

    async fn playlists(&self) -> StoreResult<Vec<Playlist>> {
        Ok(SqliteStore::playlists(self).await?)
    }

    async fn rename_playlist(&self, playlist_id: i64, name: &str) -> StoreResult<()> {
        Ok(SqliteStore::rename_playlist(self, playlist_id, name).await?)
    }

    async fn delete_playlist(&self, playlist_id: i64) -> StoreResult<()> {
        Ok(SqliteStore::delete_playlist(self, playlist_id).await?)
    }

    async fn remove_from_playlist(&self, playlist_id: i64, index: u32) -> StoreResult<()> {
        let edit = PlaylistEdit::Remove(index);
        Ok(SqliteStore::edit_playlist(self, playlist_id, edit).await?)
    }

    async fn move_in_playlist(&self, playlist_id: i64, from: u32, to: u32) -> StoreResult<()> {
        let edit = PlaylistEdit::Move { from, to };
        Ok(SqliteStore::edit_playlist(self, playlist_id, edit).await?)
    }

    async fn load_state(&self, source_id: i64) -> StoreResult<BTreeMap<String, Vec<u8>>> {
        Ok(SqliteStore::load_state(self, source_id).await?)
    }

    async fn save_state(&self, source_id: i64, changes: &[StateChange]) -> StoreResult<()> {
        Ok(SqliteStore::save_state(self, source_id, changes).await?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tonearm_core::library::conformance;

    use super::*;

    #[tokio::test]
    async fn the_sqlite_store_keeps_every_library_promise() {
        let dir = tempfile::tempdir().unwrap();
        let count = AtomicUsize::new(0);
        conformance::check(|| {
            let path = dir
                .path()
                .join(format!("{}.db", count.fetch_add(1, Ordering::Relaxed)));
            async move { SqliteStore::open(&path).await.unwrap() }
        })
        .await;
    }

    #[tokio::test]
    async fn the_sqlite_store_keeps_every_enrichment_promise() {
        let dir = tempfile::tempdir().unwrap();
        let count = AtomicUsize::new(0);
        tonearm_core::enrich::conformance::check(|| {
            let path = dir
                .path()
                .join(format!("{}.db", count.fetch_add(1, Ordering::Relaxed)));
            async move { SqliteStore::open(&path).await.unwrap() }
        })
        .await;
    }
}
