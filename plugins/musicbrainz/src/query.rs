//! Recording searches as Lucene queries, built from a track's tags.

use tonearm_plugin_api::TrackQuery;

/// Characters Lucene treats as syntax; escaped with `\` inside a phrase they would end.
const SPECIAL: &[char] = &[
    '+', '-', '&', '|', '!', '(', ')', '{', '}', '[', ']', '^', '"', '~', '*', '?', ':', '\\', '/',
];

/// `value` as a quoted Lucene phrase.
pub fn phrase(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if SPECIAL.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The recording search for `query`, or `None` when it has no title to search by.
///
/// The title and the first artist are required clauses; the album, track number and
/// duration only rank (a file's album may be a compilation the database files under
/// another title). The duration is MusicBrainz's `qdur`, in units of two seconds.
pub fn recording_search(query: &TrackQuery) -> Option<String> {
    let tags = &query.tags;
    let title = tags
        .title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())?;
    let mut q = format!("recording:{}", phrase(title));
    if let Some(artist) = tags.artists.first().filter(|a| !a.trim().is_empty()) {
        q.push_str(&format!(" AND artist:{}", phrase(artist.trim())));
    }
    if let Some(album) = tags.album.as_deref().filter(|a| !a.trim().is_empty()) {
        q.push_str(&format!(" release:{}", phrase(album.trim())));
    }
    if let Some(n) = tags.track_number {
        q.push_str(&format!(" tnum:{n}"));
    }
    if let Some(ms) = query.duration_ms {
        q.push_str(&format!(" qdur:{}", ms / 2000));
    }
    Some(q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonearm_plugin_api::TrackTags;

    #[test]
    fn phrases_escape_lucene_syntax() {
        assert_eq!(phrase(r#"AC/DC: "Live""#), r#""AC\/DC\: \"Live\"""#);
        assert_eq!(phrase("Plain"), "\"Plain\"");
    }

    #[test]
    fn a_search_needs_a_title_and_uses_what_else_is_known() {
        assert_eq!(recording_search(&TrackQuery::default()), None);
        let q = TrackQuery {
            tags: TrackTags {
                title: Some("Song (Live)".into()),
                artists: vec!["Band".into()],
                album: Some("Tour".into()),
                track_number: Some(3),
                ..TrackTags::default()
            },
            duration_ms: Some(201_000),
            fingerprint: None,
        };
        assert_eq!(
            recording_search(&q).unwrap(),
            r#"recording:"Song \(Live\)" AND artist:"Band" release:"Tour" tnum:3 qdur:100"#
        );
    }
}
