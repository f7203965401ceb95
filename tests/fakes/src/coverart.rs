//! A fake Cover Art Archive and the image host it redirects to, as two origins.
//!
//! Like coverartarchive.org, `/release/{mbid}/front`, `/front-250|500|1200` and the JSON
//! listing `/release/{mbid}` answer `307` with a `Location` on the image host
//! (archive.org's `/download/mbid-{mbid}/…`), `404` for a release without art and `400` for
//! an id that is not an MBID; the image host serves the bytes with their MIME type.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::{Server, is_mbid};

/// One release's front cover.
#[derive(Debug, Clone)]
struct Cover {
    mime: String,
    bytes: Vec<u8>,
}

#[derive(Default)]
struct Archive {
    covers: HashMap<String, Cover>,
    /// Image names asked of the image host (`front-500`, …), in order.
    served: Vec<String>,
    /// Where the redirect service points: the image host's base URL.
    image_host: String,
}

type Shared = State<Arc<Mutex<Archive>>>;

/// The fake archive: a redirect service and an image host.
pub struct FakeCoverArt {
    archive: Server,
    images: Server,
    state: Arc<Mutex<Archive>>,
}

impl FakeCoverArt {
    /// Starts both origins, with no art.
    ///
    /// # Errors
    ///
    /// If no port can be bound.
    pub fn start() -> std::io::Result<Self> {
        let state = Arc::new(Mutex::new(Archive::default()));
        let images = Server::start(
            Router::new()
                .route("/download/{item}/{file}", get(image))
                .with_state(state.clone()),
            0,
        )?;
        state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .image_host = images.url();
        let archive = Server::start(
            Router::new()
                .route("/release/{mbid}", get(listing))
                .route("/release/{mbid}/{name}", get(front))
                .with_state(state.clone()),
            0,
        )?;
        Ok(Self {
            archive,
            images,
            state,
        })
    }

    /// Lets clients cache its answers for `age` (`Cache-Control: max-age`), as a
    /// service that allows caching says; `None` (as at first) sends no caching header.
    pub fn set_max_age(&self, age: Option<std::time::Duration>) {
        self.archive.set_max_age(age);
        self.images.set_max_age(age);
    }

    /// The redirect service's base URL: the plugin's `endpoint.api`.
    pub fn url(&self) -> String {
        self.archive.url()
    }

    /// The image host's base URL.
    pub fn image_host(&self) -> String {
        self.images.url()
    }

    /// Gives release `mbid` a front cover.
    pub fn add(&self, mbid: &str, mime: &str, bytes: &[u8]) {
        self.lock().covers.insert(
            mbid.to_owned(),
            Cover {
                mime: mime.to_owned(),
                bytes: bytes.to_vec(),
            },
        );
    }

    /// The image names the image host served, in order.
    pub fn served(&self) -> Vec<String> {
        self.lock().served.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Archive> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn redirect(to: String) -> Response {
    (
        StatusCode::TEMPORARY_REDIRECT,
        [(header::LOCATION, to.clone())],
        format!("See: {to}"),
    )
        .into_response()
}

/// `/release/{mbid}`: a redirect to the item's `index.json`.
async fn listing(State(state): Shared, Path(mbid): Path<String>) -> Response {
    if !is_mbid(&mbid) {
        return (StatusCode::BAD_REQUEST, "invalid MBID specified").into_response();
    }
    let s = state.lock().unwrap_or_else(PoisonError::into_inner);
    if !s.covers.contains_key(&mbid) {
        return (
            StatusCode::NOT_FOUND,
            format!("No cover art found for release {mbid}"),
        )
            .into_response();
    }
    redirect(format!("{}/download/mbid-{mbid}/index.json", s.image_host))
}

/// `/release/{mbid}/front[-250|-500|-1200]`: a redirect to the image.
async fn front(State(state): Shared, Path((mbid, name)): Path<(String, String)>) -> Response {
    if !is_mbid(&mbid) {
        return (StatusCode::BAD_REQUEST, "invalid MBID specified").into_response();
    }
    let suffix = match name.as_str() {
        "front" => "",
        "front-250" => "_thumb250",
        "front-500" => "_thumb500",
        "front-1200" => "_thumb1200",
        _ => return (StatusCode::BAD_REQUEST, "invalid image name").into_response(),
    };
    let s = state.lock().unwrap_or_else(PoisonError::into_inner);
    if !s.covers.contains_key(&mbid) {
        return (
            StatusCode::NOT_FOUND,
            format!("No cover art found for release {mbid}"),
        )
            .into_response();
    }
    redirect(format!(
        "{}/download/mbid-{mbid}/mbid-{mbid}-1{suffix}.jpg",
        s.image_host
    ))
}

/// The image host: the listing and the images of each release's item.
async fn image(State(state): Shared, Path((item, file)): Path<(String, String)>) -> Response {
    let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(mbid) = item.strip_prefix("mbid-").map(str::to_owned) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(cover) = s.covers.get(&mbid).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if file == "index.json" {
        let base = format!("{}/download/{item}", s.image_host);
        return axum::Json(json!({
            "images": [{
                "types": ["Front"], "front": true, "back": false, "edit": 1, "approved": true,
                "comment": "", "id": 1,
                "image": format!("{base}/mbid-{mbid}-1.jpg"),
                "thumbnails": {
                    "250": format!("{base}/mbid-{mbid}-1_thumb250.jpg"),
                    "500": format!("{base}/mbid-{mbid}-1_thumb500.jpg"),
                    "1200": format!("{base}/mbid-{mbid}-1_thumb1200.jpg"),
                    "small": format!("{base}/mbid-{mbid}-1_thumb250.jpg"),
                    "large": format!("{base}/mbid-{mbid}-1_thumb500.jpg"),
                },
            }],
            "release": format!("https://musicbrainz.org/release/{mbid}"),
        }))
        .into_response();
    }
    let name = match file.rsplit_once("_thumb") {
        Some((_, size)) => format!("front-{}", size.trim_end_matches(".jpg")),
        None => "front".to_owned(),
    };
    s.served.push(name);
    ([(header::CONTENT_TYPE, cover.mime)], cover.bytes).into_response()
}
