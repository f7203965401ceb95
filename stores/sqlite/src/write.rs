//! Batched writes: every batch is one transaction that also saves the provider's state
//! and moves the sync position, so a killed process loses nothing and duplicates nothing.
//! Batches go through the [`Writer`](super::writer::Writer): one blocking hop each.

use std::collections::HashMap;

use rusqlite::{OptionalExtension as _, Transaction, params};
use tonearm_plugin_api::RemoteEntry;

use tonearm_core::library::{Retry, StateChange, display_names as display, hash_text};

use super::{CursorUpdate, FileWrite, LibraryError, ScannedTrack, SqliteStore, now_ms};

pub(super) type Tx<'a> = Transaction<'a>;

fn size_i64(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

/// Get-or-create ids for names, cached for the batch.
#[derive(Default)]
pub(super) struct NameIds {
    artists: HashMap<String, i64>,
    genres: HashMap<String, i64>,
    albums: HashMap<(String, String), i64>,
}

impl NameIds {
    pub(super) fn artist(&mut self, tx: &Tx<'_>, name: &str) -> Result<i64, LibraryError> {
        const SQL: &str = "INSERT INTO artists (name) VALUES (?) \
            ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id";
        Self::name_id(&mut self.artists, tx, name, SQL)
    }

    fn genre(&mut self, tx: &Tx<'_>, name: &str) -> Result<i64, LibraryError> {
        const SQL: &str = "INSERT INTO genres (name) VALUES (?) \
            ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id";
        Self::name_id(&mut self.genres, tx, name, SQL)
    }

    /// The id of `name` through `cache`, created by `upsert` (which returns it) if new.
    fn name_id(
        cache: &mut HashMap<String, i64>,
        tx: &Tx<'_>,
        name: &str,
        upsert: &'static str,
    ) -> Result<i64, LibraryError> {
        if let Some(&id) = cache.get(name) {
            return Ok(id);
        }
        let id = tx.prepare_cached(upsert)?.query_row([name], |r| r.get(0))?;
        cache.insert(name.to_owned(), id);
        Ok(id)
    }

    /// The album `title` by `artists`, created with its artist links on first sight.
    pub(super) fn album(
        &mut self,
        tx: &Tx<'_>,
        title: &str,
        artists: &[String],
        year: Option<i32>,
    ) -> Result<i64, LibraryError> {
        let key = (title.to_owned(), display(artists));
        if let Some(&id) = self.albums.get(&key) {
            return Ok(id);
        }
        let id: i64 = tx
            .prepare_cached(
                "INSERT INTO albums (title, artist_display, year) VALUES (?, ?, ?) \
                 ON CONFLICT (title, artist_display) DO UPDATE SET year = coalesce(albums.year, excluded.year) \
                 RETURNING id",
            )?
            .query_row(params![title, &key.1, year], |r| r.get(0))?;
        let mut artist_ids = Vec::with_capacity(artists.len());
        for name in artists {
            artist_ids.push(self.artist(tx, name)?);
        }
        insert_links(
            tx,
            "album_artists (album_id, artist_id, position)",
            id,
            &artist_ids,
            true,
        )?;
        self.albums.insert(key, id);
        Ok(id)
    }
}

/// Search rows of a batch, written together at its end.
///
/// FTS5 flushes its pending terms to a new segment at every statement savepoint once it
/// has been written in a transaction, and every later insert opens one: a row at a time,
/// a batch makes hundreds of one-row segments and merges them. Queued and written in a
/// few multi-row statements, a batch makes one segment.
#[derive(Default)]
struct SearchRows {
    deletes: Vec<i64>,
    inserts: Vec<[rusqlite::types::Value; 7]>,
}

/// Rows per multi-row search insert (7 values each, far below SQLite's variable limit).
const SEARCH_ROWS_PER_STATEMENT: usize = 64;

impl SearchRows {
    /// Writes what is queued, deletes first (an updated track is deleted and inserted).
    fn flush(&mut self, tx: &Tx<'_>) -> Result<(), LibraryError> {
        for chunk in self.deletes.chunks(SEARCH_ROWS_PER_STATEMENT) {
            let sql = format!(
                "DELETE FROM tracks_fts WHERE rowid IN ({})",
                vec!["?"; chunk.len()].join(", ")
            );
            tx.prepare_cached(&sql)?
                .execute(rusqlite::params_from_iter(chunk))?;
        }
        self.deletes.clear();
        for chunk in self.inserts.chunks(SEARCH_ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO tracks_fts (rowid, title, artists, album, album_artists, genres, path) \
                 VALUES {}",
                vec!["(?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ")
            );
            tx.prepare_cached(&sql)?
                .execute(rusqlite::params_from_iter(chunk.iter().flatten()))?;
        }
        self.inserts.clear();
        Ok(())
    }
}

impl SqliteStore {
    /// Writes one batch of changes to `source_id`, the provider's state changes and the
    /// sync position it reached, atomically.
    pub async fn apply_batch(
        &self,
        source_id: i64,
        generation: i64,
        writes: Vec<FileWrite>,
        state: Vec<StateChange>,
        position: CursorUpdate,
    ) -> Result<(), LibraryError> {
        self.writer
            .transaction(move |tx| {
                let mut batch = Batch {
                    source_id,
                    generation,
                    now: now_ms(),
                    names: NameIds::default(),
                    search: SearchRows::default(),
                };
                for write in &writes {
                    batch.apply(tx, write)?;
                }
                batch.search.flush(tx)?;
                write_state(tx, source_id, &state)?;
                match &position {
                    CursorUpdate::None => {}
                    CursorUpdate::ListingPage(page) => {
                        tx.prepare_cached("UPDATE sources SET pending_page = ? WHERE id = ?")?
                            .execute(params![page, source_id])?;
                    }
                    CursorUpdate::Cursor(cursor) => {
                        tx.prepare_cached("UPDATE sources SET cursor = ? WHERE id = ?")?
                            .execute(params![cursor, source_id])?;
                    }
                }
                Ok(())
            })
            .await
    }

    /// Applies changes to the plugin state of a source in one transaction.
    pub async fn save_state(
        &self,
        source_id: i64,
        changes: &[StateChange],
    ) -> Result<(), LibraryError> {
        let changes = changes.to_vec();
        self.writer
            .transaction(move |tx| write_state(tx, source_id, &changes))
            .await
    }

    /// Removes albums, artists, genres and artwork no track refers to any more.
    pub async fn remove_orphans_now(&self) -> Result<(), LibraryError> {
        self.writer.transaction(remove_orphans).await
    }
}

/// Removes albums, artists, genres and artwork no track refers to any more, in `tx`.
pub(super) fn remove_orphans(tx: &Tx<'_>) -> Result<(), LibraryError> {
    tx.execute_batch(
        "DELETE FROM albums WHERE id NOT IN (SELECT album_id FROM tracks WHERE album_id IS NOT NULL); \
         DELETE FROM artists WHERE id NOT IN (SELECT artist_id FROM track_artists) \
           AND id NOT IN (SELECT artist_id FROM album_artists); \
         DELETE FROM genres WHERE id NOT IN (SELECT genre_id FROM track_genres); \
         DELETE FROM artwork WHERE id NOT IN (SELECT artwork_id FROM tracks WHERE artwork_id IS NOT NULL); \
         DELETE FROM artwork_images WHERE sha256 NOT IN (SELECT sha256 FROM artwork);",
    )?;
    Ok(())
}

/// Applies plugin state changes of `source_id` in `tx`.
fn write_state(tx: &Tx<'_>, source_id: i64, changes: &[StateChange]) -> Result<(), LibraryError> {
    for (key, value) in changes {
        match value {
            Some(value) => tx
                .prepare_cached(
                    "INSERT INTO plugin_state (source_id, key, value) VALUES (?, ?, ?) \
                     ON CONFLICT (source_id, key) DO UPDATE SET value = excluded.value",
                )?
                .execute(params![source_id, key, value])?,
            None => tx
                .prepare_cached("DELETE FROM plugin_state WHERE source_id = ? AND key = ?")?
                .execute(params![source_id, key])?,
        };
    }
    Ok(())
}

/// One batch being written: where it writes, and what it keeps until its end.
struct Batch {
    source_id: i64,
    generation: i64,
    now: i64,
    names: NameIds,
    search: SearchRows,
}

impl Batch {
    /// Applies one write of the batch.
    fn apply(&mut self, tx: &Tx<'_>, write: &FileWrite) -> Result<(), LibraryError> {
        let (source_id, generation, now) = (self.source_id, self.generation, self.now);
        let file = |entry, error, retry, bytes_read| FileRow {
            source_id,
            generation,
            entry,
            error,
            retry,
            bytes_read,
            now,
        };
        // Writes that rebuild or drop search rows directly see the queued ones first.
        if !matches!(
            write,
            FileWrite::Scanned { .. } | FileWrite::Unchanged { .. }
        ) {
            self.search.flush(tx)?;
        }
        match write {
            FileWrite::Scanned {
                entry,
                track,
                bytes_read,
            } => {
                let (file_id, fresh) = file(entry, None, None, *bytes_read).upsert(tx)?;
                // A rescanned file keeps what enrichment and the user wrote over its tags,
                // and its sources' answers, which were about the old file, are forgotten.
                let overrides = if fresh {
                    Vec::new()
                } else {
                    super::enrich::forget_answers_of_file(tx, file_id)?;
                    super::enrich::overrides_of_file(tx, file_id)?
                };
                if overrides.is_empty() {
                    write_track(tx, self, file_id, fresh, &entry.path, track)?;
                } else {
                    let mut track = track.as_ref().clone();
                    for (field, value) in &overrides {
                        field.set(&mut track.tags, value);
                    }
                    write_track(tx, self, file_id, fresh, &entry.path, &track)?;
                }
            }
            FileWrite::Failed {
                entry,
                reason,
                bytes_read,
                retry,
            } => {
                let (file_id, fresh) = file(entry, Some(reason), *retry, *bytes_read).upsert(tx)?;
                // A file that used to be readable loses its track.
                if !fresh {
                    tx.prepare_cached("DELETE FROM tracks WHERE file_id = ?")?
                        .execute([file_id])?;
                }
            }
            FileWrite::Unchanged { entry } => {
                let hash = hash_text(entry);
                let changed_path: Option<i64> = tx
                .prepare_cached(
                    "UPDATE files SET path = ?, modified_ms = ?, content_hash = coalesce(?, content_hash), \
                     seen_generation = ? WHERE source_id = ? AND remote_id = ? AND path <> ? RETURNING id",
                )?
                .query_row(
                    params![
                        &entry.path,
                        entry.modified_ms,
                        hash,
                        generation,
                        source_id,
                        &entry.id,
                        &entry.path
                    ],
                    |r| r.get(0),
                )
                .optional()?;
                match changed_path {
                    Some(file_id) => {
                        self.search.flush(tx)?;
                        reindex_file(tx, file_id)?;
                    }
                    None => {
                        tx.prepare_cached(
                        "UPDATE files SET modified_ms = ?, content_hash = coalesce(?, content_hash), \
                         seen_generation = ? WHERE source_id = ? AND remote_id = ?",
                    )?
                    .execute(params![entry.modified_ms, hash, generation, source_id, &entry.id])?;
                    }
                }
            }
            FileWrite::Moved { from_id, entry } => {
                let from: Option<i64> = tx
                    .prepare_cached("SELECT id FROM files WHERE source_id = ? AND remote_id = ?")?
                    .query_row(params![source_id, from_id], |r| r.get(0))
                    .optional()?;
                // Already applied (a replayed page): nothing to move.
                let Some(file_id) = from else {
                    return Ok(());
                };
                // A file moved over another one replaces it.
                if from_id != &entry.id {
                    tx.prepare_cached("DELETE FROM files WHERE source_id = ? AND remote_id = ?")?
                        .execute(params![source_id, &entry.id])?;
                }
                tx.prepare_cached(
                    "UPDATE files SET remote_id = ?, path = ?, size = ?, modified_ms = ?, \
                 content_hash = ?, seen_generation = ? WHERE id = ?",
                )?
                .execute(params![
                    &entry.id,
                    &entry.path,
                    size_i64(entry.size),
                    entry.modified_ms,
                    hash_text(entry),
                    generation,
                    file_id
                ])?;
                reindex_file(tx, file_id)?;
            }
            FileWrite::Removed { remote_id } => {
                tx.prepare_cached("DELETE FROM files WHERE source_id = ? AND remote_id = ?")?
                    .execute(params![source_id, remote_id])?;
            }
        }
        Ok(())
    }
}

/// A file row as a batch writes it.
struct FileRow<'a> {
    source_id: i64,
    generation: i64,
    entry: &'a RemoteEntry,
    error: Option<&'a String>,
    retry: Option<Retry>,
    bytes_read: u64,
    now: i64,
}

impl FileRow<'_> {
    /// Writes the row; returns its id and whether it is new (so it cannot have a track yet).
    fn upsert(&self, tx: &Tx<'_>) -> Result<(i64, bool), LibraryError> {
        let entry = self.entry;
        // Both statements take the same values in the same order, the key last.
        let values = params![
            &entry.path,
            size_i64(entry.size),
            entry.modified_ms,
            hash_text(entry),
            &entry.mime,
            if self.error.is_some() { "error" } else { "ok" },
            self.error,
            self.retry.map(|r| i64::from(r.failures)),
            self.retry.map(|r| r.at_ms),
            size_i64(self.bytes_read),
            self.now,
            self.generation,
            self.source_id,
            &entry.id,
        ];
        let inserted: Option<i64> = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO files (path, size, modified_ms, content_hash, mime, status, error, \
                 retry_failures, retry_at, bytes_read, scanned_at, seen_generation, source_id, remote_id) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            )?
            .query_row(values, |r| r.get(0))
            .optional()?;
        if let Some(id) = inserted {
            return Ok((id, true));
        }
        let id = tx
            .prepare_cached(
                "UPDATE files SET path = ?, size = ?, modified_ms = ?, content_hash = ?, mime = ?, \
                 status = ?, error = ?, retry_failures = ?, retry_at = ?, bytes_read = ?, \
                 scanned_at = ?, seen_generation = ? WHERE source_id = ? AND remote_id = ? RETURNING id",
            )?
            .query_row(values, |r| r.get(0))?;
        Ok((id, false))
    }
}

fn write_track(
    tx: &Tx<'_>,
    batch: &mut Batch,
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
        Some(title) => Some(batch.names.album(tx, title, album_artists, tags.year)?),
    };
    if let Some(bytes) = track
        .artwork
        .as_ref()
        .and_then(|art| art.bytes.as_ref().map(|b| (&art.sha256, b)))
    {
        // The embedded image itself, kept once however many tracks embed it.
        tx.prepare_cached("INSERT OR IGNORE INTO artwork_images (sha256, bytes) VALUES (?, ?)")?
            .execute(params![bytes.0, &bytes.1[..]])?;
    }
    let artwork_id: Option<i64> = match &track.artwork {
        None => None,
        Some(art) => Some(
            tx.prepare_cached(
                "INSERT INTO artwork (sha256, mime, byte_len) VALUES (?, ?, ?) \
                 ON CONFLICT (sha256) DO UPDATE SET mime = coalesce(artwork.mime, excluded.mime) RETURNING id",
            )?
            .query_row(
                params![&art.sha256, &art.mime, size_i64(art.byte_len)],
                |r| r.get(0),
            )?,
        ),
    };
    let audio = &track.audio;
    let gain = &track.gain;
    let track_id: i64 = tx.prepare_cached(TRACK_UPSERT)?.query_row(
        params![
            file_id,
            &tags.title,
            display(&tags.artists),
            album_id,
            tags.track_number,
            tags.track_total,
            tags.disc_number,
            tags.disc_total,
            tags.year,
            audio.duration_ms.map(size_i64),
            audio.sample_rate,
            audio.channels,
            audio.bit_depth,
            audio.bitrate_kbps,
            &audio.file_type,
            gain.track_gain,
            gain.track_peak,
            gain.album_gain,
            gain.album_peak,
            gain.r128_track_gain,
            gain.r128_album_gain,
            artwork_id,
            &tags.musicbrainz_recording_id,
            &tags.musicbrainz_release_id,
            &tags.isrc,
            &track.tag_problem,
        ],
        |r| r.get(0),
    )?;

    // A new file cannot have relations or a search row yet; skip the deletes.
    if !fresh {
        for sql in [
            "DELETE FROM track_artists WHERE track_id = ?",
            "DELETE FROM track_genres WHERE track_id = ?",
        ] {
            tx.prepare_cached(sql)?.execute([track_id])?;
        }
        batch.search.deletes.push(track_id);
    }
    let mut artist_ids = Vec::with_capacity(tags.artists.len());
    for name in &tags.artists {
        artist_ids.push(batch.names.artist(tx, name)?);
    }
    insert_links(
        tx,
        "track_artists (track_id, artist_id, position)",
        track_id,
        &artist_ids,
        true,
    )?;
    let mut genre_ids = Vec::with_capacity(tags.genres.len());
    for name in &tags.genres {
        genre_ids.push(batch.names.genre(tx, name)?);
    }
    insert_links(
        tx,
        "track_genres (track_id, genre_id)",
        track_id,
        &genre_ids,
        false,
    )?;

    let text = |s: &str| rusqlite::types::Value::Text(s.to_owned());
    batch.search.inserts.push([
        rusqlite::types::Value::Integer(track_id),
        text(tags.title.as_deref().unwrap_or_default()),
        text(&display(&tags.artists)),
        text(tags.album.as_deref().unwrap_or_default()),
        text(&if tags.album.is_some() {
            display(album_artists)
        } else {
            String::new()
        }),
        text(&tags.genres.join(" ")),
        text(path),
    ]);
    Ok(())
}

/// Links `owner` to `ids`, one statement per link (`table` names the table and its
/// columns; with `positions`, each link also records its index).
pub(super) fn insert_links(
    tx: &Tx<'_>,
    table: &'static str,
    owner: i64,
    ids: &[i64],
    positions: bool,
) -> Result<(), LibraryError> {
    if ids.is_empty() {
        return Ok(());
    }
    // Assembled from a constant table name and placeholders only; one prepared statement
    // per table, reused for every link.
    let sql = if positions {
        format!("INSERT OR IGNORE INTO {table} VALUES (?, ?, ?)")
    } else {
        format!("INSERT OR IGNORE INTO {table} VALUES (?, ?)")
    };
    let mut insert = tx.prepare_cached(&sql)?;
    for (position, id) in ids.iter().enumerate() {
        if positions {
            insert.execute(params![owner, id, position as i64])?;
        } else {
            insert.execute(params![owner, id])?;
        }
    }
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
    artwork_id = CASE WHEN excluded.artwork_id IS NULL \
      AND (SELECT source FROM artwork WHERE id = tracks.artwork_id) IS NOT NULL \
      THEN tracks.artwork_id ELSE excluded.artwork_id END, musicbrainz_recording_id = excluded.musicbrainz_recording_id, \
    musicbrainz_release_id = excluded.musicbrainz_release_id, isrc = excluded.isrc, \
    tag_problem = excluded.tag_problem RETURNING id";

/// Rebuilds the search row of the track of `file_id`, if it has one.
fn reindex_file(tx: &Tx<'_>, file_id: i64) -> Result<(), LibraryError> {
    let track: Option<i64> = tx
        .prepare_cached("SELECT id FROM tracks WHERE file_id = ?")?
        .query_row([file_id], |r| r.get(0))
        .optional()?;
    match track {
        Some(id) => reindex_track(tx, id),
        None => Ok(()),
    }
}

/// Rebuilds one track's search row from the tables.
pub(super) fn reindex_track(tx: &Tx<'_>, track_id: i64) -> Result<(), LibraryError> {
    tx.prepare_cached("DELETE FROM tracks_fts WHERE rowid = ?")?
        .execute([track_id])?;
    tx.prepare_cached(
        "INSERT INTO tracks_fts (rowid, title, artists, album, album_artists, genres, path) \
         SELECT t.id, coalesce(t.title, ''), t.artist_display, coalesce(al.title, ''), \
         coalesce(al.artist_display, ''), \
         coalesce((SELECT group_concat(g.name, ' ') FROM track_genres tg JOIN genres g ON g.id = tg.genre_id \
                   WHERE tg.track_id = t.id), ''), f.path \
         FROM tracks t JOIN files f ON f.id = t.file_id LEFT JOIN albums al ON al.id = t.album_id WHERE t.id = ?",
    )?
    .execute([track_id])?;
    Ok(())
}
