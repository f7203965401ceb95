//! Field values as taggers write them, for both readers.

use tonearm_plugin_api::TrackTags;

use crate::library::{ArtworkRef, ReplayGain};

/// Every value of a multi-valued field, split on the separators taggers use for lists
/// (`;` and NUL; never `/` or `&`, which appear inside names such as AC/DC).
pub(super) fn split_list<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in values {
        for part in value
            .split(['\0', ';'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            if !out.iter().any(|v| v == part) {
                out.push(part.to_owned());
            }
        }
    }
    out
}

/// Parses a `6` or `6/7` field.
pub(super) fn number_pair(value: &str) -> (Option<u32>, Option<u32>) {
    let mut parts = value.splitn(2, '/').map(|p| p.trim().parse::<u32>().ok());
    (parts.next().flatten(), parts.next().flatten())
}

/// Parses `-6.5 dB`, `+1.20 dB` or `0.98`.
pub(super) fn gain_number(value: &str) -> Option<f64> {
    let value = value.trim();
    let value = value
        .strip_suffix("dB")
        .or_else(|| value.strip_suffix("db"))
        .unwrap_or(value);
    value
        .trim()
        .trim_start_matches('+')
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
}

/// An embedded image, identified by its content.
pub(super) fn artwork(data: &[u8], mime: Option<String>) -> Option<ArtworkRef> {
    if data.is_empty() {
        return None;
    }
    Some(ArtworkRef {
        sha256: crate::enrich::image_hash(data),
        mime,
        byte_len: data.len() as u64,
        bytes: (data.len() <= crate::library::MAX_EMBEDDED_IMAGE).then(|| data.into()),
    })
}

/// Fills the fields `into` lacks from `from`.
pub(super) fn merge(into: &mut TrackTags, from: TrackTags) {
    fn fill<T>(a: &mut Option<T>, b: Option<T>) {
        if a.is_none() {
            *a = b;
        }
    }
    fn fill_list(a: &mut Vec<String>, b: Vec<String>) {
        if a.is_empty() {
            *a = b;
        }
    }
    fill(&mut into.title, from.title);
    fill_list(&mut into.artists, from.artists);
    fill(&mut into.album, from.album);
    fill_list(&mut into.album_artists, from.album_artists);
    fill_list(&mut into.genres, from.genres);
    fill(&mut into.track_number, from.track_number);
    fill(&mut into.track_total, from.track_total);
    fill(&mut into.disc_number, from.disc_number);
    fill(&mut into.disc_total, from.disc_total);
    fill(&mut into.year, from.year);
    fill(
        &mut into.musicbrainz_recording_id,
        from.musicbrainz_recording_id,
    );
    fill(
        &mut into.musicbrainz_release_id,
        from.musicbrainz_release_id,
    );
    fill(&mut into.isrc, from.isrc);
}

pub(super) fn merge_gain(into: &mut ReplayGain, from: ReplayGain) {
    into.track_gain = into.track_gain.or(from.track_gain);
    into.track_peak = into.track_peak.or(from.track_peak);
    into.album_gain = into.album_gain.or(from.album_gain);
    into.album_peak = into.album_peak.or(from.album_peak);
    into.r128_track_gain = into.r128_track_gain.or(from.r128_track_gain);
    into.r128_album_gain = into.r128_album_gain.or(from.r128_album_gain);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_parse_as_taggers_write_them() {
        assert_eq!(split_list(["A; B", "B\0C", " "]), ["A", "B", "C"]);
        assert_eq!(split_list(["AC/DC"]), ["AC/DC"]);
        assert_eq!(number_pair("6/7"), (Some(6), Some(7)));
        assert_eq!(number_pair(" 6 "), (Some(6), None));
        assert_eq!(gain_number("-6.50 dB"), Some(-6.5));
        assert_eq!(gain_number("+1.2dB"), Some(1.2));
        assert_eq!(gain_number("0.98"), Some(0.98));
        assert_eq!(gain_number("loud"), None);
        assert_eq!(artwork(&[], None), None);
        assert_eq!(artwork(b"png", None).unwrap().byte_len, 3);
    }
}
