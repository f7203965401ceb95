//! Reading the library: listing, search, statistics and locations.

// Dynamic SQL here is assembled only from constants and `?` placeholders.
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row};

use super::{
    FailedFile, LibraryError, LibraryStats, ReplayGain, SqliteStore, StoreError, TrackLocation,
    TrackRow,
};

pub(crate) const TRACK_COLUMNS: &str = "t.id, t.title, t.artist_display AS artists, al.title AS album, \
    al.artist_display AS album_artists, t.disc_number, t.track_number, t.year, t.duration_ms, t.file_type, \
    t.sample_rate, t.channels, f.path, s.name AS source";

const TRACK_JOINS: &str = "FROM tracks t JOIN files f ON f.id = t.file_id JOIN sources s ON s.id = f.source_id \
    LEFT JOIN albums al ON al.id = t.album_id";

fn track_from_row(row: &SqliteRow) -> Result<TrackRow, sqlx::Error> {
    Ok(TrackRow {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        artists: row.try_get("artists")?,
        album: row.try_get("album")?,
        album_artists: row.try_get("album_artists")?,
        disc_number: row.try_get("disc_number")?,
        track_number: row.try_get("track_number")?,
        year: row.try_get("year")?,
        duration_ms: row.try_get("duration_ms")?,
        file_type: row.try_get("file_type")?,
        sample_rate: row.try_get("sample_rate")?,
        channels: row.try_get("channels")?,
        path: row.try_get("path")?,
        source: row.try_get("source")?,
    })
}

pub(crate) fn tracks_from_rows(rows: Vec<SqliteRow>) -> Result<Vec<TrackRow>, LibraryError> {
    Ok(rows.iter().map(track_from_row).collect::<Result<_, _>>()?)
}

/// Turns what a person typed into an FTS5 query: every word must match as a prefix, and
/// nothing they type is taken as FTS syntax.
fn fts_query(text: &str) -> Option<String> {
    let terms: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{w}\"*"))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

impl SqliteStore {
    /// Tracks ordered by album artist, album, disc, track and path.
    pub async fn tracks(&self, limit: i64, offset: i64) -> Result<Vec<TrackRow>, LibraryError> {
        let sql = format!(
            "SELECT {TRACK_COLUMNS} {TRACK_JOINS} ORDER BY al.artist_display, al.title, t.disc_number, \
             t.track_number, f.path LIMIT ? OFFSET ?"
        );
        tracks_from_rows(
            sqlx::query(AssertSqlSafe(sql))
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Tracks matching every word of `text` (as word prefixes, accents ignored) in title,
    /// artists, album, album artists, genres or path; best matches first.
    pub async fn search(&self, text: &str, limit: i64) -> Result<Vec<TrackRow>, LibraryError> {
        let Some(query) = fts_query(text) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT {TRACK_COLUMNS} FROM tracks_fts JOIN tracks t ON t.id = tracks_fts.rowid \
             JOIN files f ON f.id = t.file_id JOIN sources s ON s.id = f.source_id \
             LEFT JOIN albums al ON al.id = t.album_id \
             WHERE tracks_fts MATCH ? ORDER BY bm25(tracks_fts, 10.0, 5.0, 4.0, 2.0, 1.0, 1.0) LIMIT ?"
        );
        tracks_from_rows(
            sqlx::query(AssertSqlSafe(sql))
                .bind(query)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// One track.
    pub async fn track(&self, id: i64) -> Result<TrackRow, LibraryError> {
        let sql = format!("SELECT {TRACK_COLUMNS} {TRACK_JOINS} WHERE t.id = ?");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(LibraryError::Store(StoreError::NoSuchTrack(id)))?;
        Ok(track_from_row(&row)?)
    }

    /// Where a track's bytes are.
    pub async fn track_location(&self, id: i64) -> Result<TrackLocation, LibraryError> {
        let row = sqlx::query(
            "SELECT s.name, f.remote_id, f.path, f.size, f.content_hash, f.modified_ms, \
             t.replaygain_track_gain, \
             t.replaygain_track_peak, t.replaygain_album_gain, t.replaygain_album_peak, \
             t.r128_track_gain, t.r128_album_gain FROM tracks t JOIN files f ON f.id = t.file_id \
             JOIN sources s ON s.id = f.source_id WHERE t.id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(LibraryError::Store(StoreError::NoSuchTrack(id)))?;
        let source = self.source(&row.try_get::<String, _>("name")?).await?;
        Ok(TrackLocation {
            track_id: id,
            source,
            remote_id: row.try_get("remote_id")?,
            path: row.try_get("path")?,
            size: u64::try_from(row.try_get::<i64, _>("size")?).unwrap_or(0),
            gain: ReplayGain {
                track_gain: row.try_get("replaygain_track_gain")?,
                track_peak: row.try_get("replaygain_track_peak")?,
                album_gain: row.try_get("replaygain_album_gain")?,
                album_peak: row.try_get("replaygain_album_peak")?,
                r128_track_gain: row.try_get("r128_track_gain")?,
                r128_album_gain: row.try_get("r128_album_gain")?,
            },
            content_hash: row.try_get("content_hash")?,
            modified_ms: row.try_get("modified_ms")?,
        })
    }

    /// Files whose tags could not be read, by source and path.
    pub async fn failed_files(&self, limit: i64) -> Result<Vec<FailedFile>, LibraryError> {
        let rows = sqlx::query(
            "SELECT s.name, f.path, coalesce(f.error, '') AS error, 0 AS playable, \
             f.retry_failures, f.retry_at FROM files f \
             JOIN sources s ON s.id = f.source_id WHERE f.status = 'error' \
             UNION ALL SELECT s.name, f.path, t.tag_problem, 1, NULL, NULL FROM tracks t \
             JOIN files f ON f.id = t.file_id JOIN sources s ON s.id = f.source_id \
             WHERE t.tag_problem IS NOT NULL ORDER BY 1, 2 LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(FailedFile {
                    source: r.try_get("name")?,
                    path: r.try_get("path")?,
                    reason: r.try_get("error")?,
                    playable: r.try_get("playable")?,
                    retry: super::sources::retry_of(r)?,
                })
            })
            .collect()
    }

    /// Bytes fetched per scanned file to read its tags, ascending.
    pub async fn bytes_read_per_file(&self) -> Result<Vec<u64>, LibraryError> {
        let values: Vec<i64> = sqlx::query_scalar(
            "SELECT bytes_read FROM files WHERE bytes_read > 0 ORDER BY bytes_read",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(values
            .into_iter()
            .map(|v| u64::try_from(v).unwrap_or(0))
            .collect())
    }

    /// Counts over the whole library.
    pub async fn stats(&self) -> Result<LibraryStats, LibraryError> {
        let row = sqlx::query(
            "SELECT (SELECT count(*) FROM sources) AS sources, (SELECT count(*) FROM tracks) AS tracks, \
             (SELECT count(*) FROM albums) AS albums, (SELECT count(*) FROM artists) AS artists, \
             (SELECT count(*) FROM genres) AS genres, \
             (SELECT count(*) FROM files WHERE status = 'error') AS failed_files, \
             (SELECT coalesce(sum(duration_ms), 0) FROM tracks) AS total_duration_ms, \
             (SELECT coalesce(sum(f.size), 0) FROM tracks t JOIN files f ON f.id = t.file_id) AS total_bytes, \
             (SELECT count(*) FROM artwork) AS artwork",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(LibraryStats {
            sources: row.try_get("sources")?,
            tracks: row.try_get("tracks")?,
            albums: row.try_get("albums")?,
            artists: row.try_get("artists")?,
            genres: row.try_get("genres")?,
            failed_files: row.try_get("failed_files")?,
            total_duration_ms: row.try_get("total_duration_ms")?,
            total_bytes: row.try_get("total_bytes")?,
            artwork: row.try_get("artwork")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::fts_query;

    #[test]
    fn user_text_never_becomes_fts_syntax() {
        assert_eq!(
            fts_query("Björk  hom").as_deref(),
            Some("\"Björk\"* \"hom\"*")
        );
        assert_eq!(
            fts_query("a\" OR x:*").as_deref(),
            Some("\"a\"* \"OR\"* \"x\"*")
        );
        assert_eq!(fts_query(" -- "), None);
    }
}
