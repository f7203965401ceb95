//! Identifying a track: by recording MBID, by ISRC, or by a search over its tags.

use tonearm_plugin_api::{
    Candidate, HostContext, MetadataSource, PluginError, PluginResult, TrackQuery, TrackTags,
};

use crate::api::{Api, IsrcAnswer, Recording, SearchPage};
use crate::query;

/// The MusicBrainz metadata source.
pub struct MusicBrainz {
    api: Api,
    search_limit: u64,
    releases_per_recording: usize,
}

/// What a lookup by id asks to include: everything a candidate is made of.
const LOOKUP_INC: &str = "artist-credits+releases+isrcs+media";

impl MusicBrainz {
    /// The source over `ctx`'s HTTP, at `endpoint.api` or musicbrainz.org.
    pub fn new(ctx: &HostContext) -> PluginResult<Self> {
        let base = ctx
            .settings
            .get("endpoint.api")
            .map_or(crate::API, String::as_str);
        Ok(Self {
            api: Api::new(ctx.require_http()?, base),
            search_limit: ctx.number_setting("search_limit", 5, 1..=100)?,
            releases_per_recording: ctx.number_setting("releases_per_recording", 3, 1..=25)?
                as usize,
        })
    }

    fn by_recording_id(&self, id: &str) -> PluginResult<Option<Recording>> {
        self.api.get(
            &format!("recording/{}", segment(id)?),
            &[("inc", LOOKUP_INC)],
        )
    }

    /// The recordings with `isrc`, each looked up for its releases (an ISRC lookup's JSON
    /// never lists them, whatever it is asked to include).
    fn by_isrc(&self, isrc: &str) -> PluginResult<Vec<Recording>> {
        let answer: Option<IsrcAnswer> = self.api.get(&format!("isrc/{}", segment(isrc)?), &[])?;
        let mut recordings = Vec::new();
        for listed in answer
            .map(|a| a.recordings)
            .unwrap_or_default()
            .iter()
            .take(3)
        {
            if let Some(recording) = self.by_recording_id(&listed.id)? {
                recordings.push(recording);
            }
        }
        Ok(recordings)
    }

    fn search(&self, query: &TrackQuery) -> PluginResult<Vec<Recording>> {
        let Some(lucene) = query::recording_search(query) else {
            return Ok(Vec::new());
        };
        let limit = self.search_limit.to_string();
        let page: Option<SearchPage> = self
            .api
            .get("recording", &[("query", &lucene), ("limit", &limit)])?;
        Ok(page.map(|p| p.recordings).unwrap_or_default())
    }

    /// One candidate per release of `recording` (or one without a release).
    fn candidates(&self, recording: &Recording, score: f32) -> Vec<Candidate> {
        let artists: Vec<String> = recording
            .artist_credit
            .iter()
            .map(|c| c.name.clone())
            .collect();
        let base = TrackTags {
            title: Some(recording.title.clone()),
            artists,
            musicbrainz_recording_id: Some(recording.id.clone()),
            isrc: recording.isrcs.first().cloned(),
            ..TrackTags::default()
        };
        if recording.releases.is_empty() {
            return vec![Candidate {
                score,
                tags: base,
                duration_ms: recording.length,
                ..Candidate::default()
            }];
        }
        recording
            .releases
            .iter()
            .take(self.releases_per_recording)
            .map(|release| {
                let medium = release.media.first();
                // Lookups give the position; search results only the offset before the
                // track; the printed number ("A1" on vinyl) is the last resort.
                let track_number = medium.and_then(|m| {
                    let track = m.track.first();
                    track
                        .and_then(|t| t.position)
                        .or_else(|| m.track_offset.map(|o| o + 1))
                        .or_else(|| track.and_then(|t| t.number.trim().parse().ok()))
                });
                let album_artists: Vec<String> = release
                    .artist_credit
                    .iter()
                    .map(|c| c.name.clone())
                    .collect();
                Candidate {
                    score,
                    tags: TrackTags {
                        album: Some(release.title.clone()),
                        album_artists,
                        track_number,
                        track_total: medium.and_then(|m| m.track_count),
                        disc_number: medium.and_then(|m| m.position),
                        year: release
                            .date
                            .as_deref()
                            .and_then(|d| d.get(..4))
                            .and_then(|y| y.parse().ok()),
                        musicbrainz_release_id: Some(release.id.clone()),
                        ..base.clone()
                    },
                    duration_ms: recording.length,
                    ..Candidate::default()
                }
            })
            .collect()
    }
}

/// `id` as one path segment; ids are MBIDs and ISRCs, so anything else is refused.
fn segment(id: &str) -> PluginResult<&str> {
    let id = id.trim();
    if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Ok(id)
    } else {
        Err(PluginError::Invalid(format!(
            "not a MusicBrainz id or ISRC: {id:?}"
        )))
    }
}

impl MetadataSource for MusicBrainz {
    fn identify(&self, query: &TrackQuery) -> PluginResult<Vec<Candidate>> {
        // An id the file already carries is the strongest evidence; a stale one (merged
        // or deleted in the database) falls through to the next way.
        if let Some(id) = query.tags.musicbrainz_recording_id.as_deref()
            && let Some(recording) = self.by_recording_id(id)?
        {
            return Ok(self.candidates(&recording, 1.0));
        }
        if let Some(isrc) = query.tags.isrc.as_deref() {
            let found = self.by_isrc(isrc)?;
            if !found.is_empty() {
                return Ok(found.iter().flat_map(|r| self.candidates(r, 1.0)).collect());
            }
        }
        Ok(self
            .search(query)?
            .iter()
            .flat_map(|r| {
                let score = r.score.map_or(0.0, |s| s.min(100) as f32 / 100.0);
                self.candidates(r, score)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_single_path_segments() {
        assert!(segment("5b11f4ce-a62d-471e-81fc-a69a8278c7da").is_ok());
        assert!(segment("GBAYE0601498").is_ok());
        assert!(segment("../admin").is_err());
        assert!(segment("").is_err());
    }
}
