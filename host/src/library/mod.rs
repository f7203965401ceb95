//! The music library: a SQLite file (WAL, FTS5) holding sources, files, tracks, albums,
//! artists, genres, artwork references, lyrics and playlists.

mod model;
mod query;
mod sources;
mod write;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use model::{
    ArtworkRef, AudioProperties, CursorUpdate, FileWrite, KnownFile, LibraryStats, ReplayGain,
    ScannedTrack, Source, TrackLocation, TrackRow,
};
pub use write::BatchOutcome;

/// What can go wrong with the library.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    /// The database failed.
    #[error("library database error: {0}")]
    Database(#[from] sqlx::Error),
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
    /// No source has this name.
    #[error("no source named `{0}` (see `tonearm source list`)")]
    NoSuchSource(String),
    /// A source with this name exists.
    #[error("a source named `{0}` already exists")]
    SourceExists(String),
    /// No track has this id.
    #[error("no track with id {0}")]
    NoSuchTrack(i64),
    /// Stored data could not be decoded.
    #[error("corrupt library data: {0}")]
    Corrupt(String),
}

/// The library. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Library {
    pool: SqlitePool,
    path: PathBuf,
}

impl Library {
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
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self {
            pool,
            path: path.to_owned(),
        })
    }

    /// The library file.
    pub fn path(&self) -> &Path {
        &self.path
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
