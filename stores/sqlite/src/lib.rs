//! The music library in a SQLite file (WAL, FTS5) — sources, files, tracks, albums,
//! artists, genres, artwork references, lyrics, playlists and plugin state — as the core's
//! `LibraryStore`: [`SqliteStore`], the native counterpart of the browser's
//! `IndexedDbStore`.

mod enrich;
mod playlists;
mod query;
mod sources;
mod store;
mod write;
mod writer;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use tonearm_core::library::{
    ArtworkRef, AudioProperties, CursorUpdate, FailedFile, FileWrite, KnownFile, LibraryStats,
    LibraryStore, Playlist, ReplayGain, ScannedTrack, Source, StoreError, TrackLocation, TrackRow,
};

/// What can go wrong with the library.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    /// The database failed.
    #[error("library database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The database failed while a sync wrote to it.
    #[error("library database error: {0}")]
    Write(#[from] rusqlite::Error),
    /// The writer's thread stopped.
    #[error("the library's writer stopped: {0}")]
    Worker(String),
    /// The schema could not be brought up to date.
    #[error("cannot migrate the library schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The library file's folder could not be created.
    #[error("cannot create {path}: {source}")]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// What every library refuses: an unknown source, track or playlist, a name taken,
    /// stored data that does not decode.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The library. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// What syncs write through (see `writer`).
    writer: writer::Writer,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating if needed) the library at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self, LibraryError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| LibraryError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // A library of 100,000 tracks is a few hundred MB: SQLite's default 2 MB page
            // cache would re-read index pages on every batch.
            .pragma("cache_size", "-32768")
            .pragma("temp_store", "memory");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        let writer = writer::Writer::open(path)?;
        Ok(Self {
            pool,
            writer,
            path: path.to_owned(),
        })
    }

    /// The library file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A write transaction. `BEGIN IMMEDIATE` takes the write lock up front: a deferred
    /// transaction that reads first and then writes cannot wait for another writer in WAL
    /// mode (SQLite answers `SQLITE_BUSY` at once), which two sources syncing at once hit.
    pub(crate) async fn write_tx(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, LibraryError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// The connection pool, for capabilities that store plugin state.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes every connection, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
pub(crate) mod tests {
    use tonearm_core::library::ArtworkRef;
    use tonearm_plugin_api::{RemoteEntry, TrackTags};

    use super::*;

    pub(crate) fn entry(id: &str, size: u64) -> RemoteEntry {
        RemoteEntry {
            id: id.into(),
            path: id.into(),
            size,
            modified_ms: Some(1),
            content_hash: None,
            mime: None,
        }
    }

    pub(crate) fn track(title: &str, artists: &[&str], album: &str) -> FileWrite {
        let tags = TrackTags {
            title: Some(title.into()),
            artists: artists.iter().map(|a| a.to_string()).collect(),
            album: Some(album.into()),
            genres: vec!["Jazz".into()],
            ..TrackTags::default()
        };
        FileWrite::Scanned {
            entry: entry(&format!("{title}.flac"), 10),
            track: Box::new(ScannedTrack {
                tags,
                ..ScannedTrack::default()
            }),
            bytes_read: 10,
        }
    }

    pub(crate) async fn library() -> (tempfile::TempDir, SqliteStore, i64) {
        let dir = tempfile::tempdir().unwrap();
        let library = SqliteStore::open(&dir.path().join("nested/dir/library.db"))
            .await
            .unwrap();
        let source = library
            .add_source("s", "local", &Default::default())
            .await
            .unwrap();
        (dir, library, source.id)
    }

    #[tokio::test]
    async fn reopening_keeps_data_and_sources_are_unique() {
        let (dir, library, id) = library().await;
        library
            .apply_batch(
                id,
                0,
                vec![track("One", &["A"], "X")],
                vec![],
                CursorUpdate::None,
            )
            .await
            .unwrap();
        library.close().await;
        let again = SqliteStore::open(&dir.path().join("nested/dir/library.db"))
            .await
            .unwrap();
        assert_eq!(again.stats().await.unwrap().tracks, 1);
        assert!(matches!(
            again.add_source("s", "local", &Default::default()).await,
            Err(LibraryError::Store(StoreError::SourceExists(_)))
        ));
    }

    /// The sweep for albums, artists, genres and artwork without tracks runs when a write
    /// since the last one may have left some, also after a restart in between, and is
    /// skipped when none did.
    #[tokio::test]
    async fn orphans_are_swept_when_a_write_may_have_left_some() {
        let (_dir, library, id) = library().await;
        let one = track("One", &["A"], "X");
        let FileWrite::Scanned { entry, .. } = &one else {
            unreachable!()
        };
        let remote_id = entry.id.clone();
        library
            .apply_batch(id, 0, vec![one], vec![], CursorUpdate::None)
            .await
            .unwrap();
        library.remove_orphans_now().await.unwrap();
        // Not written by a sync: no write since the sweep could have left it, so the next
        // sweep does not look.
        sqlx::query("INSERT INTO albums (title) VALUES ('Stray')")
            .execute(library.pool())
            .await
            .unwrap();
        library.remove_orphans_now().await.unwrap();
        assert_eq!(library.stats().await.unwrap().albums, 2);

        library
            .apply_batch(
                id,
                0,
                vec![FileWrite::Removed { remote_id }],
                vec![],
                CursorUpdate::None,
            )
            .await
            .unwrap();
        // Killed before its sweep: the next process's sweep runs.
        let path = library.path().to_owned();
        library.close().await;
        let library = SqliteStore::open(&path).await.unwrap();
        library.remove_orphans_now().await.unwrap();
        let stats = library.stats().await.unwrap();
        assert_eq!((stats.tracks, stats.albums, stats.artists), (0, 0, 0));
    }

    #[tokio::test]
    async fn playlists_keep_order_and_lose_removed_tracks() {
        let (_dir, library, id) = library().await;
        let writes = [
            track("One", &["A"], "X"),
            track("Two", &["B"], "X"),
            track("Three", &["A", "B"], "Y"),
        ];
        library
            .apply_batch(id, 0, writes.to_vec(), vec![], CursorUpdate::None)
            .await
            .unwrap();
        let ids: Vec<i64> = library
            .tracks(10, 0)
            .await
            .unwrap()
            .iter()
            .map(|t| t.id)
            .collect();
        let playlist = library.create_playlist("mix").await.unwrap();
        for id in [ids[2], ids[0], ids[2]] {
            library.append_to_playlist(playlist, id).await.unwrap();
        }
        let listed: Vec<i64> = library
            .playlist_tracks(playlist)
            .await
            .unwrap()
            .iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(listed, [ids[2], ids[0], ids[2]]);

        let removed = library
            .tracks(10, 0)
            .await
            .unwrap()
            .into_iter()
            .find(|t| t.id == ids[2])
            .unwrap();
        let remote = removed.path.clone();
        library
            .apply_batch(
                id,
                0,
                vec![FileWrite::Removed { remote_id: remote }],
                vec![],
                CursorUpdate::None,
            )
            .await
            .unwrap();
        let listed: Vec<i64> = library
            .playlist_tracks(playlist)
            .await
            .unwrap()
            .iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(listed, [ids[0]]);
    }

    #[tokio::test]
    async fn removing_a_source_removes_its_tracks_state_and_orphans() {
        let (_dir, library, id) = library().await;
        let writes = [track("One", &["A"], "X"), track("Two", &["B"], "Y")];
        library
            .apply_batch(
                id,
                0,
                writes.to_vec(),
                vec![],
                CursorUpdate::Cursor("c1".into()),
            )
            .await
            .unwrap();
        sqlx::query("INSERT INTO plugin_state (source_id, key, value) VALUES (?, 'k', x'00')")
            .bind(id)
            .execute(library.pool())
            .await
            .unwrap();
        assert_eq!(
            library.source("s").await.unwrap().cursor.as_deref(),
            Some("c1")
        );
        let stats = library.stats().await.unwrap();
        assert_eq!(
            (stats.tracks, stats.albums, stats.artists, stats.genres),
            (2, 2, 2, 1)
        );

        library.remove_source("s").await.unwrap();
        assert_eq!(library.stats().await.unwrap(), LibraryStats::default());
        let state: i64 = sqlx::query_scalar("SELECT count(*) FROM plugin_state")
            .fetch_one(library.pool())
            .await
            .unwrap();
        let fts: i64 = sqlx::query_scalar("SELECT count(*) FROM tracks_fts")
            .fetch_one(library.pool())
            .await
            .unwrap();
        assert_eq!((state, fts), (0, 0));
        assert!(matches!(
            library.remove_source("s").await,
            Err(LibraryError::Store(StoreError::NoSuchSource(_)))
        ));
    }

    #[tokio::test]
    async fn rescanning_a_file_replaces_its_tags_and_links() {
        let (_dir, library, id) = library().await;
        let first = track("One", &["Alpha", "Beta"], "X");
        library
            .apply_batch(id, 0, vec![first], vec![], CursorUpdate::None)
            .await
            .unwrap();
        let FileWrite::Scanned {
            entry,
            mut track,
            bytes_read,
        } = track("One", &["Gamma"], "Z")
        else {
            unreachable!()
        };
        track.tags.title = Some("Uno".into());
        let again = FileWrite::Scanned {
            entry,
            track,
            bytes_read,
        };
        library
            .apply_batch(id, 0, vec![again], vec![], CursorUpdate::None)
            .await
            .unwrap();
        library.remove_orphans_now().await.unwrap();
        let tracks = library.tracks(10, 0).await.unwrap();
        assert_eq!(tracks.len(), 1);
        assert_eq!(tracks[0].title.as_deref(), Some("Uno"));
        assert_eq!(tracks[0].artists, "Gamma");
        assert!(
            library.search("beta", 10).await.unwrap().is_empty(),
            "the old search row is gone"
        );
        assert_eq!(library.search("uno gamma", 10).await.unwrap().len(), 1);
        let stats = library.stats().await.unwrap();
        assert_eq!(
            (stats.artists, stats.albums),
            (1, 1),
            "old artists and album are orphans, removed"
        );
    }

    /// A file given twice in one batch (a listing may) is one track with one search row,
    /// the last one written: none is left behind when the track goes.
    #[tokio::test]
    async fn a_file_twice_in_one_batch_keeps_its_last_search_row() {
        let (_dir, library, id) = library().await;
        let first = track("One", &["Alpha"], "X");
        let FileWrite::Scanned {
            entry,
            mut track,
            bytes_read,
        } = first.clone()
        else {
            unreachable!()
        };
        track.tags.artists = vec!["Beta".into()];
        let again = FileWrite::Scanned {
            entry: entry.clone(),
            track,
            bytes_read,
        };
        library
            .apply_batch(id, 0, vec![first, again], vec![], CursorUpdate::None)
            .await
            .unwrap();
        assert_eq!(library.stats().await.unwrap().tracks, 1);
        assert!(library.search("alpha", 10).await.unwrap().is_empty());
        assert_eq!(library.search("one beta", 10).await.unwrap().len(), 1);
        let search_rows = async || -> i64 {
            sqlx::query_scalar("SELECT count(*) FROM tracks_fts")
                .fetch_one(library.pool())
                .await
                .unwrap()
        };
        assert_eq!(search_rows().await, 1);

        let removed = FileWrite::Removed {
            remote_id: entry.id,
        };
        library
            .apply_batch(id, 0, vec![removed], vec![], CursorUpdate::None)
            .await
            .unwrap();
        assert_eq!(search_rows().await, 0);
    }

    /// Embedded artwork is stored once with its image, and a MIME type the first track to
    /// embed it did not state is taken from a later one, in the same batch or a later one.
    #[tokio::test]
    async fn shared_artwork_is_stored_once_and_learns_its_mime_type() {
        let (_dir, library, id) = library().await;
        let with_art = |title: &str, mime: Option<&str>, bytes: bool| {
            let FileWrite::Scanned {
                entry,
                mut track,
                bytes_read,
            } = track(title, &["A"], "X")
            else {
                unreachable!()
            };
            track.artwork = Some(ArtworkRef {
                sha256: "ab".repeat(32),
                mime: mime.map(str::to_owned),
                byte_len: 3,
                bytes: bytes.then(|| std::sync::Arc::from(&b"img"[..])),
            });
            FileWrite::Scanned {
                entry,
                track,
                bytes_read,
            }
        };
        let mime = async || -> (i64, Option<String>, i64) {
            let (count, mime): (i64, Option<String>) =
                sqlx::query_as("SELECT count(*), max(mime) FROM artwork")
                    .fetch_one(library.pool())
                    .await
                    .unwrap();
            let images: i64 = sqlx::query_scalar("SELECT count(*) FROM artwork_images")
                .fetch_one(library.pool())
                .await
                .unwrap();
            (count, mime, images)
        };
        let batch = vec![with_art("One", None, false), with_art("Two", None, true)];
        library
            .apply_batch(id, 0, batch, vec![], CursorUpdate::None)
            .await
            .unwrap();
        assert_eq!(mime().await, (1, None, 1));
        let batch = vec![
            with_art("Three", None, true),
            with_art("Four", Some("image/png"), true),
        ];
        library
            .apply_batch(id, 0, batch, vec![], CursorUpdate::None)
            .await
            .unwrap();
        assert_eq!(mime().await, (1, Some("image/png".to_owned()), 1));
        let tracks = library.tracks(10, 0).await.unwrap();
        assert_eq!(tracks.len(), 4);
    }
}
