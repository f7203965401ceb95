//! A fake LRCLIB (`/api/get`, `/api/search`) that applies the real service's rules.
//!
//! `/api/get` matches title, artist and (if given) album after the service's folding (case,
//! punctuation, spaces) and a duration within two seconds; a miss is `404` with the
//! service's `TrackNotFound` body. `/api/search` returns up to 20 records by title and
//! artist (or `q`), with no duration filter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::Server;

/// One track's lyrics in the catalogue.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct LyricsRecord {
    /// Title.
    pub track: String,
    /// Artist.
    pub artist: String,
    /// Album.
    pub album: String,
    /// Duration in seconds.
    pub duration_s: f64,
    /// Plain lyrics.
    pub plain: Option<String>,
    /// LRC lyrics.
    pub synced: Option<String>,
    /// No lyrics, on purpose.
    pub instrumental: bool,
}

#[derive(Default)]
struct Catalogue {
    records: Vec<LyricsRecord>,
    requests: usize,
}

/// The fake service.
pub struct FakeLrclib {
    server: Server,
    catalogue: Arc<Mutex<Catalogue>>,
}

impl FakeLrclib {
    /// Starts an empty catalogue.
    ///
    /// # Errors
    ///
    /// If no port can be bound.
    pub fn start() -> std::io::Result<Self> {
        let catalogue = Arc::new(Mutex::new(Catalogue::default()));
        let router = Router::new()
            .route("/api/get", get(lookup))
            .route("/api/search", get(search))
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

    /// The base URL: the plugin's `endpoint.api`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Adds a record.
    pub fn add(&self, record: LyricsRecord) {
        self.lock().records.push(record);
    }

    /// Requests answered so far.
    pub fn requests(&self) -> usize {
        self.lock().requests
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Catalogue> {
        self.catalogue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

type Shared = State<Arc<Mutex<Catalogue>>>;

/// The service's folding: lower case, punctuation as space, single spaces.
fn fold(s: &str) -> String {
    s.to_lowercase()
        .replace('\'', "")
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn json_of(r: &LyricsRecord, id: usize) -> Value {
    json!({
        "id": id, "name": r.track, "trackName": r.track, "artistName": r.artist,
        "albumName": r.album, "duration": r.duration_s, "instrumental": r.instrumental,
        "plainLyrics": r.plain, "syncedLyrics": r.synced,
    })
}

fn error(status: StatusCode, name: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "message": message, "name": name, "statusCode": status.as_u16() })),
    )
        .into_response()
}

async fn lookup(State(catalogue): Shared, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut c = catalogue.lock().unwrap_or_else(PoisonError::into_inner);
    c.requests += 1;
    let (Some(track), Some(artist)) = (
        q.get("track_name").filter(|s| !s.trim().is_empty()),
        q.get("artist_name").filter(|s| !s.trim().is_empty()),
    ) else {
        return error(
            StatusCode::BAD_REQUEST,
            "ValidationError",
            "track_name and artist_name are required",
        );
    };
    let duration = match q.get("duration").map(|d| d.parse::<f64>()) {
        None => None,
        Some(Ok(d)) if (1.0..=3600.0).contains(&d) => Some(d),
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "ValidationError",
                "invalid duration",
            );
        }
    };
    let album = q.get("album_name").filter(|s| !s.trim().is_empty());
    let found = c.records.iter().enumerate().find(|(_, r)| {
        fold(&r.track) == fold(track)
            && fold(&r.artist) == fold(artist)
            && album.is_none_or(|a| fold(&r.album) == fold(a))
            && duration.is_none_or(|d| (r.duration_s - d).abs() <= 2.0)
    });
    match found {
        Some((i, r)) => axum::Json(json_of(r, i + 1)).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "TrackNotFound",
            "Failed to find specified track",
        ),
    }
}

async fn search(State(catalogue): Shared, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut c = catalogue.lock().unwrap_or_else(PoisonError::into_inner);
    c.requests += 1;
    let words = |s: &str| fold(s).split(' ').map(str::to_owned).collect::<Vec<_>>();
    let (track, artist) = match (q.get("q"), q.get("track_name")) {
        (Some(text), _) => (words(text), Vec::new()),
        (None, Some(track)) => (
            words(track),
            q.get("artist_name").map(|a| words(a)).unwrap_or_default(),
        ),
        (None, None) => {
            return error(
                StatusCode::BAD_REQUEST,
                "ValidationError",
                "q or track_name is required",
            );
        }
    };
    let hits: Vec<Value> = c
        .records
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            let have = fold(&format!("{} {}", r.track, r.artist));
            track
                .iter()
                .chain(&artist)
                .all(|w| have.split(' ').any(|h| h == w))
        })
        .take(20)
        .map(|(i, r)| json_of(r, i + 1))
        .collect();
    axum::Json(hits).into_response()
}
