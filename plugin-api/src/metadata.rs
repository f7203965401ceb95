//! Metadata sources: where better tags, cover art and lyrics come from.

use serde::{Deserialize, Serialize};

use crate::error::PluginResult;

/// Tags of one track.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TrackTags {
    /// The title.
    pub title: Option<String>,
    /// Track artists, in credit order.
    pub artists: Vec<String>,
    /// The album title.
    pub album: Option<String>,
    /// Album artists, in credit order.
    pub album_artists: Vec<String>,
    /// Genres.
    pub genres: Vec<String>,
    /// Position on the disc.
    pub track_number: Option<u32>,
    /// Tracks on the disc.
    pub track_total: Option<u32>,
    /// Disc number.
    pub disc_number: Option<u32>,
    /// Discs in the release.
    pub disc_total: Option<u32>,
    /// Release year.
    pub year: Option<i32>,
    /// MusicBrainz recording id.
    pub musicbrainz_recording_id: Option<String>,
    /// MusicBrainz release id.
    pub musicbrainz_release_id: Option<String>,
    /// International Standard Recording Code.
    pub isrc: Option<String>,
}

/// What to look a track up by.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TrackQuery {
    /// The tags the library has now.
    pub tags: TrackTags,
    /// The duration in milliseconds, if known.
    pub duration_ms: Option<u64>,
}

/// Lyrics of a track.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Lyrics {
    /// Plain text.
    pub plain: Option<String>,
    /// Time-synced lyrics in LRC format.
    pub synced_lrc: Option<String>,
}

/// One possible match for a query.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Candidate {
    /// How well it matches, from 0.0 to 1.0.
    pub score: f32,
    /// The corrected tags.
    pub tags: TrackTags,
    /// URLs of cover art, best first.
    pub cover_art_urls: Vec<String>,
    /// Lyrics, if the source has them.
    pub lyrics: Option<Lyrics>,
}

/// A catalogue to look tracks up in.
pub trait MetadataSource: Send + Sync {
    /// Candidates for `query`, best first.
    fn lookup(&self, query: &TrackQuery) -> PluginResult<Vec<Candidate>>;
}
