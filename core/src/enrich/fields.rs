//! The tag fields enrichment may write, and the difference a candidate would make.

use serde::{Deserialize, Serialize};
use tonearm_plugin_api::TrackTags;

/// A tag field of a track.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The title.
    Title,
    /// Track artists.
    Artists,
    /// The album title.
    Album,
    /// Album artists.
    AlbumArtists,
    /// Position on the disc.
    TrackNumber,
    /// Tracks on the disc.
    TrackTotal,
    /// Disc number.
    DiscNumber,
    /// Discs in the release.
    DiscTotal,
    /// Release year.
    Year,
    /// MusicBrainz recording id.
    MusicbrainzRecordingId,
    /// MusicBrainz release id.
    MusicbrainzReleaseId,
    /// ISRC.
    Isrc,
}

impl Field {
    /// Every field, in display order.
    pub const ALL: [Field; 12] = [
        Field::Title,
        Field::Artists,
        Field::Album,
        Field::AlbumArtists,
        Field::TrackNumber,
        Field::TrackTotal,
        Field::DiscNumber,
        Field::DiscTotal,
        Field::Year,
        Field::MusicbrainzRecordingId,
        Field::MusicbrainzReleaseId,
        Field::Isrc,
    ];

    /// The field's name, as stored and shown (`track_number`).
    pub fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Artists => "artists",
            Field::Album => "album",
            Field::AlbumArtists => "album_artists",
            Field::TrackNumber => "track_number",
            Field::TrackTotal => "track_total",
            Field::DiscNumber => "disc_number",
            Field::DiscTotal => "disc_total",
            Field::Year => "year",
            Field::MusicbrainzRecordingId => "musicbrainz_recording_id",
            Field::MusicbrainzReleaseId => "musicbrainz_release_id",
            Field::Isrc => "isrc",
        }
    }

    /// The field named `name`.
    pub fn parse(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }

    /// This field's value in `tags`; `None` when unset.
    pub fn get(self, tags: &TrackTags) -> Option<Value> {
        let text = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::Text(s.to_owned()))
        };
        let list = |v: &[String]| (!v.is_empty()).then(|| Value::List(v.to_vec()));
        let number = |v: Option<u32>| v.map(|n| Value::Number(i64::from(n)));
        match self {
            Field::Title => text(&tags.title),
            Field::Artists => list(&tags.artists),
            Field::Album => text(&tags.album),
            Field::AlbumArtists => list(&tags.album_artists),
            Field::TrackNumber => number(tags.track_number),
            Field::TrackTotal => number(tags.track_total),
            Field::DiscNumber => number(tags.disc_number),
            Field::DiscTotal => number(tags.disc_total),
            Field::Year => tags.year.map(|y| Value::Number(i64::from(y))),
            Field::MusicbrainzRecordingId => text(&tags.musicbrainz_recording_id),
            Field::MusicbrainzReleaseId => text(&tags.musicbrainz_release_id),
            Field::Isrc => text(&tags.isrc),
        }
    }

    /// Sets this field in `tags` to `value` (a value of the wrong shape is ignored).
    pub fn set(self, tags: &mut TrackTags, value: &Value) {
        let text = || match value {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        };
        let number = || match value {
            Value::Number(n) => u32::try_from(*n).ok(),
            _ => None,
        };
        let list = || match value {
            Value::List(l) => Some(l.clone()),
            _ => None,
        };
        match self {
            Field::Title => tags.title = text().or(tags.title.take()),
            Field::Artists => tags.artists = list().unwrap_or(std::mem::take(&mut tags.artists)),
            Field::Album => tags.album = text().or(tags.album.take()),
            Field::AlbumArtists => {
                tags.album_artists = list().unwrap_or(std::mem::take(&mut tags.album_artists));
            }
            Field::TrackNumber => tags.track_number = number().or(tags.track_number),
            Field::TrackTotal => tags.track_total = number().or(tags.track_total),
            Field::DiscNumber => tags.disc_number = number().or(tags.disc_number),
            Field::DiscTotal => tags.disc_total = number().or(tags.disc_total),
            Field::Year => {
                if let Value::Number(n) = value
                    && let Ok(year) = i32::try_from(*n)
                {
                    tags.year = Some(year);
                }
            }
            Field::MusicbrainzRecordingId => {
                tags.musicbrainz_recording_id = text().or(tags.musicbrainz_recording_id.take());
            }
            Field::MusicbrainzReleaseId => {
                tags.musicbrainz_release_id = text().or(tags.musicbrainz_release_id.take());
            }
            Field::Isrc => tags.isrc = text().or(tags.isrc.take()),
        }
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A field's value.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// A number (positions, the year).
    Number(i64),
    /// Text.
    Text(String),
    /// Names, in credit order.
    List(Vec<String>),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Number(n) => write!(f, "{n}"),
            Value::Text(s) => write!(f, "{s:?}"),
            Value::List(l) => write!(f, "{l:?}"),
        }
    }
}

/// One field a candidate changes.
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// The field.
    pub field: Field,
    /// Its value now, if any.
    pub old: Option<Value>,
    /// The value written.
    pub new: Value,
}

/// What writing `proposed` over `current` would change: every field the candidate has
/// that differs, except the `locked` ones (edited by the user). A field the candidate
/// lacks is left as it is, never cleared.
pub fn diff(current: &TrackTags, proposed: &TrackTags, locked: &[Field]) -> Vec<FieldChange> {
    Field::ALL
        .into_iter()
        .filter(|f| !locked.contains(f))
        .filter_map(|field| {
            let new = field.get(proposed)?;
            let old = field.get(current);
            (old.as_ref() != Some(&new)).then_some(FieldChange { field, old, new })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_changes_what_differs_keeps_what_the_candidate_lacks_and_spares_locked_fields() {
        let current = TrackTags {
            title: Some("song".into()),
            artists: vec!["Band".into()],
            album: Some("Mine".into()),
            genres: vec!["Rock".into()],
            year: Some(1999),
            ..TrackTags::default()
        };
        let proposed = TrackTags {
            title: Some("Song".into()),
            artists: vec!["Band".into()],
            album: Some("Theirs".into()),
            track_number: Some(4),
            ..TrackTags::default()
        };
        let changes = diff(&current, &proposed, &[Field::Album]);
        let fields: Vec<Field> = changes.iter().map(|c| c.field).collect();
        assert_eq!(fields, [Field::Title, Field::TrackNumber]);
        assert_eq!(changes[1].old, None);
        assert_eq!(changes[1].new, Value::Number(4));
    }

    #[test]
    fn set_and_get_round_trip_and_names_parse() {
        let mut tags = TrackTags::default();
        for (field, value) in [
            (Field::Title, Value::Text("T".into())),
            (Field::Artists, Value::List(vec!["A".into(), "B".into()])),
            (Field::Year, Value::Number(2004)),
            (Field::Isrc, Value::Text("GBAAA0400001".into())),
        ] {
            field.set(&mut tags, &value);
            assert_eq!(field.get(&tags), Some(value));
            assert_eq!(Field::parse(field.name()), Some(field));
        }
    }
}
