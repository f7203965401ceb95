//! Batched writes: every batch is one transaction that also saves the provider's state
//! and moves the sync position, so a killed process loses nothing and duplicates nothing.
//! Batches go through the [`Writer`](super::writer::Writer): one blocking hop each.

mod names;
mod search;

use rusqlite::{OptionalExtension as _, Transaction, params};
use tonearm_plugin_api::RemoteEntry;

use tonearm_core::library::{Retry, StateChange, display_names as display, hash_text};

use super::{CursorUpdate, FileWrite, LibraryError, ScannedTrack, SqliteStore, now_ms};
pub(super) use names::{Links, NameIds, insert_links};
pub(super) use search::reindex_track;
use search::{SearchRows, reindex_file};

pub(super) type Tx<'a> = Transaction<'a>;

fn size_i64(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
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
        batch.search.remove(track_id);
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

    batch.search.insert(
        track_id,
        [
            tags.title.clone().unwrap_or_default(),
            display(&tags.artists),
            tags.album.clone().unwrap_or_default(),
            if tags.album.is_some() {
                display(album_artists)
            } else {
                String::new()
            },
            tags.genres.join(" "),
            path.to_owned(),
        ],
    );
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
