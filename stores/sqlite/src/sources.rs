//! Sources and their sync position.

use std::collections::{BTreeMap, HashMap};

// Dynamic SQL here is assembled only from constants and `?` placeholders.
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row};

use tonearm_core::library::{Retry, hash_from_text};
use tonearm_plugin_api::RemoteEntry;

use super::write::remove_orphans;
use super::{KnownFile, LibraryError, Source, SqliteStore, StoreError, now_ms};

/// The retry of a file row, if its failure may pass.
pub(super) fn retry_of(row: &SqliteRow) -> Result<Option<Retry>, LibraryError> {
    let failures: Option<i64> = row.try_get("retry_failures")?;
    let at_ms: Option<i64> = row.try_get("retry_at")?;
    Ok(failures.zip(at_ms).map(|(failures, at_ms)| Retry {
        failures: u32::try_from(failures).unwrap_or(u32::MAX),
        at_ms,
    }))
}

fn source_from_row(row: &SqliteRow) -> Result<Source, LibraryError> {
    let settings: String = row.try_get("settings")?;
    let settings: BTreeMap<String, String> = serde_json::from_str(&settings)
        .map_err(|e| StoreError::Corrupt(format!("settings of a source: {e}")))?;
    Ok(Source {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        provider: row.try_get("provider")?,
        settings,
        cursor: row.try_get("cursor")?,
        pending_cursor: row.try_get("pending_cursor")?,
        pending_page: row.try_get("pending_page")?,
        generation: row.try_get("generation")?,
        last_sync_at: row.try_get("last_sync_at")?,
        last_error: row.try_get("last_error")?,
    })
}

impl SqliteStore {
    /// Adds a source named `name` served by the provider plugin `provider`.
    pub async fn add_source(
        &self,
        name: &str,
        provider: &str,
        settings: &BTreeMap<String, String>,
    ) -> Result<Source, LibraryError> {
        let settings_json = serde_json::to_string(settings)
            .map_err(|e| StoreError::Corrupt(format!("cannot encode settings: {e}")))?;
        let inserted = sqlx::query(
            "INSERT INTO sources (name, provider, settings, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(name)
        .bind(provider)
        .bind(settings_json)
        .bind(now_ms())
        .execute(&self.pool)
        .await;
        match inserted {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::SourceExists(name.to_owned()).into());
            }
            other => {
                other?;
            }
        }
        self.source(name).await
    }

    /// Every source, by name.
    pub async fn sources(&self) -> Result<Vec<Source>, LibraryError> {
        sqlx::query("SELECT * FROM sources ORDER BY name")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(source_from_row)
            .collect()
    }

    /// The source named `name`.
    pub async fn source(&self, name: &str) -> Result<Source, LibraryError> {
        let row = sqlx::query("SELECT * FROM sources WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NoSuchSource(name.to_owned()))?;
        source_from_row(&row)
    }

    /// Removes a source with its files, tracks and state.
    pub async fn remove_source(&self, name: &str) -> Result<(), LibraryError> {
        let name = name.to_owned();
        self.writer
            .transaction(move |tx| {
                let deleted = tx
                    .prepare_cached("DELETE FROM sources WHERE name = ?")?
                    .execute([&name])?;
                if deleted == 0 {
                    return Err(StoreError::NoSuchSource(name).into());
                }
                remove_orphans(tx)
            })
            .await
    }

    /// The files of `source_id` among `remote_ids`, by remote id.
    pub async fn known_files(
        &self,
        source_id: i64,
        remote_ids: &[&str],
    ) -> Result<HashMap<String, KnownFile>, LibraryError> {
        let mut known = HashMap::with_capacity(remote_ids.len());
        // Bounded IN lists keep well under SQLite's parameter limit.
        for chunk in remote_ids.chunks(500) {
            let placeholders = vec!["?"; chunk.len()].join(",");
            let sql = format!(
                "SELECT id, remote_id, path, size, modified_ms, content_hash, status, \
                 retry_failures, retry_at FROM files \
                 WHERE source_id = ? AND remote_id IN ({placeholders})"
            );
            let mut query = sqlx::query(AssertSqlSafe(sql)).bind(source_id);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&self.pool).await? {
                let file = KnownFile {
                    id: row.try_get("id")?,
                    remote_id: row.try_get("remote_id")?,
                    path: row.try_get("path")?,
                    size: u64::try_from(row.try_get::<i64, _>("size")?).unwrap_or(0),
                    modified_ms: row.try_get("modified_ms")?,
                    content_hash: row.try_get("content_hash")?,
                    ok: row.try_get::<String, _>("status")? == "ok",
                    retry: retry_of(&row)?,
                };
                known.insert(file.remote_id.clone(), file);
            }
        }
        Ok(known)
    }

    /// The files of `source_id` whose passing failure is due again at `now_ms`, as
    /// last listed.
    pub async fn retries_due(
        &self,
        source_id: i64,
        now_ms: i64,
    ) -> Result<Vec<RemoteEntry>, LibraryError> {
        let rows = sqlx::query(
            "SELECT remote_id, path, size, modified_ms, content_hash, mime FROM files \
             WHERE source_id = ? AND retry_at IS NOT NULL AND retry_at <= ?",
        )
        .bind(source_id)
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let hash: Option<String> = row.try_get("content_hash")?;
                Ok(RemoteEntry {
                    id: row.try_get("remote_id")?,
                    path: row.try_get("path")?,
                    size: u64::try_from(row.try_get::<i64, _>("size")?).unwrap_or(0),
                    modified_ms: row.try_get("modified_ms")?,
                    content_hash: hash.as_deref().and_then(hash_from_text),
                    mime: row.try_get("mime")?,
                })
            })
            .collect()
    }

    /// Starts a full listing of `source_id` from `cursor` and returns its generation. A
    /// listing already in progress is resumed instead: its generation is returned.
    pub async fn begin_listing(&self, source_id: i64, cursor: &str) -> Result<i64, LibraryError> {
        let generation = sqlx::query_scalar(
            "UPDATE sources SET pending_cursor = ?, pending_page = NULL, generation = generation + 1 \
             WHERE id = ? RETURNING generation",
        )
        .bind(cursor)
        .bind(source_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(generation)
    }

    /// Finishes a full listing: files not seen in it are removed, and its cursor becomes
    /// the source's change cursor. Returns how many files were removed.
    pub async fn finish_listing(
        &self,
        source_id: i64,
        generation: i64,
    ) -> Result<u64, LibraryError> {
        let now = now_ms();
        self.writer
            .transaction(move |tx| {
                let removed = tx
                    .prepare_cached(
                        "DELETE FROM files WHERE source_id = ? AND seen_generation <> ?",
                    )?
                    .execute(rusqlite::params![source_id, generation])?;
                tx.prepare_cached(
                    "UPDATE sources SET cursor = pending_cursor, pending_cursor = NULL, \
                     pending_page = NULL, last_sync_at = ?, last_error = NULL WHERE id = ?",
                )?
                .execute(rusqlite::params![now, source_id])?;
                remove_orphans(tx)?;
                Ok(removed as u64)
            })
            .await
    }

    /// Forgets the change cursor so the next sync lists everything again.
    pub async fn reset_cursor(&self, source_id: i64) -> Result<(), LibraryError> {
        sqlx::query("UPDATE sources SET cursor = NULL, pending_cursor = NULL, pending_page = NULL WHERE id = ?")
            .bind(source_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records that a sync finished (`error: None`) or failed.
    pub async fn record_sync_result(
        &self,
        source_id: i64,
        error: Option<&str>,
    ) -> Result<(), LibraryError> {
        let query = match error {
            None => {
                sqlx::query("UPDATE sources SET last_error = NULL, last_sync_at = ? WHERE id = ?")
                    .bind(now_ms())
            }
            Some(e) => sqlx::query("UPDATE sources SET last_error = ? WHERE id = ?").bind(e),
        };
        query.bind(source_id).execute(&self.pool).await?;
        Ok(())
    }
}
