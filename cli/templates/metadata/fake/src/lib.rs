//! A fake of the lyrics service, on 127.0.0.1: its API, over a catalogue in memory that
//! tests fill through `/_harness/…`. Make it answer as your service does (its matching,
//! its errors, its limits) so tests meet what the source will.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post, put};
use serde::Deserialize;
use {{crate_ident}}::api;

mod serve;

pub use serve::{Running, start, start_on};

/// Records by (artist, title), compared without case.
type Catalogue = Arc<Mutex<BTreeMap<(String, String), api::Record>>>;

fn router() -> Router {
    Router::new()
        .route("/v1/lyrics", get(lyrics))
        .route("/_harness/reset", post(reset))
        .route("/_harness/lyrics", put(put_lyrics))
        .with_state(Catalogue::default())
}

#[derive(Deserialize)]
struct Track {
    artist: String,
    title: String,
}

fn key(track: &Track) -> (String, String) {
    (track.artist.to_lowercase(), track.title.to_lowercase())
}

async fn lyrics(State(catalogue): State<Catalogue>, Query(track): Query<Track>) -> Response {
    let catalogue = catalogue.lock().unwrap_or_else(PoisonError::into_inner);
    match catalogue.get(&key(&track)) {
        Some(record) => Json(record.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, "no lyrics for that track").into_response(),
    }
}

async fn reset(State(catalogue): State<Catalogue>) -> StatusCode {
    catalogue
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
    StatusCode::NO_CONTENT
}

/// `PUT /_harness/lyrics?artist=A&title=T` with a record as JSON.
async fn put_lyrics(
    State(catalogue): State<Catalogue>,
    Query(track): Query<Track>,
    Json(record): Json<api::Record>,
) -> StatusCode {
    catalogue
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(key(&track), record);
    StatusCode::NO_CONTENT
}
