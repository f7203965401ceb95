//! Batched writes: every batch is one transaction that also saves the provider's state
//! and moves the sync position, so a killed process loses nothing and duplicates nothing.

use std::collections::HashMap;

use sqlx::{AssertSqlSafe, Sqlite, Transaction};
use tonearm_plugin_api::RemoteEntry;

use tonearm_core::library::{display_names as display, hash_text};

use tonearm_core::library::StateChange;

use super::{CursorUpdate, FileWrite, LibraryError, ScannedTrack, SqliteStore, now_ms};

type Tx<'a> = Transaction<'a, Sqlite>;

fn size_i64(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

/// Get-or-create ids for names, cached for the batch.
#[derive(Default)]
struct NameIds {
    artists: HashMap<String, i64>,
    genres: HashMap<String, i64>,
    albums: HashMap<(String, String), i64>,
}

impl NameIds {
    async fn artist(&mut self, tx: &mut Tx<'_>, name: &str) -> Result<i64, LibraryError> {
        const SQL: &str = "INSERT INTO artists (name) VALUES (?) \
            ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id";
        Self::name_id(&mut self.artists, tx, name, SQL).await
    }

    async fn genre(&mut self, tx: &mut Tx<'_>, name: &str) -> Result<i64, LibraryError> {
        const SQL: &str = "INSERT INTO genres (name) VALUES (?) \
            ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id";
        Self::name_id(&mut self.genres, tx, name, SQL).await
    }

    /// The id of `name` through `cache`, created by `upsert` (which returns it) if new.
    async fn name_id(
        cache: &mut HashMap<String, i64>,
        tx: &mut Tx<'_>,
        name: &str,
        upsert: &'static str,
    ) -> Result<i64, LibraryError> {
        if let Some(&id) = cache.get(name) {
            return Ok(id);
        }
        let id = sqlx::query_scalar(upsert)
            .bind(name)
            .fetch_one(&mut **tx)
            .await?;
        cache.insert(name.to_owned(), id);
        Ok(id)
    }

    /// The album `title` by `artists`, created with its artist links on first sight.
    async fn album(
        &mut self,
        tx: &mut Tx<'_>,
        title: &str,
        artists: &[String],
        year: Option<i32>,
    ) -> Result<i64, LibraryError> {
        let key = (title.to_owned(), display(artists));
        if let Some(&id) = self.albums.get(&key) {
            return Ok(id);
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO albums (title, artist_display, year) VALUES (?, ?, ?) \
             ON CONFLICT (title, artist_display) DO UPDATE SET year = coalesce(albums.year, excluded.year) \
             RETURNING id",
        )
        .bind(title)
        .bind(&key.1)
        .bind(year)
        .fetch_one(&mut **tx)
        .await?;
        let mut artist_ids = Vec::with_capacity(artists.len());
        for name in artists {
            artist_ids.push(self.artist(tx, name).await?);
        }
        insert_links(
            tx,
            "album_artists (album_id, artist_id, position)",
            id,
            &artist_ids,
            true,
        )
        .await?;
        self.albums.insert(key, id);
        Ok(id)
    }
}

impl SqliteStore {
    /// Writes one batch of changes to `source_id`, the provider's state changes and the
    /// sync position it reached, atomically.
    pub async fn apply_batch(
        &self,
        source_id: i64,
        generation: i64,
        writes: &[FileWrite],
        state: &[StateChange],
        position: &CursorUpdate,
    ) -> Result<(), LibraryError> {
        let mut tx = self.write_tx().await?;
        let mut names = NameIds::default();
        let now = now_ms();
        for write in writes {
            match write {
                FileWrite::Scanned {
                    entry,
                    track,
                    bytes_read,
                } => {
                    let (file_id, fresh) = upsert_file(
                        &mut tx,
                        source_id,
                        generation,
                        entry,
                        None,
                        *bytes_read,
                        now,
                    )
                    .await?;
                    write_track(&mut tx, &mut names, file_id, fresh, &entry.path, track).await?;
                }
                FileWrite::Failed {
                    entry,
                    reason,
                    bytes_read,
                } => {
                    let (file_id, fresh) = upsert_file(
                        &mut tx,
                        source_id,
                        generation,
                        entry,
                        Some(reason),
                        *bytes_read,
                        now,
                    )
                    .await?;
                    // A file that used to be readable loses its track.
                    if !fresh {
                        sqlx::query("DELETE FROM tracks WHERE file_id = ?")
                            .bind(file_id)
                            .execute(&mut *tx)
                            .await?;
                    }
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
                        sqlx::query("DELETE FROM files WHERE source_id = ? AND remote_id = ?")
                            .bind(source_id)
                            .bind(&entry.id)
                            .execute(&mut *tx)
                            .await?;
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
                }
                FileWrite::Removed { remote_id } => {
                    sqlx::query("DELETE FROM files WHERE source_id = ? AND remote_id = ?")
                        .bind(source_id)
                        .bind(remote_id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        super::store::write_state(&mut tx, source_id, state).await?;
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
        Ok(())
    }

    /// Removes albums, artists, genres and artwork no track refers to any more.
    pub async fn remove_orphans_now(&self) -> Result<(), LibraryError> {
        let mut tx = self.write_tx().await?;
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

/// Writes a file row; returns its id and whether it is new (so it cannot have a track yet).
async fn upsert_file(
    tx: &mut Tx<'_>,
    source_id: i64,
    generation: i64,
    entry: &RemoteEntry,
    error: Option<&String>,
    bytes_read: u64,
    now: i64,
) -> Result<(i64, bool), LibraryError> {
    // Both statements take the same values in the same order, the key last.
    let bind = |sql: &'static str| {
        sqlx::query_scalar::<_, i64>(sql)
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
            .bind(source_id)
            .bind(&entry.id)
    };
    let inserted = bind(
        "INSERT OR IGNORE INTO files (path, size, modified_ms, content_hash, mime, status, error, bytes_read, \
         scanned_at, seen_generation, source_id, remote_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(id) = inserted {
        return Ok((id, true));
    }
    let id = bind(
        "UPDATE files SET path = ?, size = ?, modified_ms = ?, content_hash = ?, mime = ?, status = ?, error = ?, \
         bytes_read = ?, scanned_at = ?, seen_generation = ? WHERE source_id = ? AND remote_id = ? RETURNING id",
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok((id, false))
}

async fn write_track(
    tx: &mut Tx<'_>,
    names: &mut NameIds,
    file_id: i64,
    fresh: bool,
    path: &str,
    track: &ScannedTrack,
) -> Result<(), LibraryError> {
    let tags = &track.tags;
    // Without album artists, an album belongs to its track artists (as most players do).
    let album_artists = if tags.album_artists.is_empty() {
        &tags.artists
    } else {
        &tags.album_artists
    };
    let album_id = match &tags.album {
        None => None,
        Some(title) => Some(names.album(tx, title, album_artists, tags.year).await?),
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
    let track_id: i64 = sqlx::query_scalar(TRACK_UPSERT)
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
        .bind(&track.tag_problem)
        .fetch_one(&mut **tx)
        .await?;

    // A new file cannot have relations or a search row yet; skip the deletes.
    if !fresh {
        for sql in [
            "DELETE FROM track_artists WHERE track_id = ?",
            "DELETE FROM track_genres WHERE track_id = ?",
            "DELETE FROM tracks_fts WHERE rowid = ?",
        ] {
            sqlx::query(sql).bind(track_id).execute(&mut **tx).await?;
        }
    }
    let mut artist_ids = Vec::with_capacity(tags.artists.len());
    for name in &tags.artists {
        artist_ids.push(names.artist(tx, name).await?);
    }
    insert_links(
        tx,
        "track_artists (track_id, artist_id, position)",
        track_id,
        &artist_ids,
        true,
    )
    .await?;
    let mut genre_ids = Vec::with_capacity(tags.genres.len());
    for name in &tags.genres {
        genre_ids.push(names.genre(tx, name).await?);
    }
    insert_links(
        tx,
        "track_genres (track_id, genre_id)",
        track_id,
        &genre_ids,
        false,
    )
    .await?;

    sqlx::query(
        "INSERT INTO tracks_fts (rowid, title, artists, album, album_artists, genres, path) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(track_id)
    .bind(tags.title.as_deref().unwrap_or_default())
    .bind(display(&tags.artists))
    .bind(tags.album.as_deref().unwrap_or_default())
    .bind(if tags.album.is_some() { display(album_artists) } else { String::new() })
    .bind(tags.genres.join(" "))
    .bind(path)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Links `owner` to `ids` in one statement (`table` names the table and its columns; with
/// `positions`, each link also records its index).
async fn insert_links(
    tx: &mut Tx<'_>,
    table: &'static str,
    owner: i64,
    ids: &[i64],
    positions: bool,
) -> Result<(), LibraryError> {
    if ids.is_empty() {
        return Ok(());
    }
    let row = if positions { "(?, ?, ?)" } else { "(?, ?)" };
    // Assembled from a constant table name and placeholders only.
    let sql = format!(
        "INSERT OR IGNORE INTO {table} VALUES {}",
        vec![row; ids.len()].join(", ")
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for (position, id) in ids.iter().enumerate() {
        query = query.bind(owner).bind(id);
        if positions {
            query = query.bind(position as i64);
        }
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

const TRACK_UPSERT: &str = "INSERT INTO tracks (file_id, title, artist_display, album_id, track_number, \
    track_total, disc_number, disc_total, year, duration_ms, sample_rate, channels, bit_depth, bitrate_kbps, \
    file_type, replaygain_track_gain, replaygain_track_peak, replaygain_album_gain, replaygain_album_peak, \
    r128_track_gain, r128_album_gain, artwork_id, musicbrainz_recording_id, musicbrainz_release_id, isrc, \
    tag_problem) \
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
    ON CONFLICT (file_id) DO UPDATE SET title = excluded.title, artist_display = excluded.artist_display, \
    album_id = excluded.album_id, track_number = excluded.track_number, track_total = excluded.track_total, \
    disc_number = excluded.disc_number, disc_total = excluded.disc_total, year = excluded.year, \
    duration_ms = excluded.duration_ms, sample_rate = excluded.sample_rate, channels = excluded.channels, \
    bit_depth = excluded.bit_depth, bitrate_kbps = excluded.bitrate_kbps, file_type = excluded.file_type, \
    replaygain_track_gain = excluded.replaygain_track_gain, replaygain_track_peak = excluded.replaygain_track_peak, \
    replaygain_album_gain = excluded.replaygain_album_gain, replaygain_album_peak = excluded.replaygain_album_peak, \
    r128_track_gain = excluded.r128_track_gain, r128_album_gain = excluded.r128_album_gain, \
    artwork_id = excluded.artwork_id, musicbrainz_recording_id = excluded.musicbrainz_recording_id, \
    musicbrainz_release_id = excluded.musicbrainz_release_id, isrc = excluded.isrc, \
    tag_problem = excluded.tag_problem RETURNING id";

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
