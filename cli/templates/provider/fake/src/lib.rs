//! A fake of the service, on 127.0.0.1: the API the provider calls, kept in memory, plus
//! the control API the conformance suite fills it through (`/_harness/…`, described in
//! Tonearm's docs/conformance.md). Make it answer as your service does — its paging, its
//! errors — so the suite certifies the provider against what it will meet.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post, put};
use serde::Deserialize;
use sha2::Digest as _;
use {{crate_ident}}::api;

mod serve;

pub use serve::{Running, start, start_on};

#[derive(Default)]
struct Store {
    /// Files by id.
    files: BTreeMap<u64, (api::File, Arc<Vec<u8>>)>,
    next_id: u64,
    /// Every change, numbered from 1: a cursor is the number of the last one seen.
    log: Vec<api::Change>,
}

type Shared = Arc<Mutex<Store>>;

fn router() -> Router {
    Router::new()
        .route("/v1/files", get(list))
        .route("/v1/changes/start", get(start_cursor))
        .route("/v1/changes", get(changes))
        .route("/v1/content", get(content))
        .route("/_harness/reset", post(reset))
        .route("/_harness/files/{*path}", put(put_file).delete(delete_file))
        .route("/_harness/rename", post(rename))
        .with_state(Shared::default())
}

fn lock(store: &Shared) -> std::sync::MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(PoisonError::into_inner)
}

fn refuse(status: StatusCode, why: &str) -> Response {
    (status, why.to_owned()).into_response()
}

#[derive(Deserialize)]
struct Page {
    page_token: Option<String>,
    page_size: Option<usize>,
    cursor: Option<String>,
}

async fn list(State(store): State<Shared>, Query(page): Query<Page>) -> Response {
    let store = lock(&store);
    let size = page.page_size.unwrap_or(100).clamp(1, 1000);
    let Ok(start) = page.page_token.as_deref().unwrap_or("0").parse::<usize>() else {
        return refuse(StatusCode::BAD_REQUEST, "invalid page token");
    };
    let files: Vec<api::File> = store
        .files
        .values()
        .skip(start)
        .take(size)
        .map(|(f, _)| f.clone())
        .collect();
    let next = (start + files.len() < store.files.len()).then(|| (start + files.len()).to_string());
    Json(api::FileList {
        files,
        next_page_token: next,
    })
    .into_response()
}

async fn start_cursor(State(store): State<Shared>) -> Json<api::StartCursor> {
    Json(api::StartCursor {
        cursor: lock(&store).log.len().to_string(),
    })
}

async fn changes(State(store): State<Shared>, Query(page): Query<Page>) -> Response {
    let store = lock(&store);
    let size = page.page_size.unwrap_or(100).clamp(1, 1000);
    let cursor = page.cursor.as_deref().and_then(|c| c.parse::<usize>().ok());
    let Some(cursor) = cursor.filter(|c| *c <= store.log.len()) else {
        return refuse(StatusCode::GONE, "unknown or expired cursor");
    };
    let changes: Vec<api::Change> = store.log[cursor..].iter().take(size).cloned().collect();
    let next = cursor + changes.len();
    Json(api::ChangeList {
        changes,
        next_cursor: next.to_string(),
        has_more: next < store.log.len(),
    })
    .into_response()
}

#[derive(Deserialize)]
struct Id {
    id: String,
}

async fn content(
    State(store): State<Shared>,
    Query(Id { id }): Query<Id>,
    headers: HeaderMap,
) -> Response {
    let bytes = {
        let store = lock(&store);
        match id.parse::<u64>().ok().and_then(|id| store.files.get(&id)) {
            Some((_, bytes)) => bytes.clone(),
            None => return refuse(StatusCode::NOT_FOUND, "no such file"),
        }
    };
    let Some(range) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return (StatusCode::OK, bytes.to_vec()).into_response();
    };
    let len = bytes.len() as u64;
    let Some((start, end)) = parse_range(range, len) else {
        return refuse(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable");
    };
    let body = bytes[start as usize..=end as usize].to_vec();
    (
        StatusCode::PARTIAL_CONTENT,
        [(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"))],
        body,
    )
        .into_response()
}

/// The first and last byte `bytes=A-B` or `bytes=-N` asks for of `len` bytes (RFC 9110
/// §14.1.2); `None` if none of it exists.
fn parse_range(range: &str, len: u64) -> Option<(u64, u64)> {
    let (first, last) = range.strip_prefix("bytes=")?.split_once('-')?;
    let (start, end) = if first.is_empty() {
        let n: u64 = last.parse().ok()?;
        (len.saturating_sub(n), len.checked_sub(1)?)
    } else {
        let start: u64 = first.parse().ok()?;
        let end = if last.is_empty() {
            len.checked_sub(1)?
        } else {
            last.parse::<u64>().ok()?.min(len.checked_sub(1)?)
        };
        (start, end)
    };
    (start <= end && end < len).then_some((start, end))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

async fn reset(State(store): State<Shared>) -> StatusCode {
    *lock(&store) = Store::default();
    StatusCode::NO_CONTENT
}

fn id_at(store: &Store, path: &str) -> Option<u64> {
    store
        .files
        .iter()
        .find(|(_, (f, _))| f.path == path)
        .map(|(id, _)| *id)
}

async fn put_file(
    State(store): State<Shared>,
    Path(path): Path<String>,
    body: axum::body::Bytes,
) -> StatusCode {
    let mut store = lock(&store);
    let id = id_at(&store, &path).unwrap_or_else(|| {
        store.next_id += 1;
        store.next_id
    });
    let file = api::File {
        id: id.to_string(),
        path,
        size: body.len() as u64,
        modified_ms: now_ms(),
        sha256: format!("{:x}", sha2::Sha256::digest(&body)),
    };
    store.log.push(api::Change::Upsert { file: file.clone() });
    store.files.insert(id, (file, Arc::new(body.to_vec())));
    StatusCode::NO_CONTENT
}

async fn delete_file(State(store): State<Shared>, Path(path): Path<String>) -> Response {
    let mut store = lock(&store);
    let Some(id) = id_at(&store, &path) else {
        return refuse(StatusCode::NOT_FOUND, "no such file");
    };
    store.files.remove(&id);
    store.log.push(api::Change::Removed { id: id.to_string() });
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct Rename {
    from: String,
    to: String,
}

async fn rename(
    State(store): State<Shared>,
    Query(Rename { from, to }): Query<Rename>,
) -> Response {
    let mut store = lock(&store);
    let Some(id) = id_at(&store, &from) else {
        return refuse(StatusCode::NOT_FOUND, "no such file");
    };
    // A file already at the new path is replaced, as most drives do.
    if let Some(taken) = id_at(&store, &to) {
        store.files.remove(&taken);
        store.log.push(api::Change::Removed {
            id: taken.to_string(),
        });
    }
    let Some((file, _)) = store.files.get_mut(&id) else {
        return refuse(StatusCode::NOT_FOUND, "no such file");
    };
    file.path = to;
    file.modified_ms = now_ms();
    let file = file.clone();
    store.log.push(api::Change::Upsert { file });
    StatusCode::NO_CONTENT.into_response()
}
