//! A control port for fakes run as a separate process (`tonearm-fakes drive`), so that a
//! test in another language (the browser end-to-end test) can change what the service
//! does and read what it saw:
//!
//! - `POST /expire-access-tokens`: every access token issued so far expires now.
//! - `POST /latency?ms=N`: the Drive holds every answer back by `N` ms.
//! - `GET /refreshes`: successful refresh grants so far (a number).
//! - `GET /called-after-refresh`: `true` once a Drive request arrived after the latest
//!   refresh grant (the client has the new tokens and went on), else `false`.
//! - `POST /files?path=P`: the body becomes a new file at `/`-separated path `P` under My
//!   Drive (missing folders are made), as if uploaded elsewhere; answers its id.
//!
//! The metadata fakes' (`tonearm-fakes metadata`) control port has one route:
//!
//! - `GET /counts`: what each service saw, as JSON: `{"musicbrainz": {"requests",
//!   "throttled", "forbidden"}, "coverart": {"images"}, "lrclib": {"requests"}}`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};

use crate::Server;
use crate::drive::FakeDrive;
use crate::oauth::Authority;

#[derive(Clone)]
struct Fakes {
    authority: Authority,
    drive: Arc<FakeDrive>,
}

/// Starts the control port of `drive` and its `authority` on a free port.
///
/// # Errors
///
/// If no port can be bound.
pub fn start(authority: Authority, drive: Arc<FakeDrive>) -> std::io::Result<Server> {
    let router =
        Router::new()
            .route(
                "/expire-access-tokens",
                post(|State(f): State<Fakes>| async move {
                    f.authority.expire_access_tokens();
                    StatusCode::NO_CONTENT
                }),
            )
            .route(
                "/latency",
                post(
                    |State(f): State<Fakes>, Query(q): Query<HashMap<String, String>>| async move {
                        match q.get("ms").and_then(|ms| ms.parse::<u64>().ok()) {
                            Some(ms) => {
                                f.drive.set_latency(Duration::from_millis(ms));
                                StatusCode::NO_CONTENT
                            }
                            None => StatusCode::BAD_REQUEST,
                        }
                    },
                ),
            )
            .route(
                "/called-after-refresh",
                get(|State(f): State<Fakes>| async move {
                    let after = match (f.authority.last_refresh(), f.drive.last_arrival()) {
                        (Some(refresh), Some(arrival)) => arrival > refresh,
                        _ => false,
                    };
                    after.to_string()
                }),
            )
            .route(
                "/files",
                post(
                    |State(f): State<Fakes>,
                     Query(q): Query<HashMap<String, String>>,
                     body: Bytes| async move {
                        match q.get("path").filter(|p| !p.trim_matches('/').is_empty()) {
                            Some(path) => (StatusCode::CREATED, f.drive.add_file_at(path, &body)),
                            None => (StatusCode::BAD_REQUEST, "name the file: ?path=".to_owned()),
                        }
                    },
                ),
            )
            .route(
                "/refreshes",
                get(|State(f): State<Fakes>| async move { f.authority.refreshes().to_string() }),
            )
            .with_state(Fakes { authority, drive });
    Server::start(router, 0)
}

/// Starts the control port of the metadata fakes on a free port.
///
/// # Errors
///
/// If no port can be bound.
pub fn start_metadata(
    mb: Arc<crate::musicbrainz::FakeMusicBrainz>,
    caa: Arc<crate::coverart::FakeCoverArt>,
    lrclib: Arc<crate::lrclib::FakeLrclib>,
) -> std::io::Result<Server> {
    let router = Router::new().route(
        "/counts",
        get(move || {
            let counts = mb.counts();
            let body = serde_json::json!({
                "musicbrainz": {
                    "requests": counts.requests,
                    "throttled": counts.throttled,
                    "forbidden": counts.forbidden,
                },
                "coverart": { "images": caa.served().len() },
                "lrclib": { "requests": lrclib.requests() },
            });
            async move { body.to_string() }
        }),
    );
    Server::start(router, 0)
}
