//! The records the library keeps in IndexedDB, and how tracks are indexed for listing and
//! search.

use super::*;

/// A file as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct FileRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) id: Option<i64>,
    pub(super) source_id: i64,
    pub(super) remote_id: String,
    pub(super) path: String,
    pub(super) size: u64,
    pub(super) modified_ms: Option<i64>,
    pub(super) content_hash: Option<String>,
    pub(super) mime: Option<String>,
    pub(super) error: Option<String>,
    /// When a read that failed for a passing reason is tried again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) retry: Option<Retry>,
    pub(super) bytes_read: u64,
    pub(super) seen_generation: i64,
}

/// A track as stored: its file's id, tags, and what listing and search need.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct TrackRecord {
    pub(super) id: i64,
    pub(super) source_id: i64,
    pub(super) path: String,
    pub(super) size: u64,
    pub(super) track: ScannedTrack,
    /// The album artists it is listed under (its artists when the tags name none).
    pub(super) album_artists: Vec<String>,
    /// Sort key: album artists, album, disc, track number, path (`""`/`-1` when absent).
    pub(super) order: (String, String, i64, i64, String),
    /// Every search word of every field, for the multi-entry index.
    pub(super) words: Vec<String>,
    /// The search words of each field, in [`search::FIELD_WEIGHTS`] order.
    pub(super) fields: [Vec<String>; 6],
}

/// A playlist as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct PlaylistRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) id: Option<i64>,
    pub(super) name: String,
    pub(super) tracks: Vec<i64>,
}

/// Strips accents the way the SQLite store's tokenizer does: decompose, drop the marks.
pub(super) fn fold(text: &str) -> String {
    let decomposed: String = js_sys::JsString::from(text).normalize("NFD").into();
    decomposed
        .chars()
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .collect()
}

impl TrackRecord {
    pub(super) fn new(
        file_id: i64,
        source_id: i64,
        entry: &RemoteEntry,
        track: ScannedTrack,
    ) -> Self {
        let tags = &track.tags;
        let album_artists = match &tags.album {
            None => Vec::new(),
            Some(_) if tags.album_artists.is_empty() => tags.artists.clone(),
            Some(_) => tags.album_artists.clone(),
        };
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
        };
        record.set_path(&entry.path);
        record
    }

    /// Moves the track to `path`, with its sort key and search words.
    pub(super) fn set_path(&mut self, path: &str) {
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

    pub(super) fn row(&self, sources: &HashMap<i64, String>) -> TrackRow {
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

pub(super) fn file_record(
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
