//! The search index's rows: queued through a batch and written at its end, or rebuilt for
//! one track from the tables.

use std::collections::HashMap;

use rusqlite::OptionalExtension as _;
use rusqlite::types::Value;

use super::{LibraryError, Tx};

/// Search rows of a batch, written together at its end.
///
/// FTS5 flushes its pending terms to a new segment at every statement savepoint once it
/// has been written in a transaction, and every later insert opens one: a row at a time,
/// a batch makes hundreds of one-row segments and merges them. Queued and written in a
/// few multi-row statements, a batch makes one segment.
#[derive(Default)]
pub(super) struct SearchRows {
    deletes: Vec<i64>,
    inserts: Vec<[Value; 7]>,
    /// Where each queued track's row is in `inserts`.
    queued: HashMap<i64, usize>,
}

/// Rows per multi-row search insert (7 values each, far below SQLite's variable limit).
const SEARCH_ROWS_PER_STATEMENT: usize = 64;

impl SearchRows {
    /// Queues the removal of `track_id`'s row as the index holds it before this batch.
    pub(super) fn remove(&mut self, track_id: i64) {
        self.deletes.push(track_id);
    }

    /// Queues `track_id`'s row: title, artists, album, album artists, genres and path.
    ///
    /// A track written twice in one batch (a listing that gives a file twice) keeps only
    /// its last row: the index would take a second row for the same rowid without
    /// complaint, and one of the two could never be deleted.
    pub(super) fn insert(&mut self, track_id: i64, columns: [String; 6]) {
        let [title, artists, album, album_artists, genres, path] = columns.map(Value::Text);
        let row = [
            Value::Integer(track_id),
            title,
            artists,
            album,
            album_artists,
            genres,
            path,
        ];
        match self.queued.get(&track_id) {
            Some(&at) => self.inserts[at] = row,
            None => {
                self.queued.insert(track_id, self.inserts.len());
                self.inserts.push(row);
            }
        }
    }

    /// Writes what is queued, deletes first (an updated track is deleted and inserted).
    pub(super) fn flush(&mut self, tx: &Tx<'_>) -> Result<(), LibraryError> {
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
        self.queued.clear();
        Ok(())
    }
}

/// Rebuilds the search row of the track of `file_id`, if it has one.
pub(super) fn reindex_file(tx: &Tx<'_>, file_id: i64) -> Result<(), LibraryError> {
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
pub(crate) fn reindex_track(tx: &Tx<'_>, track_id: i64) -> Result<(), LibraryError> {
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
