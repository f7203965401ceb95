//! The connection a sync writes through: one blocking hop per batch.
//!
//! sqlx runs each statement on its connection's worker thread and wakes the caller when it
//! is done: two thread hand-offs per statement. A scanned track takes five or more
//! statements, so at thousands of tracks a second the hand-offs cost more than SQLite.
//! The batches of a sync therefore go to a connection of their own (rusqlite, the same
//! SQLite library sqlx links), on a blocking thread, with cached prepared statements: one
//! hand-off per batch. Everything else still goes through the sqlx pool; SQLite's WAL
//! lets both read while one writes, and `BEGIN IMMEDIATE` with a busy timeout orders the
//! writers.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use super::LibraryError;

/// Prepared statements kept per connection: the batch path uses about twenty, and the
/// multi-row link inserts one per arity.
const STATEMENT_CACHE: usize = 64;

/// The sync's writer connection. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Writer {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

impl Writer {
    /// Opens the library at `path` (its schema already migrated) with the pool's settings.
    pub(crate) fn open(path: &Path) -> Result<Self, LibraryError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // As the pool's connections: WAL (a property of the file, set already), NORMAL
        // sync in WAL, cascading deletes, a page cache sized for large libraries.
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
             PRAGMA cache_size = -32768; PRAGMA temp_store = MEMORY;",
        )?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `work` in one `BEGIN IMMEDIATE` transaction on a blocking thread; commits if it
    /// succeeds, rolls back otherwise.
    pub(crate) async fn transaction<T: Send + 'static>(
        &self,
        work: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, LibraryError> + Send + 'static,
    ) -> Result<T, LibraryError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = work(&tx)?;
            tx.commit()?;
            Ok(value)
        })
        .await
        .map_err(|e| LibraryError::Worker(e.to_string()))?
    }
}
