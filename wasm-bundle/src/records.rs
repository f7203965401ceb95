//! The records the library keeps in IndexedDB, how they are decoded, and what listing,
//! search, statistics and the failed-file report compute from them.
//!
//! Nothing here touches IndexedDB, so it builds natively too: the `records` fuzz target
//! (feature `fuzzing`) decodes whatever a database may hold (another version's records, a
//! record edited by hand) and runs every view over it.

use std::collections::{BTreeSet, HashMap};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tonearm_core::enrich::{Field, Value};
use tonearm_core::library::{
    ArtworkRef, FailedFile, LibraryStats, Retry, ScannedTrack, StoreError, StoreResult, TrackRow,
    display_names, hash_text, search,
};
use tonearm_plugin_api::{RemoteEntry, TrackTags};

/// A record from its JSON text (what `JSON.stringify` makes of the stored object).
pub fn decode<T: DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("decode: {e}")))
}

/// A file as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    pub source_id: i64,
    pub remote_id: String,
    pub path: String,
    pub size: u64,
    pub modified_ms: Option<i64>,
    pub content_hash: Option<String>,
    pub mime: Option<String>,
    pub error: Option<String>,
    /// When a read that failed for a passing reason is tried again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    pub bytes_read: u64,
    pub seen_generation: i64,
}

/// A track as stored: its file's id, tags, and what listing and search need.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrackRecord {
    pub id: i64,
    pub source_id: i64,
    pub path: String,
    pub size: u64,
    pub track: ScannedTrack,
    /// The album artists it is listed under (its artists when the tags name none).
    pub album_artists: Vec<String>,
    /// Sort key: album artists, album, disc, track number, path (`""`/`-1` when absent).
    pub order: (String, String, i64, i64, String),
    /// Every search word of every field, for the multi-entry index.
    pub words: Vec<String>,
    /// The search words of each field, in [`search::FIELD_WEIGHTS`] order.
    pub fields: [Vec<String>; 6],
    /// The SHA-256 of the front cover a metadata source found, used while the file
    /// embeds none; kept when the file is scanned again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetched_cover: Option<String>,
}

/// A value written over a track's tags: by a metadata source, or by the user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OverrideRecord {
    pub track_id: i64,
    /// The field's name ([`Field::name`]).
    pub field: String,
    pub value: Value,
    /// `user` for an edit, else the plugin.
    pub source: String,
    pub score: Option<f64>,
    pub at: i64,
}

/// What a metadata source answered for one track and kind, since its file last changed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutcomeRecord {
    pub track_id: i64,
    /// The kind's name ([`tonearm_core::enrich::Kind::name`]).
    pub kind: String,
    pub plugin: String,
    /// The outcome's name ([`tonearm_core::enrich::Outcome::name`]).
    pub outcome: String,
    pub detail: Option<String>,
    pub at: i64,
}

/// A track's lyrics.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LyricsRecord {
    pub track_id: i64,
    pub plain: Option<String>,
    pub synced_lrc: Option<String>,
    #[serde(default)]
    pub instrumental: bool,
    pub source: String,
    pub at: i64,
}

impl OverrideRecord {
    /// The field and value, if this version knows the field (a newer one may have written
    /// others: they are kept and skipped).
    pub fn parsed(&self) -> Option<(Field, Value)> {
        Some((Field::parse(&self.field)?, self.value.clone()))
    }
}

/// A playlist as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlaylistRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    pub name: String,
    pub tracks: Vec<i64>,
}

/// The album artists a track is listed under: its artists when the tags name none.
fn album_artists(tags: &TrackTags) -> Vec<String> {
    match &tags.album {
        None => Vec::new(),
        Some(_) if tags.album_artists.is_empty() => tags.artists.clone(),
        Some(_) => tags.album_artists.clone(),
    }
}

/// Strips accents the way the SQLite store's tokenizer does: decompose, drop the marks.
pub fn fold(text: &str) -> String {
    decompose(text)
        .chars()
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .collect()
}

impl TrackRecord {
    pub fn new(file_id: i64, source_id: i64, entry: &RemoteEntry, track: ScannedTrack) -> Self {
        let album_artists = album_artists(&track.tags);
        let mut record = Self {
            id: file_id,
            source_id,
            path: String::new(),
            size: entry.size,
            order: Default::default(),
            words: Vec::new(),
            fields: Default::default(),
            album_artists,
            track,
            fetched_cover: None,
        };
        record.set_path(&entry.path);
        record
    }

    /// Replaces the track's tags (with values written over them), and with them its
    /// album artists, sort key and search words.
    pub fn set_tags(&mut self, tags: TrackTags) {
        self.album_artists = album_artists(&tags);
        self.track.tags = tags;
        let path = std::mem::take(&mut self.path);
        self.set_path(&path);
    }

    /// The SHA-256 of its front cover: the embedded one, else the one fetched.
    pub fn cover(&self) -> Option<&str> {
        self.track
            .artwork
            .as_ref()
            .map(|a| a.sha256.as_str())
            .or(self.fetched_cover.as_deref())
    }

    /// Moves the track to `path`, with its sort key and search words.
    pub fn set_path(&mut self, path: &str) {
        let tags = &self.track.tags;
        self.path = path.to_owned();
        self.order = (
            display_names(&self.album_artists),
            tags.album.clone().unwrap_or_default(),
            tags.disc_number.map_or(-1, i64::from),
            tags.track_number.map_or(-1, i64::from),
            path.to_owned(),
        );
        let words = |text: &str| search::words(text, fold);
        self.fields = [
            words(tags.title.as_deref().unwrap_or_default()),
            words(&tags.artists.join(" ")),
            words(tags.album.as_deref().unwrap_or_default()),
            words(&self.album_artists.join(" ")),
            words(&tags.genres.join(" ")),
            words(path),
        ];
        let unique: BTreeSet<&String> = self.fields.iter().flatten().collect();
        self.words = unique.into_iter().cloned().collect();
    }

    pub fn row(&self, sources: &HashMap<i64, String>) -> TrackRow {
        let tags = &self.track.tags;
        let audio = &self.track.audio;
        TrackRow {
            id: self.id,
            title: tags.title.clone(),
            artists: display_names(&tags.artists),
            album: tags.album.clone(),
            album_artists: tags
                .album
                .as_ref()
                .map(|_| display_names(&self.album_artists)),
            disc_number: tags.disc_number.map(i64::from),
            track_number: tags.track_number.map(i64::from),
            year: tags.year.map(i64::from),
            duration_ms: audio
                .duration_ms
                .map(|d| i64::try_from(d).unwrap_or(i64::MAX)),
            file_type: audio.file_type.clone(),
            sample_rate: audio.sample_rate.map(i64::from),
            channels: audio.channels.map(i64::from),
            path: self.path.clone(),
            source: sources.get(&self.source_id).cloned().unwrap_or_default(),
        }
    }
}

pub fn file_record(
    source_id: i64,
    generation: i64,
    entry: &RemoteEntry,
    error: Option<(&str, Option<Retry>)>,
    bytes_read: u64,
    id: Option<i64>,
) -> FileRecord {
    FileRecord {
        id,
        source_id,
        remote_id: entry.id.clone(),
        path: entry.path.clone(),
        size: entry.size,
        modified_ms: entry.modified_ms,
        content_hash: hash_text(entry),
        mime: entry.mime.clone(),
        error: error.map(|(reason, _)| reason.to_owned()),
        retry: error.and_then(|(_, retry)| retry),
        bytes_read,
        seen_generation: generation,
    }
}

/// `text` in Unicode's canonical decomposition, by the browser.
#[cfg(target_arch = "wasm32")]
fn decompose(text: &str) -> String {
    js_sys::JsString::from(text).normalize("NFD").into()
}

/// Natively (the fuzz target only) there is no browser to decompose: text stays as it is.
#[cfg(not(target_arch = "wasm32"))]
fn decompose(text: &str) -> String {
    text.to_owned()
}

/// The `limit` best matches of `query` (folded search words) among `candidates`, best
/// first, ties in listing order; a track found twice counts once.
pub fn ranked(
    query: &[String],
    candidates: Vec<TrackRecord>,
    names: &HashMap<i64, String>,
    limit: u32,
) -> Vec<TrackRow> {
    let mut seen = BTreeSet::new();
    let mut scored: Vec<(f64, TrackRecord)> = candidates
        .into_iter()
        .filter(|t| seen.insert(t.id))
        .filter_map(|t| search::score(query, &t.fields).map(|s| (s, t)))
        .collect();
    scored.sort_by(|(a, x), (b, y)| b.total_cmp(a).then_with(|| x.order.cmp(&y.order)));
    scored
        .iter()
        .take(limit as usize)
        .map(|(_, t)| t.row(names))
        .collect()
}

/// Files that could not be read and tracks whose tags are damaged, by source and path, at
/// most `limit`.
pub fn failed_files(
    files: Vec<FileRecord>,
    tracks: Vec<TrackRecord>,
    names: &HashMap<i64, String>,
    limit: u32,
) -> Vec<FailedFile> {
    let source = |id: i64| names.get(&id).cloned().unwrap_or_default();
    let unreadable = files.into_iter().filter_map(|f| {
        Some(FailedFile {
            source: source(f.source_id),
            path: f.path,
            reason: f.error?,
            playable: false,
            retry: f.retry,
        })
    });
    let damaged_tags = tracks.into_iter().filter_map(|t| {
        Some(FailedFile {
            source: source(t.source_id),
            reason: t.track.tag_problem?,
            path: t.path,
            playable: true,
            retry: None,
        })
    });
    let mut failed: Vec<FailedFile> = unreadable.chain(damaged_tags).collect();
    failed.sort_by(|a, b| (&a.source, &a.path).cmp(&(&b.source, &b.path)));
    failed.truncate(limit as usize);
    failed
}

/// The library's counts and totals. Totals saturate: a record may claim any size.
pub fn stats(sources: usize, tracks: &[TrackRecord], files: &[FileRecord]) -> LibraryStats {
    let (mut albums, mut artists, mut genres, mut artwork) = (
        BTreeSet::new(),
        BTreeSet::new(),
        BTreeSet::new(),
        BTreeSet::new(),
    );
    let (mut duration, mut bytes) = (0i64, 0i64);
    let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    for t in tracks {
        let tags = &t.track.tags;
        if let Some(album) = &tags.album {
            albums.insert((album.clone(), display_names(&t.album_artists)));
            artists.extend(t.album_artists.iter().cloned());
        }
        artists.extend(tags.artists.iter().cloned());
        genres.extend(tags.genres.iter().cloned());
        artwork.extend(
            t.track
                .artwork
                .as_ref()
                .map(|a: &ArtworkRef| a.sha256.clone()),
        );
        duration = duration.saturating_add(t.track.audio.duration_ms.map_or(0, clamp));
        bytes = bytes.saturating_add(clamp(t.size));
    }
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    LibraryStats {
        sources: count(sources),
        tracks: count(tracks.len()),
        albums: count(albums.len()),
        artists: count(artists.len()),
        genres: count(genres.len()),
        failed_files: count(files.iter().filter(|f| f.error.is_some()).count()),
        total_duration_ms: duration,
        total_bytes: bytes,
        artwork: count(artwork.len()),
    }
}
