//! Batched writes: every batch is one transaction that also moves the sync position, so a
//! killed process loses nothing and duplicates nothing.

use std::collections::HashMap;

use sqlx::{Sqlite, Transaction};
use tonearm_plugin_api::RemoteEntry;

use super::model::{CursorUpdate, FileWrite, ScannedTrack};
use super::{Library, LibraryError, now_ms};

/// What a batch changed, in tracks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Files written.
    pub files_written: u64,
    /// Files removed.
    pub files_removed: u64,
}

type Tx<'a> = Transaction<'a, Sqlite>;

fn hash_text(entry: &RemoteEntry) -> Option<String> {
    entry
        .content_hash
        .as_ref()
        .map(|h| format!("{}:{}", h.algorithm, h.value))
}

fn size_i64(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

/// Joins names for display: `A; B`.
pub(crate) fn display(names: &[String]) -> String {
    names.join("; ")
}

/// Get-or-create ids for names, cached for the batch.
#[derive(Default)]
struct NameIds {
    artists: HashMap<String, i64>,
    genres: HashMap<String, i64>,
}

impl NameIds {
    async fn artist(&mut self, tx: &mut Tx<'_>, name: &str) -> Result<i64, LibraryError> {
        if let Some(&id) = self.artists.get(name) {
            return Ok(id);
        }
        let id = sqlx::query_scalar(
            "INSERT INTO artists (name) VALUES (?) ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id",
        )
        .bind(name)
        .fetch_one(&mut **tx)
        .await?;
        self.artists.insert(name.to_owned(), id);
        Ok(id)
    }

    async fn genre(&mut self, tx: &mut Tx<'_>, name: &str) -> Result<i64, LibraryError> {
        if let Some(&id) = self.genres.get(name) {
            return Ok(id);
        }
        let id = sqlx::query_scalar(
            "INSERT INTO genres (name) VALUES (?) ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id",
        )
        .bind(name)
        .fetch_one(&mut **tx)
        .await?;
        self.genres.insert(name.to_owned(), id);
        Ok(id)
    }
}

impl Library {
    /// Writes one batch of changes to `source_id` and moves its sync position, atomically.
    pub async fn apply_batch(
        &self,
        source_id: i64,
        generation: i64,
        writes: &[FileWrite],
        position: &CursorUpdate,
    ) -> Result<BatchOutcome, LibraryError> {
        let mut tx = self.pool.begin().await?;
        let mut names = NameIds::default();
        let mut outcome = BatchOutcome::default();
        let now = now_ms();
        for write in writes {
            match write {
                FileWrite::Scanned {
                    entry,
                    track,
                    bytes_read,
                } => {
                    let file_id = upsert_file(
                        &mut tx,
                        source_id,
                        generation,
                        entry,
                        None,
                        *bytes_read,
                        now,
                    )
                    .await?;
                    write_track(&mut tx, &mut names, file_id, track).await?;
                    outcome.files_written += 1;
                }
                FileWrite::Failed {
                    entry,
                    reason,
                    bytes_read,
                } => {
                    let file_id = upsert_file(
                        &mut tx,
                        source_id,
                        generation,
                        entry,
                        Some(reason),
                        *bytes_read,
                        now,
                    )
                    .await?;
                    sqlx::query("DELETE FROM tracks WHERE file_id = ?")
                        .bind(file_id)
                        .execute(&mut *tx)
                        .await?;
                    outcome.files_written += 1;
                }
                FileWrite::Unchanged { entry } => {
                    let changed_path: Option<i64> = sqlx::query_scalar(
                        "UPDATE files SET path = ?, modified_ms = ?, content_hash = coalesce(?, content_hash), \
                         seen_generation = ? WHERE source_id = ? AND remote_id = ? AND path <> ? RETURNING id",
                    )
                    .bind(&entry.path)
                    .bind(entry.modified_ms)
                    .bind(hash_text(entry))
                    .bind(generation)
                    .bind(source_id)
                    .bind(&entry.id)
                    .bind(&entry.path)
                    .fetch_optional(&mut *tx)
                    .await?;
                    match changed_path {
                        Some(file_id) => reindex_file(&mut tx, file_id).await?,
                        None => {
                            sqlx::query(
                                "UPDATE files SET modified_ms = ?, content_hash = coalesce(?, content_hash), \
                                 seen_generation = ? WHERE source_id = ? AND remote_id = ?",
                            )
                            .bind(entry.modified_ms)
                            .bind(hash_text(entry))
                            .bind(generation)
                            .bind(source_id)
                            .bind(&entry.id)
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                }
                FileWrite::Moved { from_id, entry } => {
                    let from: Option<i64> = sqlx::query_scalar(
                        "SELECT id FROM files WHERE source_id = ? AND remote_id = ?",
                    )
                    .bind(source_id)
                    .bind(from_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    // Already applied (a replayed page): nothing to move.
                    let Some(file_id) = from else { continue };
                    // A file moved over another one replaces it.
                    if from_id != &entry.id {
                        outcome.files_removed +=
                            sqlx::query("DELETE FROM files WHERE source_id = ? AND remote_id = ?")
                                .bind(source_id)
                                .bind(&entry.id)
                                .execute(&mut *tx)
                                .await?
                                .rows_affected();
                    }
                    sqlx::query(
                        "UPDATE files SET remote_id = ?, path = ?, size = ?, modified_ms = ?, \
                         content_hash = ?, seen_generation = ? WHERE id = ?",
                    )
                    .bind(&entry.id)
                    .bind(&entry.path)
                    .bind(size_i64(entry.size))
                    .bind(entry.modified_ms)
                    .bind(hash_text(entry))
                    .bind(generation)
                    .bind(file_id)
                    .execute(&mut *tx)
                    .await?;
                    reindex_file(&mut tx, file_id).await?;
                    outcome.files_written += 1;
                }
                FileWrite::Removed { remote_id } => {
                    outcome.files_removed +=
                        sqlx::query("DELETE FROM files WHERE source_id = ? AND remote_id = ?")
                            .bind(source_id)
                            .bind(remote_id)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                }
            }
        }
        match position {
            CursorUpdate::None => {}
            CursorUpdate::ListingPage(page) => {
                sqlx::query("UPDATE sources SET pending_page = ? WHERE id = ?")
                    .bind(page)
                    .bind(source_id)
                    .execute(&mut *tx)
                    .await?;
            }
            CursorUpdate::Cursor(cursor) => {
                sqlx::query("UPDATE sources SET cursor = ? WHERE id = ?")
                    .bind(cursor)
                    .bind(source_id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(outcome)
    }

    /// Removes albums, artists, genres and artwork no track refers to any more.
    pub async fn remove_orphans_now(&self) -> Result<(), LibraryError> {
        let mut tx = self.pool.begin().await?;
        Self::remove_orphans(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn remove_orphans(tx: &mut Tx<'_>) -> Result<(), LibraryError> {
        for sql in [
            "DELETE FROM albums WHERE id NOT IN (SELECT album_id FROM tracks WHERE album_id IS NOT NULL)",
            "DELETE FROM artists WHERE id NOT IN (SELECT artist_id FROM track_artists) \
             AND id NOT IN (SELECT artist_id FROM album_artists)",
            "DELETE FROM genres WHERE id NOT IN (SELECT genre_id FROM track_genres)",
            "DELETE FROM artwork WHERE id NOT IN (SELECT artwork_id FROM tracks WHERE artwork_id IS NOT NULL)",
        ] {
            sqlx::query(sql).execute(&mut **tx).await?;
        }
        Ok(())
    }
}

async fn upsert_file(
    tx: &mut Tx<'_>,
    source_id: i64,
    generation: i64,
    entry: &RemoteEntry,
    error: Option<&String>,
    bytes_read: u64,
    now: i64,
) -> Result<i64, LibraryError> {
    let id = sqlx::query_scalar(
        "INSERT INTO files (source_id, remote_id, path, size, modified_ms, content_hash, mime, status, error, \
         bytes_read, scanned_at, seen_generation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (source_id, remote_id) DO UPDATE SET path = excluded.path, size = excluded.size, \
         modified_ms = excluded.modified_ms, content_hash = excluded.content_hash, mime = excluded.mime, \
         status = excluded.status, error = excluded.error, bytes_read = excluded.bytes_read, \
         scanned_at = excluded.scanned_at, seen_generation = excluded.seen_generation RETURNING id",
    )
    .bind(source_id)
    .bind(&entry.id)
    .bind(&entry.path)
    .bind(size_i64(entry.size))
    .bind(entry.modified_ms)
    .bind(hash_text(entry))
    .bind(&entry.mime)
    .bind(if error.is_some() { "error" } else { "ok" })
    .bind(error)
    .bind(size_i64(bytes_read))
    .bind(now)
    .bind(generation)
    .fetch_one(&mut **tx)
    .await?;
    Ok(id)
}

async fn write_track(
    tx: &mut Tx<'_>,
    names: &mut NameIds,
    file_id: i64,
    track: &ScannedTrack,
) -> Result<(), LibraryError> {
    let tags = &track.tags;
    // Without album artists, an album belongs to its track artists (as most players do).
    let album_artists = if tags.album_artists.is_empty() {
        &tags.artists
    } else {
        &tags.album_artists
    };
    let album_id: Option<i64> = match &tags.album {
        None => None,
        Some(title) => {
            let id = sqlx::query_scalar(
                "INSERT INTO albums (title, artist_display, year) VALUES (?, ?, ?) \
                 ON CONFLICT (title, artist_display) DO UPDATE SET year = coalesce(albums.year, excluded.year) \
                 RETURNING id",
            )
            .bind(title)
            .bind(display(album_artists))
            .bind(tags.year)
            .fetch_one(&mut **tx)
            .await?;
            for (position, name) in album_artists.iter().enumerate() {
                let artist = names.artist(tx, name).await?;
                sqlx::query("INSERT OR IGNORE INTO album_artists (album_id, artist_id, position) VALUES (?, ?, ?)")
                    .bind(id)
                    .bind(artist)
                    .bind(position as i64)
                    .execute(&mut **tx)
                    .await?;
            }
            Some(id)
        }
    };
    let artwork_id: Option<i64> = match &track.artwork {
        None => None,
        Some(art) => Some(
            sqlx::query_scalar(
                "INSERT INTO artwork (sha256, mime, byte_len) VALUES (?, ?, ?) \
                 ON CONFLICT (sha256) DO UPDATE SET mime = coalesce(artwork.mime, excluded.mime) RETURNING id",
            )
            .bind(&art.sha256)
            .bind(&art.mime)
            .bind(size_i64(art.byte_len))
            .fetch_one(&mut **tx)
            .await?,
        ),
    };
    let audio = &track.audio;
    let gain = &track.gain;
    let track_id: i64 = sqlx::query_scalar(
        "INSERT INTO tracks (file_id, title, artist_display, album_id, track_number, track_total, disc_number, \
         disc_total, year, duration_ms, sample_rate, channels, bit_depth, bitrate_kbps, file_type, \
         replaygain_track_gain, replaygain_track_peak, replaygain_album_gain, replaygain_album_peak, \
         r128_track_gain, r128_album_gain, artwork_id, musicbrainz_recording_id, musicbrainz_release_id, isrc) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (file_id) DO UPDATE SET title = excluded.title, artist_display = excluded.artist_display, \
         album_id = excluded.album_id, track_number = excluded.track_number, track_total = excluded.track_total, \
         disc_number = excluded.disc_number, disc_total = excluded.disc_total, year = excluded.year, \
         duration_ms = excluded.duration_ms, sample_rate = excluded.sample_rate, channels = excluded.channels, \
         bit_depth = excluded.bit_depth, bitrate_kbps = excluded.bitrate_kbps, file_type = excluded.file_type, \
         replaygain_track_gain = excluded.replaygain_track_gain, replaygain_track_peak = excluded.replaygain_track_peak, \
         replaygain_album_gain = excluded.replaygain_album_gain, replaygain_album_peak = excluded.replaygain_album_peak, \
         r128_track_gain = excluded.r128_track_gain, r128_album_gain = excluded.r128_album_gain, \
         artwork_id = excluded.artwork_id, musicbrainz_recording_id = excluded.musicbrainz_recording_id, \
         musicbrainz_release_id = excluded.musicbrainz_release_id, isrc = excluded.isrc RETURNING id",
    )
    .bind(file_id)
    .bind(&tags.title)
    .bind(display(&tags.artists))
    .bind(album_id)
    .bind(tags.track_number)
    .bind(tags.track_total)
    .bind(tags.disc_number)
    .bind(tags.disc_total)
    .bind(tags.year)
    .bind(audio.duration_ms.map(size_i64))
    .bind(audio.sample_rate)
    .bind(audio.channels)
    .bind(audio.bit_depth)
    .bind(audio.bitrate_kbps)
    .bind(&audio.file_type)
    .bind(gain.track_gain)
    .bind(gain.track_peak)
    .bind(gain.album_gain)
    .bind(gain.album_peak)
    .bind(gain.r128_track_gain)
    .bind(gain.r128_album_gain)
    .bind(artwork_id)
    .bind(&tags.musicbrainz_recording_id)
    .bind(&tags.musicbrainz_release_id)
    .bind(&tags.isrc)
    .fetch_one(&mut **tx)
    .await?;

    sqlx::query("DELETE FROM track_artists WHERE track_id = ?")
        .bind(track_id)
        .execute(&mut **tx)
        .await?;
    for (position, name) in tags.artists.iter().enumerate() {
        let artist = names.artist(tx, name).await?;
        sqlx::query(
            "INSERT OR IGNORE INTO track_artists (track_id, artist_id, position) VALUES (?, ?, ?)",
        )
        .bind(track_id)
        .bind(artist)
        .bind(position as i64)
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query("DELETE FROM track_genres WHERE track_id = ?")
        .bind(track_id)
        .execute(&mut **tx)
        .await?;
    for name in &tags.genres {
        let genre = names.genre(tx, name).await?;
        sqlx::query("INSERT OR IGNORE INTO track_genres (track_id, genre_id) VALUES (?, ?)")
            .bind(track_id)
            .bind(genre)
            .execute(&mut **tx)
            .await?;
    }
    reindex_track(tx, track_id).await
}

/// Rebuilds the search row of the track of `file_id`, if it has one.
async fn reindex_file(tx: &mut Tx<'_>, file_id: i64) -> Result<(), LibraryError> {
    let track: Option<i64> = sqlx::query_scalar("SELECT id FROM tracks WHERE file_id = ?")
        .bind(file_id)
        .fetch_optional(&mut **tx)
        .await?;
    match track {
        Some(id) => reindex_track(tx, id).await,
        None => Ok(()),
    }
}

/// Rebuilds one track's search row from the tables.
async fn reindex_track(tx: &mut Tx<'_>, track_id: i64) -> Result<(), LibraryError> {
    sqlx::query("DELETE FROM tracks_fts WHERE rowid = ?")
        .bind(track_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO tracks_fts (rowid, title, artists, album, album_artists, genres, path) \
         SELECT t.id, coalesce(t.title, ''), t.artist_display, coalesce(al.title, ''), \
         coalesce(al.artist_display, ''), \
         coalesce((SELECT group_concat(g.name, ' ') FROM track_genres tg JOIN genres g ON g.id = tg.genre_id \
                   WHERE tg.track_id = t.id), ''), f.path \
         FROM tracks t JOIN files f ON f.id = t.file_id LEFT JOIN albums al ON al.id = t.album_id WHERE t.id = ?",
    )
    .bind(track_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
