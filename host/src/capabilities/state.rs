//! Persistent per-source plugin state, kept in the library database.

use sqlx::SqlitePool;
use tokio::runtime::Handle;
use tonearm_plugin_api::{KeyValueStore, PluginError, PluginResult};

/// The state store of one source, in the library's `plugin_state` table.
///
/// Plugin calls run on blocking threads, so this blocks on the async pool there; it must not
/// be called from inside an async task.
#[derive(Debug, Clone)]
pub struct SqliteState {
    pool: SqlitePool,
    source_id: i64,
    runtime: Handle,
}

impl SqliteState {
    /// The store of `source_id`, run on `runtime`.
    pub fn new(pool: SqlitePool, source_id: i64, runtime: Handle) -> Self {
        Self {
            pool,
            source_id,
            runtime,
        }
    }
}

fn db_error(err: sqlx::Error) -> PluginError {
    PluginError::Io(format!("plugin state store: {err}"))
}

impl KeyValueStore for SqliteState {
    fn get(&self, key: &str) -> PluginResult<Option<Vec<u8>>> {
        self.runtime
            .block_on(
                sqlx::query_scalar(
                    "SELECT value FROM plugin_state WHERE source_id = ? AND key = ?",
                )
                .bind(self.source_id)
                .bind(key)
                .fetch_optional(&self.pool),
            )
            .map_err(db_error)
    }

    fn put(&self, key: &str, value: &[u8]) -> PluginResult<()> {
        self.runtime
            .block_on(
                sqlx::query(
                    "INSERT INTO plugin_state (source_id, key, value) VALUES (?, ?, ?) \
                     ON CONFLICT (source_id, key) DO UPDATE SET value = excluded.value",
                )
                .bind(self.source_id)
                .bind(key)
                .bind(value)
                .execute(&self.pool),
            )
            .map(|_| ())
            .map_err(db_error)
    }

    fn delete(&self, key: &str) -> PluginResult<()> {
        self.runtime
            .block_on(
                sqlx::query("DELETE FROM plugin_state WHERE source_id = ? AND key = ?")
                    .bind(self.source_id)
                    .bind(key)
                    .execute(&self.pool),
            )
            .map(|_| ())
            .map_err(db_error)
    }

    fn keys(&self, prefix: &str) -> PluginResult<Vec<String>> {
        // substr() rather than LIKE: keys may contain `%` and `_`.
        self.runtime
            .block_on(
                sqlx::query_scalar(
                    "SELECT key FROM plugin_state WHERE source_id = ? AND substr(key, 1, length(?)) = ? ORDER BY key",
                )
                .bind(self.source_id)
                .bind(prefix)
                .bind(prefix)
                .fetch_all(&self.pool),
            )
            .map_err(db_error)
    }
}
