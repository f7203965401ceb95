//! How close a catalogue's candidate is to a track in the library: one weighted distance,
//! the same for every metadata source, so that what gets written does not depend on how
//! generous a plugin's own scores are.
//!
//! The weights follow beets' (`match.distance_weights`: title 3, artist 3, length 2, track
//! index 1, ids 5; a length difference is free within 10 s and counts fully from 30 s)
//! and its thresholds (strong up to 0.04, medium up to 0.25); the album weighs less (see
//! `ALBUM`). Text is compared
//! after folding case, punctuation, `&`/`and` and a leading "The", by normalised edit
//! distance. A recording MBID or ISRC the file already carries settles the question: the
//! same id in the candidate makes the match strong whatever the text says.

use tonearm_plugin_api::{Candidate, TrackQuery};

/// Weights of each part of the distance.
const TITLE: f64 = 3.0;
const ARTIST: f64 = 3.0;
/// Less than beets' 3 (an album-level weight there): here a candidate is one recording on
/// one release, and the same recording on another edition is still that recording.
const ALBUM: f64 = 1.5;
const LENGTH: f64 = 2.0;
const TRACK_INDEX: f64 = 1.0;
const DISC: f64 = 0.5;
const YEAR: f64 = 0.5;
const ID: f64 = 5.0;

/// A length difference up to this is no difference (encoders, silence, vinyl rips).
const LENGTH_GRACE_MS: f64 = 10_000.0;
/// A length difference from this on counts fully.
const LENGTH_MAX_MS: f64 = 30_000.0;

/// At most this distance is a strong match.
pub const STRONG: f64 = 0.04;
/// At most this distance is a medium match.
pub const MEDIUM: f64 = 0.25;

/// How much to trust a candidate.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Recommendation {
    /// Not the same recording, or too unsure to say.
    None,
    /// Probably the same; written only when asked to.
    Medium,
    /// The same recording.
    Strong,
}

impl Recommendation {
    /// The recommendation for `distance`.
    pub fn of(distance: f64) -> Self {
        if distance <= STRONG {
            Self::Strong
        } else if distance <= MEDIUM {
            Self::Medium
        } else {
            Self::None
        }
    }
}

/// A candidate with its distance to the track.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// From 0.0 (the same) to 1.0 (nothing alike).
    pub distance: f64,
    /// What the distance means.
    pub recommendation: Recommendation,
    /// The candidate.
    pub candidate: Candidate,
}

impl Match {
    /// `1 - distance`, the score recorded with every field written from it.
    pub fn score(&self) -> f64 {
        1.0 - self.distance
    }
}

/// Text folded for comparison: lower case, letters and digits only, `&` as "and", a
/// leading "the" dropped, single spaces.
fn fold(text: &str) -> String {
    let spaced: String = text
        .to_lowercase()
        .replace('&', " and ")
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let words: Vec<&str> = spaced.split_whitespace().collect();
    let words = match words.split_first() {
        Some((&"the", rest)) if !rest.is_empty() => rest,
        _ => &words[..],
    };
    words.join(" ")
}

/// 0.0 for the same text, 1.0 for nothing in common.
pub fn text_distance(a: &str, b: &str) -> f64 {
    let (a, b) = (fold(a), fold(b));
    if a == b {
        return 0.0;
    }
    1.0 - strsim::normalized_levenshtein(&a, &b)
}

/// 0.0 within the grace, rising to 1.0 at the maximum.
fn length_distance(a_ms: u64, b_ms: u64) -> f64 {
    let diff = a_ms.abs_diff(b_ms) as f64;
    ((diff - LENGTH_GRACE_MS) / (LENGTH_MAX_MS - LENGTH_GRACE_MS)).clamp(0.0, 1.0)
}

/// Sums weighted parts, only over what both sides know.
#[derive(Default)]
struct Distance {
    sum: f64,
    weight: f64,
}

impl Distance {
    fn add(&mut self, weight: f64, distance: f64) {
        self.sum += weight * distance;
        self.weight += weight;
    }

    fn value(&self) -> f64 {
        if self.weight == 0.0 {
            1.0
        } else {
            self.sum / self.weight
        }
    }
}

/// The distance from `query` (the library's track) to `candidate`.
pub fn distance(query: &TrackQuery, candidate: &Candidate) -> f64 {
    let (want, have) = (&query.tags, &candidate.tags);
    let mut d = Distance::default();
    match (&want.title, &have.title) {
        (Some(a), Some(b)) => d.add(TITLE, text_distance(a, b)),
        // A candidate without a title is no match for a track that has one.
        (Some(_), None) => d.add(TITLE, 1.0),
        _ => {}
    }
    if !want.artists.is_empty() {
        let distance = if have.artists.is_empty() {
            1.0
        } else {
            text_distance(&want.artists.join(" "), &have.artists.join(" "))
        };
        d.add(ARTIST, distance);
    }
    if let (Some(a), Some(b)) = (&want.album, &have.album) {
        d.add(ALBUM, text_distance(a, b));
    }
    if let (Some(a), Some(b)) = (query.duration_ms, candidate.duration_ms) {
        d.add(LENGTH, length_distance(a, b));
    }
    if let (Some(a), Some(b)) = (want.track_number, have.track_number) {
        d.add(TRACK_INDEX, f64::from(u8::from(a != b)));
    }
    if let (Some(a), Some(b)) = (want.disc_number, have.disc_number) {
        d.add(DISC, f64::from(u8::from(a != b)));
    }
    if let (Some(a), Some(b)) = (want.year, have.year) {
        d.add(YEAR, (f64::from(a.abs_diff(b)) / 10.0).min(1.0));
    }
    let same = |a: &Option<String>, b: &Option<String>| match (a, b) {
        (Some(a), Some(b)) => Some(a.trim().eq_ignore_ascii_case(b.trim())),
        _ => None,
    };
    let ids = [
        same(
            &want.musicbrainz_recording_id,
            &have.musicbrainz_recording_id,
        ),
        same(&want.isrc, &have.isrc),
    ];
    let id_match = ids.contains(&Some(true));
    if !id_match && ids.contains(&Some(false)) {
        // The file names another recording: strong evidence against.
        d.add(ID, 1.0);
    }
    let distance = d.value();
    if id_match {
        // The file's own id settles it: within the strong band, ranked by the rest.
        distance * STRONG
    } else {
        distance
    }
}

/// `candidates` with their distances to `query`, closest first.
pub fn rank(query: &TrackQuery, candidates: Vec<Candidate>) -> Vec<Match> {
    let mut matches: Vec<Match> = candidates
        .into_iter()
        .map(|candidate| {
            let distance = distance(query, &candidate);
            Match {
                distance,
                recommendation: Recommendation::of(distance),
                candidate,
            }
        })
        .collect();
    matches.sort_by(|a, b| a.distance.total_cmp(&b.distance));
    matches
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonearm_plugin_api::TrackTags;

    fn track(title: &str, artist: &str, album: &str, ms: u64, n: u32) -> (TrackTags, u64) {
        (
            TrackTags {
                title: Some(title.into()),
                artists: vec![artist.into()],
                album: Some(album.into()),
                track_number: Some(n),
                ..TrackTags::default()
            },
            ms,
        )
    }

    fn query(t: (TrackTags, u64)) -> TrackQuery {
        TrackQuery {
            tags: t.0,
            duration_ms: Some(t.1),
            fingerprint: None,
        }
    }

    fn candidate(t: (TrackTags, u64)) -> Candidate {
        Candidate {
            score: 1.0,
            tags: t.0,
            duration_ms: Some(t.1),
            ..Candidate::default()
        }
    }

    #[test]
    fn folding_ignores_case_punctuation_ampersands_and_a_leading_the() {
        assert_eq!(text_distance("The Beatles", "beatles"), 0.0);
        assert_eq!(
            text_distance("Simon & Garfunkel", "simon and garfunkel"),
            0.0
        );
        assert!(text_distance("Yesterday", "Tomorrow") > 0.5);
    }

    #[test]
    fn the_same_track_is_strong_and_another_is_none() {
        let q = query(track("Song", "Band", "Album", 200_000, 3));
        let same = rank(
            &q,
            vec![candidate(track("Song", "Band", "Album", 204_000, 3))],
        );
        assert_eq!(same[0].recommendation, Recommendation::Strong, "{same:?}");
        let other = rank(
            &q,
            vec![candidate(track("Other Tune", "Someone", "Else", 90_000, 7))],
        );
        assert_eq!(other[0].recommendation, Recommendation::None, "{other:?}");
    }

    #[test]
    fn length_is_free_within_ten_seconds_and_counts_fully_from_thirty() {
        assert_eq!(length_distance(200_000, 209_999), 0.0);
        assert!((length_distance(200_000, 220_000) - 0.5).abs() < 1e-9);
        assert_eq!(length_distance(200_000, 260_000), 1.0);
    }

    #[test]
    fn a_compilation_edition_is_medium_not_strong() {
        let q = query(track("Song", "Band", "Album", 200_000, 3));
        let best_of = rank(
            &q,
            vec![candidate(track(
                "Song",
                "Band",
                "Greatest Hits of the Year",
                200_000,
                11,
            ))],
        );
        assert_eq!(
            best_of[0].recommendation,
            Recommendation::Medium,
            "{best_of:?}"
        );
    }

    #[test]
    fn the_files_own_id_settles_the_match_either_way() {
        let mut q = query(track("Sng (typo)", "Bnd", "Albm", 200_000, 3));
        q.tags.musicbrainz_recording_id = Some("rec-1".into());
        let mut right = candidate(track("Song", "Band", "Album", 200_000, 3));
        right.tags.musicbrainz_recording_id = Some("REC-1".into());
        let mut wrong = candidate(track("Sng (typo)", "Bnd", "Albm", 200_000, 3));
        wrong.tags.musicbrainz_recording_id = Some("rec-2".into());
        let ranked = rank(&q, vec![wrong, right]);
        assert_eq!(ranked[0].candidate.tags.title.as_deref(), Some("Song"));
        assert_eq!(ranked[0].recommendation, Recommendation::Strong);
        assert_ne!(
            ranked[1].recommendation,
            Recommendation::Strong,
            "{ranked:?}"
        );
    }

    #[test]
    fn nothing_known_is_no_match() {
        let ranked = rank(&TrackQuery::default(), vec![Candidate::default()]);
        assert_eq!(ranked[0].recommendation, Recommendation::None);
    }
}
