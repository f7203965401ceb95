//! A fake MusicBrainz web service (`/ws/2`, JSON): recording search with a subset of the
//! Lucene syntax, recording, release and ISRC lookups, and the service's rate limit.
//!
//! Like musicbrainz.org it answers `503` with its JSON error (and `Retry-After: 1`) to a
//! client that averages more than one request a second, `403` to a request without a meaningful User-Agent, `404`
//! with `{"error": "Not Found"}` for an unknown id and `400` for a malformed one. The
//! catalogue is what a test adds ([`FakeMusicBrainz::add`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::{Server, is_mbid};

/// One release a recording appears on, and where.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ReleaseEntry {
    /// The release MBID.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its artist credit (the album artist).
    pub artist: String,
    /// `YYYY-MM-DD`, `YYYY-MM` or `YYYY`.
    pub date: String,
    /// The medium's position (the disc number).
    pub disc: u32,
    /// Media on the release.
    pub discs: u32,
    /// The track's position on its medium.
    pub track: u32,
    /// Tracks on the medium.
    pub tracks: u32,
}

/// One recording of the fake catalogue.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Recording {
    /// The recording MBID.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its credited artists, in order.
    pub artists: Vec<String>,
    /// Its length in milliseconds.
    pub length_ms: u64,
    /// Its ISRCs.
    pub isrcs: Vec<String>,
    /// The releases it appears on.
    pub releases: Vec<ReleaseEntry>,
}

/// What the fake has seen and served.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Requests answered, errors included.
    pub requests: usize,
    /// `503` answers for exceeding the rate limit.
    pub throttled: usize,
    /// `403` answers for a missing or anonymous User-Agent.
    pub forbidden: usize,
}

#[derive(Default)]
struct Catalogue {
    recordings: Vec<Recording>,
    counts: Counts,
    /// The rate limiter's bucket: requests accepted and not yet drained, and when it was
    /// last drained.
    level: f64,
    drained_at: Option<Instant>,
    /// One request drains from the bucket per interval.
    interval: Duration,
}

/// Requests the bucket holds beyond the one being served: the service limits the average
/// rate (as nginx's `limit_req` with `burst=1` does), so a client keeping exactly to it is
/// never refused for a millisecond of network jitter, and one that sends a burst is.
const BURST: f64 = 1.0;

/// A fake MusicBrainz on 127.0.0.1.
pub struct FakeMusicBrainz {
    server: Server,
    catalogue: Arc<Mutex<Catalogue>>,
}

impl FakeMusicBrainz {
    /// Starts an empty catalogue that allows one request a second, as musicbrainz.org.
    ///
    /// # Errors
    ///
    /// If no port can be bound.
    pub fn start() -> std::io::Result<Self> {
        Self::start_with_interval(Duration::from_secs(1))
    }

    /// Starts an empty catalogue allowing one request per `interval` (shorter keeps
    /// tests fast; the rule is the same).
    ///
    /// # Errors
    ///
    /// If no port can be bound.
    pub fn start_with_interval(interval: Duration) -> std::io::Result<Self> {
        let catalogue = Arc::new(Mutex::new(Catalogue {
            interval,
            ..Catalogue::default()
        }));
        let router = Router::new()
            .route("/ws/2/recording", get(search))
            .route("/ws/2/recording/{id}", get(recording))
            .route("/ws/2/release/{id}", get(release))
            .route("/ws/2/isrc/{isrc}", get(isrc))
            .with_state(catalogue.clone());
        Ok(Self {
            server: Server::start(router, 0)?,
            catalogue,
        })
    }

    /// Lets clients cache its answers for `age` (`Cache-Control: max-age`), as a
    /// service that allows caching says; `None` (as at first) sends no caching header.
    pub fn set_max_age(&self, age: Option<std::time::Duration>) {
        self.server.set_max_age(age);
    }

    /// The base URL (`http://127.0.0.1:PORT`): the plugin's `endpoint.api`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Adds a recording to the catalogue.
    pub fn add(&self, recording: Recording) {
        self.lock().recordings.push(recording);
    }

    /// What it has seen so far.
    pub fn counts(&self) -> Counts {
        self.lock().counts
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Catalogue> {
        self.catalogue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

type Shared = State<Arc<Mutex<Catalogue>>>;

fn error(status: StatusCode, message: &str) -> Response {
    let help = "For usage, please see: https://musicbrainz.org/development/mmd";
    (
        status,
        axum::Json(json!({ "error": message, "help": help })),
    )
        .into_response()
}

/// The checks every request passes first: the User-Agent, the rate, `fmt=json`. The
/// answer to a request that fails one.
fn refusal(
    catalogue: &Mutex<Catalogue>,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Option<Response> {
    let mut c = catalogue.lock().unwrap_or_else(PoisonError::into_inner);
    c.counts.requests += 1;
    // MusicBrainz blocks anonymous clients: it asks for `App/version ( contact )`.
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !(agent.contains('/') && agent.contains('(') && agent.contains(')')) {
        c.counts.forbidden += 1;
        return Some(error(
            StatusCode::FORBIDDEN,
            "Please provide a meaningful User-Agent: Application/version ( contact )",
        ));
    }
    let now = Instant::now();
    let drained = match (c.drained_at, c.interval.as_secs_f64()) {
        (Some(at), interval) if interval > 0.0 => now.duration_since(at).as_secs_f64() / interval,
        _ => f64::INFINITY,
    };
    let level = (c.level - drained).max(0.0) + 1.0;
    if level > 1.0 + BURST {
        c.counts.throttled += 1;
        // Captures of the real service show a Retry-After of a second or less.
        let mut refused = error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Your requests are exceeding the allowable rate limit. Please see \
             https://wiki.musicbrainz.org/MusicBrainz_API/Rate_Limiting for more information.",
        );
        refused
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        return Some(refused);
    }
    c.level = level;
    c.drained_at = Some(now);
    if query.get("fmt").map(String::as_str) != Some("json") {
        return Some(error(
            StatusCode::BAD_REQUEST,
            "this fake answers JSON only: add fmt=json",
        ));
    }
    None
}

/// An artist credit of `names`, joined with "&" as MusicBrainz shows collaborations; each
/// artist's MBID is made from its name, so it is the same everywhere in the catalogue.
fn credit(names: &[String]) -> Value {
    let last = names.len().saturating_sub(1);
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let id = artist_id(name);
            let join = if i < last { " & " } else { "" };
            json!({ "name": name, "joinphrase": join, "artist": { "id": id, "name": name, "sort-name": name } })
        })
        .collect()
}

fn artist_id(name: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let hex = format!("{h:016x}{:016x}", h.rotate_left(17));
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A release as a recording's search result or lookup shows it.
fn release_json(r: &Recording, e: &ReleaseEntry, with_media: bool) -> Value {
    let mut release = json!({
        "id": e.id,
        "title": e.title,
        "status": "Official",
        "date": e.date,
        "country": "XW",
        "artist-credit": credit(std::slice::from_ref(&e.artist)),
        "release-group": { "id": format!("{}-rg", &e.id[..8]), "primary-type": "Album", "title": e.title },
        "track-count": e.tracks,
    });
    if with_media {
        release["media"] = json!([{
            "position": e.disc,
            "format": "Digital Media",
            "track-count": e.tracks,
            "track-offset": e.track.saturating_sub(1),
            "track": [{
                "id": format!("{}-t{}", &e.id[..8], e.track),
                "number": e.track.to_string(),
                "title": r.title,
                "length": r.length_ms,
            }],
        }]);
    }
    release
}

fn recording_json(r: &Recording, score: Option<u32>, with_releases: bool) -> Value {
    let mut value = json!({
        "id": r.id,
        "title": r.title,
        "length": r.length_ms,
        "disambiguation": "",
        "video": false,
        "artist-credit": credit(&r.artists),
        "isrcs": r.isrcs,
        "first-release-date": r.releases.iter().map(|e| e.date.clone()).min().unwrap_or_default(),
    });
    if let Some(score) = score {
        value["score"] = json!(score);
    }
    if with_releases {
        value["releases"] = r
            .releases
            .iter()
            .map(|e| release_json(r, e, true))
            .collect();
    }
    value
}

/// `GET /ws/2/recording?query=…`: Lucene over `recording`, `artist`, `release`,
/// `isrc`, `rid`, `tnum` and `dur`/`qdur`; terms joined with AND (or OR) and quoted
/// phrases. Scores are the share of the query's clauses a recording matches.
async fn search(
    State(catalogue): Shared,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refusal(&catalogue, &headers, &q) {
        return refused;
    }
    let Some(query) = q.get("query").filter(|s| !s.trim().is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "missing query");
    };
    let clauses = match lucene::parse(query) {
        Ok(c) => c,
        Err(why) => return error(StatusCode::BAD_REQUEST, &why),
    };
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(25)
        .clamp(1, 100);
    let offset = q
        .get("offset")
        .and_then(|o| o.parse::<usize>().ok())
        .unwrap_or(0);
    let c = catalogue.lock().unwrap_or_else(PoisonError::into_inner);
    let mut hits: Vec<(u32, &Recording)> = c
        .recordings
        .iter()
        .filter_map(|r| {
            let score = lucene::score(&clauses, r);
            (score > 0).then_some((score, r))
        })
        .collect();
    hits.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.id.cmp(&b.1.id)));
    let count = hits.len();
    let recordings: Vec<Value> = hits
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(score, r)| recording_json(r, Some(score), true))
        .collect();
    axum::Json(json!({
        "created": "2026-12-03T00:00:00.000Z",
        "count": count,
        "offset": offset,
        "recordings": recordings,
    }))
    .into_response()
}

/// The `inc` parameter's parts.
fn includes(q: &HashMap<String, String>) -> Vec<String> {
    q.get("inc")
        .map(|inc| {
            inc.split([' ', '+'])
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// `GET /ws/2/recording/{id}?inc=artist-credits+releases+isrcs`.
async fn recording(
    State(catalogue): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refusal(&catalogue, &headers, &q) {
        return refused;
    }
    if !is_mbid(&id) {
        return error(StatusCode::BAD_REQUEST, "Invalid mbid.");
    }
    let inc = includes(&q);
    let c = catalogue.lock().unwrap_or_else(PoisonError::into_inner);
    match c.recordings.iter().find(|r| r.id == id) {
        Some(r) => {
            let mut value = recording_json(r, None, false);
            if inc.iter().any(|i| i == "releases") {
                let media = inc.iter().any(|i| i == "media");
                value["releases"] = r
                    .releases
                    .iter()
                    .map(|e| release_json(r, e, media))
                    .collect();
            }
            if !inc.iter().any(|i| i == "isrcs") {
                value.as_object_mut().map(|o| o.remove("isrcs"));
            }
            axum::Json(value).into_response()
        }
        None => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

/// `GET /ws/2/release/{id}?inc=artist-credits+recordings+isrcs`: the release with the
/// catalogue's recordings on it as its tracks.
async fn release(
    State(catalogue): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refusal(&catalogue, &headers, &q) {
        return refused;
    }
    if !is_mbid(&id) {
        return error(StatusCode::BAD_REQUEST, "Invalid mbid.");
    }
    let c = catalogue.lock().unwrap_or_else(PoisonError::into_inner);
    let on: Vec<(&Recording, &ReleaseEntry)> = c
        .recordings
        .iter()
        .flat_map(|r| {
            r.releases
                .iter()
                .filter(|e| e.id == id)
                .map(move |e| (r, e))
        })
        .collect();
    let Some((_, first)) = on.first() else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    let mut media: Vec<Value> = Vec::new();
    for disc in 1..=first.discs {
        let mut tracks: Vec<(u32, Value)> = on
            .iter()
            .filter(|(_, e)| e.disc == disc)
            .map(|(r, e)| {
                (
                    e.track,
                    json!({
                        "id": format!("{}-t{}", &e.id[..8], e.track),
                        "position": e.track,
                        "number": e.track.to_string(),
                        "title": r.title,
                        "length": r.length_ms,
                        "recording": recording_json(r, None, false),
                    }),
                )
            })
            .collect();
        tracks.sort_by_key(|(n, _)| *n);
        media.push(json!({
            "position": disc,
            "format": "Digital Media",
            "track-count": first.tracks,
            "tracks": tracks.into_iter().map(|(_, t)| t).collect::<Vec<_>>(),
        }));
    }
    axum::Json(json!({
        "id": first.id,
        "title": first.title,
        "status": "Official",
        "date": first.date,
        "country": "XW",
        "artist-credit": credit(std::slice::from_ref(&first.artist)),
        "release-group": { "id": format!("{}-rg", &first.id[..8]), "primary-type": "Album", "title": first.title },
        "cover-art-archive": { "artwork": true, "front": true, "back": false, "count": 1, "darkened": false },
        "media": media,
    }))
    .into_response()
}

/// `GET /ws/2/isrc/{isrc}`: the recordings with that ISRC, without their releases (the
/// real service's JSON never lists them here, whatever `inc` asks).
async fn isrc(
    State(catalogue): Shared,
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refusal(&catalogue, &headers, &q) {
        return refused;
    }
    let valid = code.len() == 12 && code.chars().all(|c| c.is_ascii_alphanumeric());
    if !valid {
        return error(StatusCode::BAD_REQUEST, "Invalid ISRC.");
    }
    let c = catalogue.lock().unwrap_or_else(PoisonError::into_inner);
    let recordings: Vec<Value> = c
        .recordings
        .iter()
        .filter(|r| r.isrcs.iter().any(|i| i.eq_ignore_ascii_case(&code)))
        .map(|r| recording_json(r, None, false))
        .collect();
    if recordings.is_empty() {
        return error(StatusCode::NOT_FOUND, "Not Found");
    }
    axum::Json(json!({ "isrc": code.to_ascii_uppercase(), "recordings": recordings }))
        .into_response()
}

/// The subset of Lucene the fake understands.
mod lucene {
    use super::Recording;

    /// `field:value` (a phrase or a term); `dur` may be a range `[a TO b]`.
    #[derive(Debug, PartialEq)]
    pub(super) struct Clause {
        field: String,
        value: String,
    }

    /// Splits `query` into clauses; `AND`, `OR` and parentheses are accepted and ignored
    /// (every clause counts towards the score), as the real service ranks rather than
    /// filters.
    pub(super) fn parse(query: &str) -> Result<Vec<Clause>, String> {
        let mut clauses = Vec::new();
        let mut rest = query.trim();
        while !rest.is_empty() {
            rest = rest.trim_start_matches([' ', '(', ')']);
            if rest.is_empty() {
                break;
            }
            for op in ["AND ", "OR "] {
                if let Some(r) = rest.strip_prefix(op) {
                    rest = r;
                }
            }
            let Some((field, after)) = rest.split_once(':') else {
                // A bare term searches the recording's title.
                let (term, r) = take_value(rest)?;
                clauses.push(Clause {
                    field: "recording".into(),
                    value: term,
                });
                rest = r;
                continue;
            };
            let (value, r) = take_value(after)?;
            clauses.push(Clause {
                field: field.trim().to_ascii_lowercase(),
                value,
            });
            rest = r;
        }
        if clauses.is_empty() {
            return Err("empty query".into());
        }
        Ok(clauses)
    }

    /// A quoted phrase (with `\` escapes), a `[a TO b]` range or a term up to a space.
    fn take_value(s: &str) -> Result<(String, &str), String> {
        let s = s.trim_start();
        if let Some(body) = s.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = body.char_indices();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => return Ok((value, &body[i + 1..])),
                    c => value.push(c),
                }
            }
            return Err("unterminated phrase".into());
        }
        if let Some(body) = s.strip_prefix('[') {
            let end = body.find(']').ok_or("unterminated range")?;
            return Ok((format!("[{}]", &body[..end]), &body[end + 1..]));
        }
        let end = s.find([' ', ')']).unwrap_or(s.len());
        let mut value = String::new();
        let mut chars = s[..end].chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(e) = chars.next() {
                    value.push(e);
                }
            } else {
                value.push(c);
            }
        }
        Ok((value, &s[end..]))
    }

    fn normal(s: &str) -> String {
        s.chars()
            .filter(|c| c.is_alphanumeric() || c.is_whitespace())
            .collect::<String>()
            .to_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Whether text `have` matches `want`: equal once normalised, or holding every word.
    fn text_matches(have: &str, want: &str) -> bool {
        let (have, want) = (normal(have), normal(want));
        have == want || want.split(' ').all(|w| have.split(' ').any(|h| h == w))
    }

    fn clause_matches(c: &Clause, r: &Recording) -> bool {
        match c.field.as_str() {
            "recording" | "recordingaccent" => text_matches(&r.title, &c.value),
            "artist" | "artistname" => r.artists.iter().any(|a| text_matches(a, &c.value)),
            "release" => r.releases.iter().any(|e| text_matches(&e.title, &c.value)),
            "rid" => r.id == c.value,
            "reid" => r.releases.iter().any(|e| e.id == c.value),
            "isrc" => r.isrcs.iter().any(|i| i.eq_ignore_ascii_case(&c.value)),
            "tnum" => r
                .releases
                .iter()
                .any(|e| c.value.parse::<u32>().is_ok_and(|n| n == e.track)),
            "dur" => in_range(&c.value, r.length_ms),
            // `qdur` is the length in units of two seconds.
            "qdur" => c
                .value
                .parse::<u64>()
                .is_ok_and(|q| q.abs_diff(r.length_ms / 2000) <= 1),
            _ => false,
        }
    }

    fn in_range(value: &str, length: u64) -> bool {
        let inner = value.trim_start_matches('[').trim_end_matches(']');
        match inner.split_once(" TO ") {
            Some((a, b)) => match (a.trim().parse::<u64>(), b.trim().parse::<u64>()) {
                (Ok(a), Ok(b)) => (a..=b).contains(&length),
                _ => false,
            },
            None => inner.parse::<u64>().is_ok_and(|d| d == length),
        }
    }

    /// 0 to 100: the share of clauses `r` matches.
    pub(super) fn score(clauses: &[Clause], r: &Recording) -> u32 {
        let matched = clauses.iter().filter(|c| clause_matches(c, r)).count();
        (matched * 100 / clauses.len()) as u32
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn phrases_escapes_and_ranges_parse() {
            let c =
                parse(r#"recording:"A \"Quoted\" Song" AND artist:Band AND dur:[1000 TO 2000]"#)
                    .unwrap();
            assert_eq!(c.len(), 3);
            assert_eq!(c[0].value, r#"A "Quoted" Song"#);
            assert_eq!(c[1].field, "artist");
            assert_eq!(c[2].value, "[1000 TO 2000]");
            assert!(parse(r#"recording:"open"#).is_err());
        }
    }
}
