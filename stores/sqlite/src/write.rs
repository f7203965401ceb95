//! Batched writes: every batch is one transaction that also saves the provider's state
//! and moves the sync position, so a killed process loses nothing and duplicates nothing.
//! Batches go through the [`Writer`](super::writer::Writer): one blocking hop each.

use std::collections::HashMap;

use rusqlite::{OptionalExtension as _, Transaction, params};
use tonearm_plugin_api::RemoteEntry;

use tonearm_core::library::{ArtworkRef, Retry, StateChange, display_names as display, hash_text};

use super::{CursorUpdate, FileWrite, LibraryError, ScannedTrack, SqliteStore, now_ms};

pub(super) type Tx<'a> = Transaction<'a>;

fn size_i64(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

/// Get-or-create ids for names, cached for the batch.
///
/// None of these statements has `RETURNING`: SQLite runs a statement that returns rows
/// as it runs a trigger, in a statement journal of its own that copies every page the
/// statement touches before it writes. A new row's id is the connection's last inserted
/// one; an existing row's is looked up.
#[derive(Default)]
pub(super) struct NameIds {
    artists: HashMap<String, i64>,
    genres: HashMap<String, i64>,
    albums: HashMap<(String, String), i64>,
    /// Embedded artwork by SHA-256: its id, and whether its image is stored.
    artwork: HashMap<String, (i64, bool)>,
}

impl NameIds {
    pub(super) fn artist(&mut self, tx: &Tx<'_>, name: &str) -> Result<i64, LibraryError> {
        const SQL: [&str; 2] = [
            "INSERT OR IGNORE INTO artists (name) VALUES (?)",
            "SELECT id FROM artists WHERE name = ?",
        ];
        Self::name_id(&mut self.artists, tx, name, SQL)
    }

    fn genre(&mut self, tx: &Tx<'_>, name: &str) -> Result<i64, LibraryError> {
        const SQL: [&str; 2] = [
            "INSERT OR IGNORE INTO genres (name) VALUES (?)",
            "SELECT id FROM genres WHERE name = ?",
        ];
        Self::name_id(&mut self.genres, tx, name, SQL)
    }

    /// The id of `name` through `cache`, created by `insert` if new, else found by `select`.
    fn name_id(
        cache: &mut HashMap<String, i64>,
        tx: &Tx<'_>,
        name: &str,
        [insert, select]: [&'static str; 2],
    ) -> Result<i64, LibraryError> {
        if let Some(&id) = cache.get(name) {
            return Ok(id);
        }
        let id = if tx.prepare_cached(insert)?.execute([name])? == 1 {
            tx.last_insert_rowid()
        } else {
            tx.prepare_cached(select)?.query_row([name], |r| r.get(0))?
        };
        cache.insert(name.to_owned(), id);
        Ok(id)
    }

    /// The id of embedded artwork `art`, created on first sight, with its image (kept once
    /// however many tracks embed it) when the track brings it.
    fn artwork(&mut self, tx: &Tx<'_>, art: &ArtworkRef) -> Result<i64, LibraryError> {
        let cached = self.artwork.get(&art.sha256).copied();
        if let Some(bytes) = &art.bytes
            && !cached.is_some_and(|(_, stored)| stored)
        {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO artwork_images (sha256, bytes) VALUES (?, ?)",
            )?
            .execute(params![&art.sha256, &bytes[..]])?;
        }
        if let Some((id, stored)) = cached {
            if !stored && art.bytes.is_some() {
                self.artwork.insert(art.sha256.clone(), (id, true));
            }
            return Ok(id);
        }
        let inserted = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO artwork (sha256, mime, byte_len) VALUES (?, ?, ?)",
            )?
            .execute(params![&art.sha256, &art.mime, size_i64(art.byte_len)])?;
        let id = if inserted == 1 {
            tx.last_insert_rowid()
        } else {
            let (id, mime): (i64, Option<String>) = tx
                .prepare_cached("SELECT id, mime FROM artwork WHERE sha256 = ?")?
                .query_row([&art.sha256], |r| Ok((r.get(0)?, r.get(1)?)))?;
            if mime.is_none() && art.mime.is_some() {
                tx.prepare_cached("UPDATE artwork SET mime = ? WHERE id = ?")?
                    .execute(params![&art.mime, id])?;
            }
            id
        };
        self.artwork
            .insert(art.sha256.clone(), (id, art.bytes.is_some()));
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
        let inserted = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO albums (title, artist_display, year) VALUES (?, ?, ?)",
            )?
            .execute(params![title, &key.1, year])?;
        let id = if inserted == 1 {
            tx.last_insert_rowid()
        } else {
            let (id, known_year): (i64, Option<i32>) = tx
                .prepare_cached(
                    "SELECT id, year FROM albums WHERE title = ? AND artist_display = ?",
                )?
                .query_row(params![title, &key.1], |r| Ok((r.get(0)?, r.get(1)?)))?;
            // An album learns its year from the first track that has one.
            if known_year.is_none() && year.is_some() {
                tx.prepare_cached("UPDATE albums SET year = ? WHERE id = ?")?
                    .execute(params![year, id])?;
            }
            id
        };
        let mut artist_ids = Vec::with_capacity(artists.len());
        for name in artists {
            artist_ids.push(self.artist(tx, name)?);
        }
        insert_links(tx, Links::AlbumArtists, id, &artist_ids)?;
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
                    replaced_tracks: false,
                };
                for write in &writes {
                    batch.apply(tx, write)?;
                }
                batch.search.flush(tx)?;
                // New files' tracks only add: anything else may take an album's, an
                // artist's, a genre's or an image's last track.
                if writes.iter().any(|write| match write {
                    FileWrite::Unchanged { .. } => false,
                    FileWrite::Scanned { .. } => batch.replaced_tracks,
                    _ => true,
                }) {
                    may_orphan(tx)?;
                }
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

    /// Removes albums, artists, genres and artwork no track refers to any more, if a
    /// write since the last sweep may have left any.
    pub async fn remove_orphans_now(&self) -> Result<(), LibraryError> {
        self.writer
            .transaction(|tx| {
                let maybe: bool = tx
                    .prepare_cached("SELECT maybe FROM orphans")?
                    .query_row([], |r| r.get(0))?;
                if maybe { remove_orphans(tx) } else { Ok(()) }
            })
            .await
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
         DELETE FROM artwork_images WHERE sha256 NOT IN (SELECT sha256 FROM artwork); \
         UPDATE orphans SET maybe = 0;",
    )?;
    Ok(())
}

/// Records that `tx` may leave albums, artists, genres or artwork without tracks: the
/// next [`SqliteStore::remove_orphans_now`] sweeps, even after a crash before it.
fn may_orphan(tx: &Tx<'_>) -> Result<(), LibraryError> {
    tx.prepare_cached("UPDATE orphans SET maybe = 1")?
        .execute([])?;
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
    /// Whether a scanned file already had a track, which its new one replaced.
    replaced_tracks: bool,
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
                self.replaced_tracks |= !fresh;
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
                let known: Option<(i64, bool)> = tx
                    .prepare_cached(
                        "SELECT id, path = ? FROM files WHERE source_id = ? AND remote_id = ?",
                    )?
                    .query_row(params![&entry.path, source_id, &entry.id], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()?;
                let Some((file_id, same_path)) = known else {
                    return Ok(());
                };
                tx.prepare_cached(
                    "UPDATE files SET path = ?, modified_ms = ?, content_hash = coalesce(?, content_hash), \
                     seen_generation = ? WHERE id = ?",
                )?
                .execute(params![
                    &entry.path,
                    entry.modified_ms,
                    hash_text(entry),
                    generation,
                    file_id
                ])?;
                // A renamed file's search row has its old path.
                if !same_path {
                    self.search.flush(tx)?;
                    reindex_file(tx, file_id)?;
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
        // Without `RETURNING`: a statement that returns rows runs as a trigger would, in a
        // statement journal of its own, copying every page it touches first. A new row's
        // id is the connection's last inserted one.
        let inserted = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO files (path, size, modified_ms, content_hash, mime, status, error, \
                 retry_failures, retry_at, bytes_read, scanned_at, seen_generation, source_id, remote_id) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(values)?;
        if inserted == 1 {
            return Ok((tx.last_insert_rowid(), true));
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
    let artwork_id = match &track.artwork {
        None => None,
        Some(art) => Some(batch.names.artwork(tx, art)?),
    };
    let audio = &track.audio;
    let gain = &track.gain;
    let values = params![
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
    ];
    // A new file's track is a plain insert (see `FileRow::upsert` on `RETURNING`).
    let track_id: i64 = if fresh {
        tx.prepare_cached(TRACK_INSERT)?.execute(values)?;
        tx.last_insert_rowid()
    } else {
        tx.prepare_cached(TRACK_UPSERT)?
            .query_row(values, |r| r.get(0))?
    };

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
    insert_links(tx, Links::TrackArtists, track_id, &artist_ids)?;
    let mut genre_ids = Vec::with_capacity(tags.genres.len());
    for name in &tags.genres {
        genre_ids.push(batch.names.genre(tx, name)?);
    }
    insert_links(tx, Links::TrackGenres, track_id, &genre_ids)?;

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

/// A table linking a track or album to artists or genres.
#[derive(Clone, Copy)]
pub(super) enum Links {
    /// A track's artists, in order.
    TrackArtists,
    /// An album's artists, in order.
    AlbumArtists,
    /// A track's genres.
    TrackGenres,
}

impl Links {
    /// The insert of one link; positioned links take the index as a third value.
    fn insert(self) -> &'static str {
        match self {
            Self::TrackArtists => {
                "INSERT OR IGNORE INTO track_artists (track_id, artist_id, position) VALUES (?, ?, ?)"
            }
            Self::AlbumArtists => {
                "INSERT OR IGNORE INTO album_artists (album_id, artist_id, position) VALUES (?, ?, ?)"
            }
            Self::TrackGenres => {
                "INSERT OR IGNORE INTO track_genres (track_id, genre_id) VALUES (?, ?)"
            }
        }
    }

    fn positioned(self) -> bool {
        !matches!(self, Self::TrackGenres)
    }
}

/// Links `owner` to `ids` in `links`, one execution of a cached statement per link.
pub(super) fn insert_links(
    tx: &Tx<'_>,
    links: Links,
    owner: i64,
    ids: &[i64],
) -> Result<(), LibraryError> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut insert = tx.prepare_cached(links.insert())?;
    for (position, id) in ids.iter().enumerate() {
        if links.positioned() {
            insert.execute(params![owner, id, position as i64])?;
        } else {
            insert.execute(params![owner, id])?;
        }
    }
    Ok(())
}

/// The insert of a track, its values in the order `write_track` binds them.
macro_rules! track_insert {
    () => {
        "INSERT INTO tracks (file_id, title, artist_display, album_id, track_number, \
    track_total, disc_number, disc_total, year, duration_ms, sample_rate, channels, bit_depth, bitrate_kbps, \
    file_type, replaygain_track_gain, replaygain_track_peak, replaygain_album_gain, replaygain_album_peak, \
    r128_track_gain, r128_album_gain, artwork_id, musicbrainz_recording_id, musicbrainz_release_id, isrc, \
    tag_problem) \
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    };
}

const TRACK_INSERT: &str = track_insert!();

const TRACK_UPSERT: &str = concat!(
    track_insert!(),
    " ON CONFLICT (file_id) DO UPDATE SET title = excluded.title, artist_display = excluded.artist_display, \
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
    tag_problem = excluded.tag_problem RETURNING id"
);

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
