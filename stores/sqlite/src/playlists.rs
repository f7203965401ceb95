//! Playlists: named, ordered lists of tracks (a track may appear twice). Positions count
//! in the list as [`SqliteStore::playlist_tracks`] returns it, from 0.

use sqlx::{AssertSqlSafe, Row};

use super::query::{TRACK_COLUMNS, tracks_from_rows};
use tonearm_core::library::PlaylistEdit;

use super::{LibraryError, Playlist, SqliteStore, StoreError, TrackRow, now_ms};

impl SqliteStore {
    /// Creates an empty playlist and returns its id.
    pub async fn create_playlist(&self, name: &str) -> Result<i64, LibraryError> {
        let created = sqlx::query_scalar(
            "INSERT INTO playlists (name, created_at) VALUES (?, ?) RETURNING id",
        )
        .bind(name)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await;
        match created {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::PlaylistExists(name.to_owned()).into())
            }
            other => Ok(other?),
        }
    }

    /// Appends a track to a playlist.
    pub async fn append_to_playlist(
        &self,
        playlist_id: i64,
        track_id: i64,
    ) -> Result<(), LibraryError> {
        let mut tx = self.write_tx().await?;
        let playlist: Option<i64> = sqlx::query_scalar("SELECT id FROM playlists WHERE id = ?")
            .bind(playlist_id)
            .fetch_optional(&mut *tx)
            .await?;
        if playlist.is_none() {
            return Err(StoreError::NoSuchPlaylist(playlist_id).into());
        }
        let track: Option<i64> = sqlx::query_scalar("SELECT id FROM tracks WHERE id = ?")
            .bind(track_id)
            .fetch_optional(&mut *tx)
            .await?;
        if track.is_none() {
            return Err(StoreError::NoSuchTrack(track_id).into());
        }
        sqlx::query(
            "INSERT INTO playlist_items (playlist_id, position, track_id) SELECT ?, \
             coalesce(max(position) + 1, 0), ? FROM playlist_items WHERE playlist_id = ?",
        )
        .bind(playlist_id)
        .bind(track_id)
        .bind(playlist_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The tracks of a playlist in order.
    pub async fn playlist_tracks(&self, playlist_id: i64) -> Result<Vec<TrackRow>, LibraryError> {
        let playlist: Option<i64> = sqlx::query_scalar("SELECT id FROM playlists WHERE id = ?")
            .bind(playlist_id)
            .fetch_optional(&self.pool)
            .await?;
        if playlist.is_none() {
            return Err(StoreError::NoSuchPlaylist(playlist_id).into());
        }
        let sql = format!(
            "SELECT {TRACK_COLUMNS} FROM playlist_items p JOIN tracks t ON t.id = p.track_id \
             JOIN files f ON f.id = t.file_id JOIN sources s ON s.id = f.source_id \
             LEFT JOIN albums al ON al.id = t.album_id WHERE p.playlist_id = ? ORDER BY p.position"
        );
        tracks_from_rows(
            sqlx::query(AssertSqlSafe(sql))
                .bind(playlist_id)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Every playlist, by name.
    pub async fn playlists(&self) -> Result<Vec<Playlist>, LibraryError> {
        let rows = sqlx::query(
            "SELECT p.id, p.name, count(i.track_id) AS tracks FROM playlists p \
             LEFT JOIN playlist_items i ON i.playlist_id = p.id GROUP BY p.id ORDER BY p.name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Playlist {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    tracks: u32::try_from(r.try_get::<i64, _>("tracks")?).unwrap_or(u32::MAX),
                })
            })
            .collect()
    }

    /// Renames a playlist.
    pub async fn rename_playlist(&self, playlist_id: i64, name: &str) -> Result<(), LibraryError> {
        let renamed = sqlx::query("UPDATE playlists SET name = ? WHERE id = ?")
            .bind(name)
            .bind(playlist_id)
            .execute(&self.pool)
            .await;
        match renamed {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::PlaylistExists(name.to_owned()).into())
            }
            Ok(done) if done.rows_affected() == 0 => {
                Err(StoreError::NoSuchPlaylist(playlist_id).into())
            }
            other => other.map(|_| ()).map_err(Into::into),
        }
    }

    /// Deletes a playlist and its entries.
    pub async fn delete_playlist(&self, playlist_id: i64) -> Result<(), LibraryError> {
        let done = sqlx::query("DELETE FROM playlists WHERE id = ?")
            .bind(playlist_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NoSuchPlaylist(playlist_id).into());
        }
        Ok(())
    }

    /// Removes or moves an entry.
    pub async fn edit_playlist(
        &self,
        playlist_id: i64,
        edit: PlaylistEdit,
    ) -> Result<(), LibraryError> {
        let mut tx = self.write_tx().await?;
        let playlist: Option<i64> = sqlx::query_scalar("SELECT id FROM playlists WHERE id = ?")
            .bind(playlist_id)
            .fetch_optional(&mut *tx)
            .await?;
        if playlist.is_none() {
            return Err(StoreError::NoSuchPlaylist(playlist_id).into());
        }
        let mut tracks: Vec<i64> = sqlx::query_scalar(
            "SELECT track_id FROM playlist_items WHERE playlist_id = ? ORDER BY position",
        )
        .bind(playlist_id)
        .fetch_all(&mut *tx)
        .await?;
        edit.apply(playlist_id, &mut tracks)?;
        // Positions are rewritten from 0: the list is short, and gaps left by removed
        // tracks go with it.
        sqlx::query("DELETE FROM playlist_items WHERE playlist_id = ?")
            .bind(playlist_id)
            .execute(&mut *tx)
            .await?;
        for (position, track) in tracks.iter().enumerate() {
            sqlx::query(
                "INSERT INTO playlist_items (playlist_id, position, track_id) VALUES (?, ?, ?)",
            )
            .bind(playlist_id)
            .bind(position as i64)
            .bind(track)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
