//! Metadata sources: where better tags, cover art and lyrics come from.
//!
//! A source offers up to three capabilities, and says which in its manifest
//! ([`MetadataFeatures`]): *identify* (a track's tags → scored candidates with catalogue
//! ids), *artwork* (a release or recording id → an image) and *lyrics* (a track → plain
//! and time-synced text). A plugin describes what it asks a service through the host's
//! [`HttpClient`](crate::HttpClient); the host sends it, at the rate the plugin's manifest
//! declares for that service, from its cache when it can. Choosing a candidate and writing
//! it to the library is the host's job, the same for every source.

use serde::{Deserialize, Serialize};

use crate::error::{PluginError, PluginResult};

/// Tags of one track.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
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

/// An acoustic fingerprint of a track's audio.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Fingerprint {
    /// The algorithm, such as `chromaprint`.
    pub algorithm: String,
    /// The fingerprint, encoded as the algorithm's services expect it.
    pub value: String,
    /// The length of audio it covers, in seconds.
    pub duration_s: u32,
}

/// What to look a track up by.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TrackQuery {
    /// The tags the library has now.
    pub tags: TrackTags,
    /// The duration in milliseconds, if known.
    pub duration_ms: Option<u64>,
    /// An acoustic fingerprint, if the host computed one.
    pub fingerprint: Option<Fingerprint>,
}

/// Lyrics of a track.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Lyrics {
    /// Plain text.
    pub plain: Option<String>,
    /// Time-synced lyrics in LRC format (`[mm:ss.xx] line`).
    pub synced_lrc: Option<String>,
    /// The track is instrumental: it has no lyrics, which is an answer, not a miss.
    pub instrumental: bool,
}

/// One possible match for a query: a recording on a release, with the tags the
/// catalogue has for it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Candidate {
    /// The source's own confidence, from 0.0 to 1.0 (a search engine's score). The host
    /// ranks candidates by its own distance to the query, not by this.
    pub score: f32,
    /// The catalogue's tags, with its ids (`musicbrainz_recording_id`, …) filled in.
    pub tags: TrackTags,
    /// The recording's duration in milliseconds, as the catalogue has it.
    pub duration_ms: Option<u64>,
    /// URLs of cover art, best first (what contract 0.2 sources answered; a 0.3 source
    /// offers the `artwork` capability instead).
    pub cover_art_urls: Vec<String>,
    /// Lyrics, if the source answered them with the match.
    pub lyrics: Option<Lyrics>,
}

/// Which image to fetch, and how large.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ArtworkRequest {
    /// The MusicBrainz release whose front cover is wanted.
    pub release_id: Option<String>,
    /// The MusicBrainz recording, for sources that index art by recording.
    pub recording_id: Option<String>,
    /// The longest edge wanted in pixels; `None` for the original image. A source picks
    /// its nearest size not smaller than this, or its largest.
    pub max_edge: Option<u32>,
}

/// An image a source answered.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Artwork {
    /// The MIME type the source stated (`image/jpeg`, `image/png`); the host checks the
    /// bytes against it.
    pub mime: String,
    /// The longest edge in pixels, if the source knows it.
    pub max_edge: Option<u32>,
    /// The image.
    pub bytes: Vec<u8>,
}

/// A catalogue to look tracks up in. Each method a source does not offer answers
/// [`PluginError::Unsupported`]; its manifest's [`MetadataFeatures`] says which it offers.
pub trait MetadataSource: Send + Sync {
    /// Candidates for `query`, best first; an empty list when nothing matches.
    fn identify(&self, query: &TrackQuery) -> PluginResult<Vec<Candidate>> {
        let _ = query;
        Err(PluginError::Unsupported(
            "this source does not identify tracks".into(),
        ))
    }

    /// The front cover `request` names; `None` when the catalogue has no image for it.
    fn artwork(&self, request: &ArtworkRequest) -> PluginResult<Option<Artwork>> {
        let _ = request;
        Err(PluginError::Unsupported(
            "this source has no artwork".into(),
        ))
    }

    /// Lyrics of the track `query` describes; `None` when the catalogue has none.
    fn lyrics(&self, query: &TrackQuery) -> PluginResult<Option<Lyrics>> {
        let _ = query;
        Err(PluginError::Unsupported("this source has no lyrics".into()))
    }
}

/// The capabilities a metadata source offers, from its manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MetadataFeatures {
    /// It answers [`MetadataSource::identify`].
    pub identify: bool,
    /// It answers [`MetadataSource::artwork`].
    pub artwork: bool,
    /// It answers [`MetadataSource::lyrics`].
    pub lyrics: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contract_0_2_candidate_still_parses() {
        // What a 0.2 source's `lookup` answered: no duration, no `instrumental`.
        let old = r#"[{"score":0.9,"tags":{"title":"T","artists":["A"],"album":null,
            "album_artists":[],"genres":[],"track_number":1,"track_total":null,
            "disc_number":null,"disc_total":null,"year":2001,
            "musicbrainz_recording_id":"r","musicbrainz_release_id":null,"isrc":null},
            "cover_art_urls":["https://x/1.jpg"],"lyrics":{"plain":"la","synced_lrc":null}}]"#;
        let candidates: Vec<Candidate> = serde_json::from_str(old).unwrap();
        assert_eq!(candidates[0].tags.title.as_deref(), Some("T"));
        assert_eq!(candidates[0].duration_ms, None);
        assert!(!candidates[0].lyrics.as_ref().unwrap().instrumental);
    }

    #[test]
    fn methods_a_source_does_not_offer_say_so() {
        struct Nothing;
        impl MetadataSource for Nothing {}
        let q = TrackQuery::default();
        assert!(matches!(
            Nothing.identify(&q),
            Err(PluginError::Unsupported(_))
        ));
        assert!(matches!(
            Nothing.artwork(&ArtworkRequest::default()),
            Err(PluginError::Unsupported(_))
        ));
        assert!(matches!(
            Nothing.lyrics(&q),
            Err(PluginError::Unsupported(_))
        ));
    }
}
