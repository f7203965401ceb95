//! A fake Microsoft Graph (OneDrive): `root/delta` with `@odata.nextLink` and
//! `@odata.deltaLink`, `token=latest`, items repeated within a feed, `deleted` items
//! without name or size, `410 Gone` (`resyncRequired`) for a stale token; file content
//! through `items/{id}/content`, a `302` to a pre-authenticated URL on another origin that
//! expires and must be fetched without `Authorization`; `quickXorHash` on every file.

// Handlers bail out with the HTTP answer itself; its size does not matter in a fake server.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::oauth::Authority;
use crate::{Endpoint, Fault, Server};

#[derive(Debug, Clone)]
struct Item {
    id: String,
    name: String,
    parent: Option<String>,
    content: Option<Arc<[u8]>>,
    modified: SystemTime,
}

/// What the fake has served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GraphStats {
    /// Every API request.
    pub requests: u64,
    /// Delta pages served.
    pub delta_calls: u64,
    /// `/content` redirects served.
    pub redirects: u64,
    /// Downloads from pre-authenticated URLs.
    pub downloads: u64,
    /// Bytes downloaded.
    pub download_bytes: u64,
    /// Downloads refused because they carried an `Authorization` header.
    pub leaked_authorization: u64,
    /// Pre-authenticated URLs refused as expired.
    pub expired_urls: u64,
}

#[derive(Debug)]
struct GraphState {
    items: BTreeMap<String, Item>,
    /// (sequence, id, whether it was deleted) for every change; never collapsed.
    log: Vec<(u64, String, bool)>,
    seq: u64,
    next_id: u64,
    /// Delta tokens older than this sequence answer 410.
    oldest_token: u64,
    /// Download URLs issued before this instant are refused.
    revoked_before: SystemTime,
    url_lifetime: Duration,
    faults: crate::FaultPlan,
    page_limit: usize,
    stats: GraphStats,
    content_url: String,
}

#[derive(Clone)]
struct Shared {
    state: Arc<Mutex<GraphState>>,
    authority: Authority,
    base: Arc<Mutex<String>>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, GraphState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running fake Graph: the API server and the download server on another port.
pub struct FakeGraph {
    api: Server,
    content: Server,
    shared: Shared,
}

const ROOT: &str = "ROOT0FAKE";

impl FakeGraph {
    /// Starts one on free ports, accepting tokens from `authority`.
    pub fn start(authority: Authority) -> std::io::Result<Self> {
        let mut items = BTreeMap::new();
        items.insert(
            ROOT.to_owned(),
            Item {
                id: ROOT.into(),
                name: "root".into(),
                parent: None,
                content: None,
                modified: SystemTime::now(),
            },
        );
        let shared = Shared {
            state: Arc::new(Mutex::new(GraphState {
                items,
                log: Vec::new(),
                seq: 0,
                next_id: 0,
                oldest_token: 0,
                revoked_before: SystemTime::UNIX_EPOCH,
                url_lifetime: Duration::from_secs(3600),
                faults: crate::FaultPlan::default(),
                page_limit: 200,
                stats: GraphStats::default(),
                content_url: String::new(),
            })),
            authority,
            base: Arc::new(Mutex::new(String::new())),
        };
        let content = Server::start(
            Router::new()
                .route("/download/{key}", get(download))
                .with_state(shared.clone()),
            0,
        )?;
        let api = Server::start(
            Router::new()
                .route("/v1.0/me/drive/root/delta", get(delta))
                .route("/v1.0/me/drive/items/{id}/content", get(content_redirect))
                .route("/v1.0/me/drive/items/{id}/children", get(children))
                .with_state(shared.clone()),
            0,
        )?;
        *shared.base.lock().unwrap_or_else(PoisonError::into_inner) = api.url();
        shared.lock().content_url = content.url();
        Ok(Self {
            api,
            content,
            shared,
        })
    }

    /// The API base URL (what `https://graph.microsoft.com` is for the real service).
    pub fn url(&self) -> String {
        self.api.url()
    }

    /// The download server's base URL (a different origin, as SharePoint's is).
    pub fn content_url(&self) -> String {
        self.content.url()
    }

    fn insert(&self, parent: &str, name: &str, content: Option<&[u8]>) -> String {
        let mut s = self.shared.lock();
        s.next_id += 1;
        let id = format!("FAKE{:06}!{}", s.next_id, s.next_id % 97);
        s.items.insert(
            id.clone(),
            Item {
                id: id.clone(),
                name: name.to_owned(),
                parent: Some(parent.to_owned()),
                content: content.map(Arc::from),
                modified: SystemTime::now(),
            },
        );
        touch(&mut s, &id, false);
        id
    }

    /// The root folder's id.
    pub fn root_id(&self) -> String {
        ROOT.to_owned()
    }

    /// The id of the folder at a `/`-separated path, created if missing.
    pub fn folder_at(&self, path: &str) -> String {
        let mut parent = ROOT.to_owned();
        for name in path.split('/').filter(|p| !p.is_empty()) {
            let existing = self
                .shared
                .lock()
                .items
                .values()
                .find(|i| {
                    i.content.is_none()
                        && i.name == name
                        && i.parent.as_deref() == Some(parent.as_str())
                })
                .map(|i| i.id.clone());
            parent = existing.unwrap_or_else(|| self.insert(&parent, name, None));
        }
        parent
    }

    /// Adds a file at a `/`-separated path, creating folders; returns its id.
    pub fn add_file_at(&self, path: &str, bytes: &[u8]) -> String {
        let (folder, name) = path.rsplit_once('/').unwrap_or(("", path));
        let parent = self.folder_at(folder);
        self.insert(&parent, name, Some(bytes))
    }

    fn mutate(&self, id: &str, change: impl FnOnce(&mut Item)) -> bool {
        let mut s = self.shared.lock();
        let Some(item) = s.items.get_mut(id) else {
            return false;
        };
        change(item);
        item.modified = SystemTime::now();
        touch(&mut s, id, false);
        true
    }

    /// Replaces a file's content.
    pub fn update_content(&self, id: &str, bytes: &[u8]) -> bool {
        self.mutate(id, |i| i.content = Some(Arc::from(bytes)))
    }

    /// Renames an item.
    pub fn rename(&self, id: &str, name: &str) -> bool {
        self.mutate(id, |i| i.name = name.to_owned())
    }

    /// Moves an item under `parent`.
    pub fn move_to(&self, id: &str, parent: &str) -> bool {
        self.mutate(id, |i| i.parent = Some(parent.to_owned()))
    }

    /// Deletes a folder with everything in it, the delta feed reporting only the folder
    /// (OneDrive for Business and SharePoint may send no tombstone for the items in it).
    pub fn delete_folder_reporting_only_it(&self, id: &str) -> bool {
        self.remove_tree(id, false)
    }

    /// Deletes an item and everything under it (each reported as deleted, as Graph does).
    pub fn delete(&self, id: &str) -> bool {
        self.remove_tree(id, true)
    }

    /// Removes `id` and everything under it; the feed reports each item, or only `id`.
    fn remove_tree(&self, id: &str, report_each: bool) -> bool {
        let mut s = self.shared.lock();
        if !s.items.contains_key(id) {
            return false;
        }
        let mut doomed = vec![id.to_owned()];
        let mut i = 0;
        while i < doomed.len() {
            let parent = doomed[i].clone();
            doomed.extend(
                s.items
                    .values()
                    .filter(|c| c.parent.as_deref() == Some(parent.as_str()))
                    .map(|c| c.id.clone()),
            );
            i += 1;
        }
        // Children first, as Graph lists deletions.
        for gone in doomed.iter().rev() {
            s.items.remove(gone);
            if report_each || gone == id {
                touch(&mut s, gone, true);
            }
        }
        true
    }

    /// Makes every delta token issued so far answer `410 Gone` (as after the service's
    /// retention window).
    pub fn expire_delta_tokens(&self) {
        let mut s = self.shared.lock();
        s.oldest_token = s.seq + 1;
    }

    /// Makes pre-authenticated download URLs live `lifetime` from now on.
    pub fn set_download_url_lifetime(&self, lifetime: Duration) {
        self.shared.lock().url_lifetime = lifetime;
    }

    /// Makes every download URL handed out so far expire now.
    pub fn expire_download_urls(&self) {
        self.shared.lock().revoked_before = SystemTime::now();
    }

    /// Items per delta page at most (Graph picks page sizes itself; `$top` only caps).
    pub fn set_page_limit(&self, limit: usize) {
        self.shared.lock().page_limit = limit.max(1);
    }

    /// Answers the next request to `endpoint` with `fault`.
    pub fn inject(&self, endpoint: Endpoint, fault: Fault) {
        self.shared.lock().faults.push(endpoint, fault);
    }

    /// Serves faults on a schedule from now on (see [`Chaos`](crate::Chaos)).
    pub fn set_chaos(&self, chaos: crate::Chaos) {
        self.shared.lock().faults.set_chaos(chaos);
    }

    /// Faults not yet served.
    pub fn pending_faults(&self) -> usize {
        self.shared.lock().faults.pending()
    }

    /// Drops the faults not yet served: the service recovers.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// What has been served so far.
    pub fn stats(&self) -> GraphStats {
        self.shared.lock().stats
    }
}

fn touch(s: &mut GraphState, id: &str, deleted: bool) {
    s.seq += 1;
    let seq = s.seq;
    s.log.push((seq, id.to_owned(), deleted));
}

/// Microsoft's QuickXorHash of `data`, base64 as Graph reports it.
pub fn quick_xor_hash(data: &[u8]) -> String {
    const WIDTH_BITS: usize = 160;
    let mut block = [0u8; WIDTH_BITS / 8];
    for (i, byte) in data.iter().enumerate() {
        let bit = (i * 11) % WIDTH_BITS;
        let value = u16::from(*byte) << (bit % 8);
        let at = bit / 8;
        block[at] ^= value as u8;
        block[(at + 1) % block.len()] ^= (value >> 8) as u8;
    }
    let length = (data.len() as u64).to_le_bytes();
    for (k, b) in length.iter().enumerate() {
        block[WIDTH_BITS / 8 - 8 + k] ^= b;
    }
    base64::engine::general_purpose::STANDARD.encode(block)
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A pre-authenticated URL for `id` on the download origin: it carries its own issue time,
/// expiry and signature, as SharePoint's `tempauth` does.
fn download_url(s: &GraphState, id: &str) -> String {
    let issued = millis(SystemTime::now());
    let expires = issued + s.url_lifetime.as_millis() as u64;
    let key = encode(id);
    format!(
        "{}/download/{key}?tempauth={issued}.{expires}.{}",
        s.content_url,
        signature(&key, issued, expires)
    )
}

fn signature(key: &str, issued: u64, expires: u64) -> String {
    use md5::Digest as _;
    let digest = md5::Md5::digest(format!("fake-secret|{key}|{issued}|{expires}"));
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn item_json(s: &GraphState, item: &Item, _base: &str) -> Value {
    let mut v = json!({
        "id": item.id,
        "name": item.name,
        "lastModifiedDateTime": humantime::format_rfc3339_seconds(item.modified).to_string(),
        "parentReference": { "driveId": "fakedrive", "driveType": "personal" },
    });
    if let Some(parent) = &item.parent {
        v["parentReference"]["id"] = parent.clone().into();
    }
    match &item.content {
        Some(content) => {
            v["size"] = content.len().into();
            v["file"] = json!({
                "mimeType": "application/octet-stream",
                "hashes": { "quickXorHash": quick_xor_hash(content) },
            });
            v["@microsoft.graph.downloadUrl"] = download_url(s, &item.id).into();
        }
        None if item.id == ROOT => {
            v["root"] = json!({});
            v["folder"] = json!({ "childCount": 0 });
        }
        None => {
            let children = s
                .items
                .values()
                .filter(|c| c.parent.as_deref() == Some(item.id.as_str()))
                .count();
            v["folder"] = json!({ "childCount": children });
        }
    }
    v
}

/// Graph's error body: `{"error": {"code", "message"}}`.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

fn fault_response(fault: &Fault) -> Option<Response> {
    let with_retry = |status: StatusCode, code: &str, after: Option<u64>| {
        let mut r = error(status, code, "Please retry later.");
        if let Some(after) = after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(after));
        }
        r
    };
    Some(match fault {
        Fault::TooManyRequests(after) => with_retry(
            StatusCode::TOO_MANY_REQUESTS,
            "activityLimitReached",
            *after,
        ),
        Fault::Unavailable(after) => with_retry(
            StatusCode::SERVICE_UNAVAILABLE,
            "serviceNotAvailable",
            *after,
        ),
        Fault::RateLimitReason(code) => with_retry(StatusCode::TOO_MANY_REQUESTS, code, None),
        Fault::Unauthorized => error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token has expired or is not yet valid.",
        ),
        Fault::Garbage => (StatusCode::OK, "<html>Service Unavailable</html>").into_response(),
        Fault::EmptyPage | Fault::IncompleteSearch => return None,
    })
}

fn admit(
    shared: &Shared,
    headers: &HeaderMap,
    endpoint: Endpoint,
) -> Result<Option<Fault>, Response> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let ok = shared.authority.check(auth);
    let mut s = shared.lock();
    s.stats.requests += 1;
    if !ok {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token has expired or is not yet valid.",
        ));
    }
    let Some(fault) = s.faults.take(endpoint) else {
        return Ok(None);
    };
    match fault_response(&fault) {
        Some(r) => Err(r),
        None => Ok(Some(fault)),
    }
}

/// A delta page position: `e:<offset>` while enumerating, `c:<seq>:<offset>` for changes.
fn encode(position: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(position)
}

/// A link token for `position`, unique per page served (as Graph's are).
fn link_token(position: &str) -> String {
    static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    encode(&format!("{position}:{serial}"))
}

fn decode(token: &str) -> Option<String> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    String::from_utf8(raw).ok()
}

async fn delta(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let token = params.get("token").cloned();
    let endpoint = match token.as_deref() {
        None => Endpoint::List,
        Some("latest") => Endpoint::StartCursor,
        Some(t) if decode(t).is_some_and(|p| p.starts_with("e:")) => Endpoint::List,
        Some(_) => Endpoint::Changes,
    };
    let fault = match admit(&shared, &headers, endpoint) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let base = shared
        .base
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let link = |position: &str| {
        format!(
            "{base}/v1.0/me/drive/root/delta?token={}",
            link_token(position)
        )
    };
    let mut s = shared.lock();
    s.stats.delta_calls += 1;
    let top = params
        .get("$top")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(200)
        .clamp(1, 1000)
        .min(s.page_limit);
    let take = if fault == Some(Fault::EmptyPage) {
        0
    } else {
        top
    };
    let position = match token.as_deref() {
        None => "e:0".to_owned(),
        Some("latest") => {
            let body =
                json!({ "value": [], "@odata.deltaLink": link(&format!("c:{}:0", s.seq + 1)) });
            return Json(body).into_response();
        }
        Some(t) => match decode(t) {
            Some(p) => p,
            None => return error(StatusCode::BAD_REQUEST, "invalidRequest", "Invalid token."),
        },
    };
    let parts: Vec<&str> = position.split(':').collect();
    let (values, next): (Vec<Value>, Option<String>) = match parts.as_slice() {
        ["e", offset, ..] => {
            let offset: usize = offset.parse().unwrap_or(0);
            // Enumeration lists every item, in id order: a child may come before its
            // parent, as Graph allows.
            let all: Vec<&Item> = s.items.values().collect();
            let page: Vec<Value> = all
                .iter()
                .skip(offset)
                .take(take)
                .map(|i| item_json(&s, i, &base))
                .collect();
            let end = offset + take;
            (page, (end < all.len()).then(|| format!("e:{end}")))
        }
        ["c", from, offset, ..] => {
            let from: u64 = from.parse().unwrap_or(0);
            if from < s.oldest_token {
                return error(
                    StatusCode::GONE,
                    "resyncRequired",
                    "Resync required. Replace any local items with the server's version.",
                );
            }
            let offset: usize = offset.parse().unwrap_or(0);
            // Every change since the token, not collapsed: an item changed twice is sent
            // twice, and the client keeps the last.
            let changes: Vec<&(u64, String, bool)> =
                s.log.iter().filter(|(seq, _, _)| *seq >= from).collect();
            let page: Vec<Value> = changes
                .iter()
                .skip(offset)
                .take(take)
                .map(|(_, id, deleted)| match (s.items.get(id), deleted) {
                    (Some(item), false) => item_json(&s, item, &base),
                    // Deleted (or since deleted): no name, no size.
                    _ => json!({
                        "id": id,
                        "deleted": { "state": "deleted" },
                        "parentReference": { "driveId": "fakedrive", "id": ROOT },
                    }),
                })
                .collect();
            let end = offset + take;
            (
                page,
                (end < changes.len()).then(|| format!("c:{from}:{end}")),
            )
        }
        _ => return error(StatusCode::BAD_REQUEST, "invalidRequest", "Invalid token."),
    };
    let mut body = json!({ "value": values });
    match next {
        Some(p) => body["@odata.nextLink"] = link(&p).into(),
        None => body["@odata.deltaLink"] = link(&format!("c:{}:0", s.seq + 1)).into(),
    }
    Json(body).into_response()
}

async fn children(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = admit(&shared, &headers, Endpoint::List) {
        return r;
    }
    let base = shared
        .base
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let s = shared.lock();
    if !s.items.contains_key(&id) {
        return error(
            StatusCode::NOT_FOUND,
            "itemNotFound",
            "The resource could not be found.",
        );
    }
    let top = params
        .get("$top")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(200)
        .clamp(1, 1000)
        .min(s.page_limit);
    let skip: usize = params
        .get("$skiptoken")
        .and_then(|t| decode(t))
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let all: Vec<&Item> = s
        .items
        .values()
        .filter(|i| i.parent.as_deref() == Some(id.as_str()))
        .collect();
    let values: Vec<Value> = all
        .iter()
        .skip(skip)
        .take(top)
        .map(|i| item_json(&s, i, &base))
        .collect();
    let mut body = json!({ "value": values });
    if skip + top < all.len() {
        body["@odata.nextLink"] = format!(
            "{base}/v1.0/me/drive/items/{id}/children?$top={top}&$skiptoken={}",
            encode(&(skip + top).to_string())
        )
        .into();
    }
    Json(body).into_response()
}

async fn content_redirect(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = admit(&shared, &headers, Endpoint::Content) {
        return r;
    }
    let mut s = shared.lock();
    match s.items.get(&id) {
        Some(item) if item.content.is_some() => {}
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalidRequest",
                "Folders have no content.",
            );
        }
        None => {
            return error(
                StatusCode::NOT_FOUND,
                "itemNotFound",
                "The resource could not be found.",
            );
        }
    }
    s.stats.redirects += 1;
    let location = download_url(&s, &id);
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

async fn download(
    State(shared): State<Shared>,
    Path(key): Path<String>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let mut s = shared.lock();
    if headers.contains_key(header::AUTHORIZATION) {
        // Pre-authenticated URLs must not be sent a bearer token.
        s.stats.leaked_authorization += 1;
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Unexpected Authorization header.",
        );
    }
    let parsed = params.get("tempauth").and_then(|t| {
        let mut parts = t.split('.');
        let issued: u64 = parts.next()?.parse().ok()?;
        let expires: u64 = parts.next()?.parse().ok()?;
        (parts.next()? == signature(&key, issued, expires)).then_some((issued, expires))
    });
    let (Some((issued, expires)), Some(id)) = (parsed, decode(&key)) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Invalid tempauth.",
        );
    };
    if millis(SystemTime::now()) >= expires || issued < millis(s.revoked_before) {
        s.stats.expired_urls += 1;
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "The download URL has expired.",
        );
    }
    let Some(content) = s.items.get(&id).and_then(|i| i.content.clone()) else {
        return error(StatusCode::NOT_FOUND, "itemNotFound", "The item is gone.");
    };
    // The download host fails as the API does (its own outages, throttling).
    if let Some(r) = s
        .faults
        .take(Endpoint::Content)
        .and_then(|f| fault_response(&f))
    {
        return r;
    }
    s.stats.downloads += 1;
    let len = content.len() as u64;
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let Some(range) = range else {
        s.stats.download_bytes += len;
        return (StatusCode::OK, content.to_vec()).into_response();
    };
    match crate::drive::parse_range(range, len) {
        Some((start, end)) => {
            s.stats.download_bytes += end - start + 1;
            (
                StatusCode::PARTIAL_CONTENT,
                [(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"))],
                content[start as usize..=end as usize].to_vec(),
            )
                .into_response()
        }
        None => (
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(header::CONTENT_RANGE, format!("bytes */{len}"))],
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_xor_hash_matches_microsofts() {
        let expected = base64::engine::general_purpose::STANDARD.encode([
            104u8, 40, 3, 27, 216, 240, 6, 16, 220, 225, 13, 114, 107, 3, 25, 0, 0, 0, 0, 0,
        ]);
        assert_eq!(quick_xor_hash(b"hello world"), expected);
        assert_eq!(quick_xor_hash(b""), "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    }
}
