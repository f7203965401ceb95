//! A fake Google Drive v3: `files.list` (with `q`, `fields`, `pageSize`, `pageToken`,
//! `corpora`, `driveId`, `supportsAllDrives`, `includeItemsFromAllDrives`), `files.get`
//! (metadata, and `alt=media` with `Range`), `changes.getStartPageToken` and
//! `changes.list`, behind bearer tokens from an [`Authority`](crate::oauth::Authority).
//!
//! Like the real service it returns only the fields asked for (without `fields`, just
//! `id`, `name` and `mimeType`), gives sizes as strings, has no size or `md5Checksum` for
//! Google Docs, folders and shortcuts, reports a file changed several times once (its
//! latest state), answers a `Range` on an empty file with 416, and explains errors with a
//! `reason`.

// Handlers bail out with the HTTP answer itself; its size does not matter in a fake server.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use md5::Digest as _;
use serde_json::{Value, json};

use crate::oauth::Authority;
use crate::{Endpoint, Fault, Server};

/// Google's MIME type for folders.
pub const FOLDER: &str = "application/vnd.google-apps.folder";
/// Google's MIME type for shortcuts.
pub const SHORTCUT: &str = "application/vnd.google-apps.shortcut";
/// Google's MIME type for Docs documents.
pub const DOCUMENT: &str = "application/vnd.google-apps.document";

#[derive(Debug, Clone)]
struct File {
    id: String,
    name: String,
    mime: String,
    parents: Vec<String>,
    content: Option<Arc<[u8]>>,
    md5: Option<String>,
    modified: SystemTime,
    trashed: bool,
    shortcut_target: Option<(String, String)>,
    drive_id: Option<String>,
}

/// What the fake has served, for tests and benchmarks to check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriveStats {
    /// Every request, answered or refused.
    pub requests: u64,
    /// `files.list` calls answered.
    pub list_calls: u64,
    /// `changes.list` calls answered.
    pub changes_calls: u64,
    /// Content requests answered.
    pub media_calls: u64,
    /// Content bytes sent.
    pub media_bytes: u64,
    /// Requests refused for a missing or dead token.
    pub unauthorized: u64,
    /// Faults injected.
    pub faults: u64,
}

#[derive(Debug)]
struct DriveState {
    files: BTreeMap<String, File>,
    /// (sequence number, file id) for every change, oldest first.
    log: Vec<(u64, String)>,
    /// Shared drive id → name.
    drives: BTreeMap<String, String>,
    seq: u64,
    next_id: u64,
    root: String,
    faults: crate::FaultPlan,
    page_limit: Option<usize>,
    stats: DriveStats,
    /// (parent, name) → folder id, for building large trees quickly.
    folder_index: HashMap<(String, String), String>,
}

impl DriveState {
    fn new_id(&mut self) -> String {
        self.next_id += 1;
        // Real ids are 33 URL-safe characters; the length does not matter to clients.
        format!("1fake{:08}x{}", self.next_id, self.next_id % 7)
    }

    fn touch(&mut self, id: &str) {
        self.seq += 1;
        self.log.push((self.seq, id.to_owned()));
    }

    fn take_fault(&mut self, endpoint: Endpoint) -> Option<Fault> {
        let fault = self.faults.take(endpoint)?;
        self.stats.faults += 1;
        Some(fault)
    }
}

#[derive(Clone)]
struct Shared {
    state: Arc<Mutex<DriveState>>,
    authority: Authority,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, DriveState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running fake Drive.
pub struct FakeDrive {
    server: Server,
    shared: Shared,
}

impl FakeDrive {
    /// Starts one on a free port, accepting tokens from `authority`.
    pub fn start(authority: Authority) -> std::io::Result<Self> {
        Self::start_on(authority, 0)
    }

    /// Starts one on `port` (0 for any).
    pub fn start_on(authority: Authority, port: u16) -> std::io::Result<Self> {
        let root = "0AFakeRootFolderUk9PVA".to_owned();
        let mut files = BTreeMap::new();
        files.insert(
            root.clone(),
            File {
                id: root.clone(),
                name: "My Drive".into(),
                mime: FOLDER.into(),
                parents: vec![],
                content: None,
                md5: None,
                modified: SystemTime::now(),
                trashed: false,
                shortcut_target: None,
                drive_id: None,
            },
        );
        let shared = Shared {
            state: Arc::new(Mutex::new(DriveState {
                files,
                log: Vec::new(),
                drives: BTreeMap::new(),
                seq: 0,
                next_id: 0,
                root,
                faults: crate::FaultPlan::default(),
                page_limit: None,
                stats: DriveStats::default(),
                folder_index: HashMap::new(),
            })),
            authority,
        };
        let router = Router::new()
            .route("/drive/v3/files", get(files_list))
            .route("/drive/v3/files/{id}", get(files_get))
            .route("/drive/v3/changes/startPageToken", get(start_page_token))
            .route("/drive/v3/changes", get(changes_list))
            .with_state(shared.clone());
        Ok(Self {
            server: Server::start(router, port)?,
            shared,
        })
    }

    /// The API base URL (what `https://www.googleapis.com` is for the real service).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The id of My Drive's root folder (what the alias `root` stands for).
    pub fn root_id(&self) -> String {
        self.shared.lock().root.clone()
    }

    fn insert(&self, parent: &str, name: &str, mime: &str, content: Option<&[u8]>) -> String {
        let content = content.map(SharedContent::new);
        self.insert_shared(parent, name, mime, content.as_ref())
    }

    fn insert_shared(
        &self,
        parent: &str,
        name: &str,
        mime: &str,
        content: Option<&SharedContent>,
    ) -> String {
        let mut s = self.shared.lock();
        let id = s.new_id();
        let drive_id = s.files.get(parent).and_then(|p| p.drive_id.clone());
        if mime == FOLDER {
            s.folder_index
                .insert((parent.to_owned(), name.to_owned()), id.clone());
        }
        s.files.insert(
            id.clone(),
            File {
                id: id.clone(),
                name: name.to_owned(),
                mime: mime.to_owned(),
                parents: vec![parent.to_owned()],
                md5: content.map(|c| c.md5.clone()),
                content: content.map(|c| c.bytes.clone()),
                modified: SystemTime::now(),
                trashed: false,
                shortcut_target: None,
                drive_id,
            },
        );
        s.touch(&id);
        id
    }

    /// Adds a folder under `parent`; returns its id.
    pub fn add_folder(&self, parent: &str, name: &str) -> String {
        self.insert(parent, name, FOLDER, None)
    }

    /// Adds a file with `bytes` under `parent`; returns its id. Names may repeat in a
    /// folder, as Drive allows.
    pub fn add_file(&self, parent: &str, name: &str, bytes: &[u8]) -> String {
        let mime = mime_for(name);
        self.insert(parent, name, mime, Some(bytes))
    }

    /// Adds a file whose content other files share (large fakes without the memory).
    pub fn add_shared_file_at(&self, path: &str, content: &SharedContent) -> String {
        let (folder, name) = path.rsplit_once('/').unwrap_or(("", path));
        let parent = self.folder_at(folder);
        self.insert_shared(&parent, name, mime_for(name), Some(content))
    }

    /// Adds a file at a `/`-separated path under My Drive, creating missing folders.
    pub fn add_file_at(&self, path: &str, bytes: &[u8]) -> String {
        let (folder, name) = path.rsplit_once('/').unwrap_or(("", path));
        let parent = self.folder_at(folder);
        self.add_file(&parent, name, bytes)
    }

    /// The id of the folder at a `/`-separated path under My Drive, created if missing.
    pub fn folder_at(&self, path: &str) -> String {
        let mut parent = self.root_id();
        for folder in path.split('/').filter(|p| !p.is_empty()) {
            let existing = {
                let s = self.shared.lock();
                // The index may be stale (renamed, moved, trashed): check what it says.
                s.folder_index
                    .get(&(parent.clone(), folder.to_owned()))
                    .filter(|id| {
                        s.files.get(*id).is_some_and(|f| {
                            !f.trashed && f.name == folder && f.parents == [parent.clone()]
                        })
                    })
                    .cloned()
            };
            parent = existing.unwrap_or_else(|| self.add_folder(&parent, folder));
        }
        parent
    }

    /// Adds a Google Docs document (no content to download, no size, no checksum).
    pub fn add_google_doc(&self, parent: &str, name: &str) -> String {
        self.insert(parent, name, DOCUMENT, None)
    }

    /// Adds a shortcut to `target` under `parent`.
    pub fn add_shortcut(&self, parent: &str, name: &str, target: &str) -> String {
        let id = self.insert(parent, name, SHORTCUT, None);
        let mut s = self.shared.lock();
        let target_mime = s
            .files
            .get(target)
            .map(|f| f.mime.clone())
            .unwrap_or_default();
        if let Some(f) = s.files.get_mut(&id) {
            f.shortcut_target = Some((target.to_owned(), target_mime));
        }
        id
    }

    /// Adds a shared drive; returns its id, which is also its root folder's id.
    pub fn add_shared_drive(&self, name: &str) -> String {
        let mut s = self.shared.lock();
        let id = format!("0AShared{:04}", s.drives.len() + 1);
        s.drives.insert(id.clone(), name.to_owned());
        s.files.insert(
            id.clone(),
            File {
                id: id.clone(),
                name: name.to_owned(),
                mime: FOLDER.into(),
                parents: vec![],
                content: None,
                md5: None,
                modified: SystemTime::now(),
                trashed: false,
                shortcut_target: None,
                drive_id: Some(id.clone()),
            },
        );
        id
    }

    fn mutate(&self, id: &str, change: impl FnOnce(&mut File)) -> bool {
        let mut s = self.shared.lock();
        let Some(file) = s.files.get_mut(id) else {
            return false;
        };
        change(file);
        file.modified = SystemTime::now();
        if file.mime == FOLDER
            && let Some(parent) = file.parents.first()
        {
            let key = (parent.clone(), file.name.clone());
            s.folder_index.insert(key, id.to_owned());
        }
        s.touch(id);
        true
    }

    /// Replaces a file's content; returns whether it exists.
    pub fn update_content(&self, id: &str, bytes: &[u8]) -> bool {
        self.mutate(id, |f| {
            f.md5 = Some(md5_hex(bytes));
            f.content = Some(Arc::from(bytes));
        })
    }

    /// Renames a file or folder.
    pub fn rename(&self, id: &str, name: &str) -> bool {
        self.mutate(id, |f| f.name = name.to_owned())
    }

    /// Moves a file or folder under `parent`.
    pub fn move_to(&self, id: &str, parent: &str) -> bool {
        self.mutate(id, |f| f.parents = vec![parent.to_owned()])
    }

    /// Moves a file to the trash (it is still listed, with `trashed: true`).
    pub fn trash(&self, id: &str) -> bool {
        self.mutate(id, |f| f.trashed = true)
    }

    /// Deletes a file for good (changes report it as `removed`).
    pub fn delete(&self, id: &str) -> bool {
        let mut s = self.shared.lock();
        if s.files.remove(id).is_none() {
            return false;
        }
        s.touch(id);
        true
    }

    /// Deletes a folder for good with everything in it, the change feed reporting only the
    /// folder: what Drive reports for the files of a deleted folder is not documented, so
    /// the fake does the least.
    pub fn delete_folder_reporting_only_it(&self, id: &str) -> bool {
        let mut s = self.shared.lock();
        if !s.files.contains_key(id) {
            return false;
        }
        let mut doomed = vec![id.to_owned()];
        let mut i = 0;
        while i < doomed.len() {
            let parent = doomed[i].clone();
            doomed.extend(
                s.files
                    .values()
                    .filter(|f| f.parents.contains(&parent))
                    .map(|f| f.id.clone()),
            );
            i += 1;
        }
        for gone in &doomed {
            s.files.remove(gone);
        }
        s.folder_index.retain(|_, folder| !doomed.contains(folder));
        s.touch(id);
        true
    }

    /// Answers the next request to `endpoint` with `fault` (faults queue up in order).
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

    /// Delays every answer by `wait`, as the real service's round trip does.
    pub fn set_latency(&self, wait: std::time::Duration) {
        self.server.set_latency(wait);
    }

    /// When the latest API request arrived (before its latency), if any did.
    pub fn last_arrival(&self) -> Option<std::time::Instant> {
        self.server.last_arrival()
    }

    /// Caps every listing page at `limit` items whatever `pageSize` asks (Drive may return
    /// fewer items than asked, even none, before the end).
    pub fn set_page_limit(&self, limit: Option<usize>) {
        self.shared.lock().page_limit = limit;
    }

    /// What has been served so far.
    pub fn stats(&self) -> DriveStats {
        self.shared.lock().stats
    }

    /// The number of files that are not folders.
    pub fn file_count(&self) -> usize {
        self.shared
            .lock()
            .files
            .values()
            .filter(|f| f.mime != FOLDER)
            .count()
    }
}

/// File content with its checksum, shareable by many fake files.
#[derive(Debug, Clone)]
pub struct SharedContent {
    bytes: Arc<[u8]>,
    md5: String,
}

impl SharedContent {
    /// Content of `bytes`.
    pub fn new(bytes: &[u8]) -> Self {
        Self {
            bytes: Arc::from(bytes),
            md5: md5_hex(bytes),
        }
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

fn md5_hex(bytes: &[u8]) -> String {
    md5::Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn mime_for(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("mp3") => "audio/mpeg",
        Some("flac") => "audio/flac",
        Some("ogg" | "oga") => "audio/ogg",
        Some("opus") => "audio/opus",
        Some("m4a" | "mp4") => "audio/mp4",
        Some("wav") => "audio/wav",
        Some("aiff" | "aif") => "audio/aiff",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("txt") => "text/plain",
        _ => "application/octet-stream",
    }
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

fn file_json(f: &File) -> Value {
    let mut v = json!({
        "kind": "drive#file",
        "id": f.id,
        "name": f.name,
        "mimeType": f.mime,
        "parents": f.parents,
        "modifiedTime": rfc3339(f.modified),
        "trashed": f.trashed,
    });
    if let Some(content) = &f.content {
        v["size"] = content.len().to_string().into();
    }
    if let Some(md5) = &f.md5 {
        v["md5Checksum"] = md5.clone().into();
    }
    if let Some(drive) = &f.drive_id {
        v["driveId"] = drive.clone().into();
    }
    if let Some((target, mime)) = &f.shortcut_target {
        v["shortcutDetails"] = json!({ "targetId": target, "targetMimeType": mime });
    }
    v
}

/// Drive's error body: `{"error": {"code", "message", "errors": [{"reason", …}]}}`.
fn error(status: StatusCode, reason: &str, message: &str) -> Response {
    let body = json!({
        "error": {
            "code": status.as_u16(),
            "message": message,
            "errors": [{ "domain": "global", "reason": reason, "message": message }],
        }
    });
    (status, Json(body)).into_response()
}

fn invalid(location: &str, message: &str) -> Response {
    let body = json!({
        "error": {
            "code": 400,
            "message": message,
            "errors": [{
                "domain": "global", "reason": "invalid", "message": message,
                "locationType": "parameter", "location": location,
            }],
        }
    });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

fn fault_response(fault: Fault) -> Option<Response> {
    let retry = |status: StatusCode, after: Option<u64>, reason: &str| {
        let mut r = error(status, reason, "try again later");
        if let Some(after) = after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(after));
        }
        r
    };
    Some(match fault {
        Fault::RateLimitReason(reason) => error(
            StatusCode::FORBIDDEN,
            &reason,
            "User Rate Limit Exceeded. Rate of requests for user exceed configured project quota.",
        ),
        Fault::TooManyRequests(after) => {
            retry(StatusCode::TOO_MANY_REQUESTS, after, "rateLimitExceeded")
        }
        Fault::Unavailable(after) => retry(StatusCode::SERVICE_UNAVAILABLE, after, "backendError"),
        Fault::Unauthorized => unauthorized(),
        Fault::Garbage => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "<html><body>Bad gateway</body></html>",
        )
            .into_response(),
        Fault::EmptyPage | Fault::IncompleteSearch => return None,
    })
}

fn unauthorized() -> Response {
    let mut r = error(
        StatusCode::UNAUTHORIZED,
        "authError",
        "Request had invalid authentication credentials.",
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"https://accounts.google.com/\""),
    );
    r
}

/// Counts the request, checks the token and serves a queued fault; `Err` is the answer.
fn admit(
    shared: &Shared,
    headers: &HeaderMap,
    endpoint: Endpoint,
) -> Result<Option<Fault>, Response> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let authorized = shared.authority.check(authorization);
    let mut s = shared.lock();
    s.stats.requests += 1;
    if !authorized {
        s.stats.unauthorized += 1;
        return Err(unauthorized());
    }
    match s.take_fault(endpoint) {
        Some(fault) => match fault_response(fault.clone()) {
            Some(response) => Err(response),
            None => Ok(Some(fault)),
        },
        None => Ok(None),
    }
}

type Params = Query<HashMap<String, String>>;

fn flag(params: &HashMap<String, String>, name: &str) -> bool {
    params.get(name).is_some_and(|v| v == "true")
}

/// Which drive a request covers, checked as the real API checks its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    MyDrive,
    Shared(String),
    All,
}

fn scope(params: &HashMap<String, String>) -> Result<Scope, Response> {
    let all_drives = flag(params, "includeItemsFromAllDrives");
    if all_drives && !flag(params, "supportsAllDrives") {
        return Err(invalid(
            "includeItemsFromAllDrives",
            "The includeItemsFromAllDrives parameter can only be set to true when supportsAllDrives is also set to true.",
        ));
    }
    let corpora = params.get("corpora").map(String::as_str);
    match (params.get("driveId"), corpora) {
        (Some(drive), Some("drive") | None) if all_drives => Ok(Scope::Shared(drive.clone())),
        (Some(_), _) => Err(invalid(
            "driveId",
            "The driveId parameter requires corpora=drive and includeItemsFromAllDrives=true.",
        )),
        (None, Some("drive")) => Err(invalid("corpora", "corpora=drive requires driveId.")),
        (None, Some("allDrives")) if all_drives => Ok(Scope::All),
        (None, Some("allDrives")) => Err(invalid(
            "corpora",
            "corpora=allDrives requires includeItemsFromAllDrives=true.",
        )),
        (None, Some("user") | None) => Ok(Scope::MyDrive),
        (None, Some(other)) => Err(invalid("corpora", &format!("Invalid corpora: {other}"))),
    }
}

fn in_scope(f: &File, scope: &Scope) -> bool {
    match scope {
        Scope::MyDrive => f.drive_id.is_none(),
        Scope::Shared(d) => f.drive_id.as_deref() == Some(d.as_str()),
        Scope::All => true,
    }
}

fn page_size(params: &HashMap<String, String>, default: usize) -> Result<usize, Response> {
    match params.get("pageSize") {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n @ 1..=1000) => Ok(n),
            _ => Err(invalid(
                "pageSize",
                &format!("Invalid value '{v}'. Values must be within the range: [1, 1000]"),
            )),
        },
    }
}

/// One clause of the small `q` language subset clients use.
enum Clause {
    Trashed(bool),
    MimeIs(String, bool),
    InParents(String),
    NameIs(String),
}

fn parse_query(q: &str) -> Result<Vec<Clause>, String> {
    let mut clauses = Vec::new();
    for raw in split_and(q) {
        let c = raw.trim();
        let quoted = |s: &str| -> Option<String> {
            let s = s.trim();
            let inner = s.strip_prefix('\'')?.strip_suffix('\'')?;
            Some(inner.replace("\\'", "'"))
        };
        let clause = if let Some(rest) = c.strip_prefix("trashed") {
            match rest.trim().strip_prefix('=').map(str::trim) {
                Some("true") => Clause::Trashed(true),
                Some("false") => Clause::Trashed(false),
                _ => return Err(format!("bad clause: {c}")),
            }
        } else if let Some(rest) = c.strip_prefix("mimeType") {
            let rest = rest.trim();
            if let Some(v) = rest.strip_prefix("!=") {
                Clause::MimeIs(quoted(v).ok_or(format!("bad clause: {c}"))?, false)
            } else if let Some(v) = rest.strip_prefix('=') {
                Clause::MimeIs(quoted(v).ok_or(format!("bad clause: {c}"))?, true)
            } else {
                return Err(format!("bad clause: {c}"));
            }
        } else if let Some(id) = c.strip_suffix("in parents") {
            Clause::InParents(quoted(id).ok_or(format!("bad clause: {c}"))?)
        } else if let Some(rest) = c.strip_prefix("name") {
            let v = rest
                .trim()
                .strip_prefix('=')
                .ok_or(format!("bad clause: {c}"))?;
            Clause::NameIs(quoted(v).ok_or(format!("bad clause: {c}"))?)
        } else {
            return Err(format!("unsupported clause: {c}"));
        };
        clauses.push(clause);
    }
    Ok(clauses)
}

/// Splits on ` and ` outside quotes.
fn split_and(q: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut quoted = false;
    let mut rest = q;
    while let Some(c) = rest.chars().next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if !quoted && rest.len() >= 5 && rest[..5].eq_ignore_ascii_case(" and ") {
            parts.push(String::new());
            rest = &rest[5..];
            continue;
        }
        if let Some(last) = parts.last_mut() {
            last.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

fn matches(f: &File, clauses: &[Clause], root: &str) -> bool {
    clauses.iter().all(|c| match c {
        Clause::Trashed(t) => f.trashed == *t,
        Clause::MimeIs(m, eq) => (f.mime == *m) == *eq,
        Clause::InParents(p) => {
            let p = if p == "root" { root } else { p.as_str() };
            f.parents.iter().any(|x| x == p)
        }
        Clause::NameIs(n) => f.name == *n,
    })
}

/// A parsed `fields` selector: names, each with an optional nested selector.
#[derive(Debug, Clone)]
enum Fields {
    All,
    Some(Vec<(String, Option<Fields>)>),
}

fn parse_fields(s: &str) -> Fields {
    fn parse(
        chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    ) -> Vec<(String, Option<Fields>)> {
        let mut out = Vec::new();
        let mut name = String::new();
        while let Some(c) = chars.next() {
            match c {
                '(' => {
                    let inner = parse(chars);
                    let sub = if inner.iter().any(|(n, _)| n == "*") {
                        Fields::All
                    } else {
                        Fields::Some(inner)
                    };
                    out.push((std::mem::take(&mut name).trim().to_owned(), Some(sub)));
                }
                ')' => break,
                ',' => {
                    if !name.trim().is_empty() {
                        out.push((std::mem::take(&mut name).trim().to_owned(), None));
                    }
                    name.clear();
                }
                c => name.push(c),
            }
        }
        if !name.trim().is_empty() {
            out.push((name.trim().to_owned(), None));
        }
        // `a/b` is shorthand for `a(b)`.
        out.into_iter()
            .map(|(n, sub)| match n.split_once('/') {
                Some((head, tail)) => (
                    head.to_owned(),
                    Some(Fields::Some(vec![(tail.to_owned(), sub)])),
                ),
                None => (n, sub),
            })
            .collect()
    }
    if s.trim() == "*" {
        return Fields::All;
    }
    Fields::Some(parse(&mut s.chars().peekable()))
}

fn select(value: &Value, fields: &Fields) -> Value {
    let Fields::Some(names) = fields else {
        return value.clone();
    };
    match value {
        Value::Array(items) => Value::Array(items.iter().map(|v| select(v, fields)).collect()),
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (name, sub) in names {
                if let Some(v) = map.get(name) {
                    let v = match sub {
                        Some(sub) => select(v, sub),
                        None => v.clone(),
                    };
                    out.insert(name.clone(), v);
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

fn fields_or(params: &HashMap<String, String>, default: &str) -> Fields {
    parse_fields(params.get("fields").map_or(default, String::as_str))
}

const LIST_DEFAULT: &str = "kind,incompleteSearch,nextPageToken,files(kind,id,name,mimeType)";
const FILE_DEFAULT: &str = "kind,id,name,mimeType";
const CHANGES_DEFAULT: &str = "kind,nextPageToken,newStartPageToken,changes(kind,changeType,time,removed,fileId,file(kind,id,name,mimeType))";

/// A change page token: the sequence number to go on from, made unique per page served.
fn change_token(seq: u64) -> String {
    static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{seq}~{serial}")
}

/// An opaque page token; like Drive's, a new one for every page served, even for the
/// same position (an empty page's token is not the one it was asked with).
fn encode_token(kind: &str, position: u64, query: &str) -> String {
    static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let check = md5_hex(query.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{kind}:{position}:{}:{serial}", &check[..8]))
}

fn decode_token(kind: &str, token: &str, query: &str) -> Option<u64> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let mut parts = raw.splitn(4, ':');
    let (k, pos, check) = (parts.next()?, parts.next()?, parts.next()?);
    (k == kind && check == &md5_hex(query.as_bytes())[..8])
        .then(|| pos.parse().ok())
        .flatten()
}

async fn files_list(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(params): Params,
) -> Response {
    let fault = match admit(&shared, &headers, Endpoint::List) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let scope = match scope(&params) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let size = match page_size(&params, 100) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let q = params.get("q").cloned().unwrap_or_default();
    let clauses = match parse_query(&q) {
        Ok(c) => c,
        Err(why) => return invalid("q", &format!("Invalid Value: {why}")),
    };
    // The page token is bound to the query it was made for, as Drive's are.
    let binding = format!("{q}|{scope:?}");
    let offset = match params.get("pageToken") {
        None => 0,
        Some(t) => match decode_token("list", t, &binding) {
            Some(o) => o as usize,
            None => return invalid("pageToken", "Invalid Value"),
        },
    };
    let mut s = shared.lock();
    s.stats.list_calls += 1;
    let size = s.page_limit.map_or(size, |l| size.min(l));
    let root = s.root.clone();
    // Drive answers a query on the children of a folder that does not exist with 404.
    for clause in &clauses {
        if let Clause::InParents(parent) = clause
            && parent != "root"
            && !s.files.contains_key(parent)
            && !s.drives.contains_key(parent)
        {
            return error(
                StatusCode::NOT_FOUND,
                "notFound",
                &format!("File not found: {parent}."),
            );
        }
    }
    let all: Vec<&File> = s
        .files
        .values()
        .filter(|f| f.id != root && !s.drives.contains_key(&f.id))
        .filter(|f| in_scope(f, &scope) && matches(f, &clauses, &root))
        .collect();
    let (take, incomplete) = match fault {
        Some(Fault::EmptyPage) => (0, false),
        Some(Fault::IncompleteSearch) => (size, true),
        _ => (size, false),
    };
    let page: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(take)
        .map(|f| file_json(f))
        .collect();
    let end = offset + take;
    let mut body = json!({
        "kind": "drive#fileList",
        "incompleteSearch": incomplete,
        "files": page,
    });
    if end < all.len() || (take == 0 && offset < all.len()) {
        body["nextPageToken"] = encode_token("list", end as u64, &binding).into();
    }
    drop(s);
    Json(select(&body, &fields_or(&params, LIST_DEFAULT))).into_response()
}

async fn files_get(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(params): Params,
) -> Response {
    let media = params.get("alt").is_some_and(|a| a == "media");
    let endpoint = if media {
        Endpoint::Content
    } else {
        Endpoint::Any
    };
    if let Err(r) = admit(&shared, &headers, endpoint) {
        return r;
    }
    let mut s = shared.lock();
    let id = if id == "root" { s.root.clone() } else { id };
    let Some(file) = s.files.get(&id).cloned() else {
        return error(
            StatusCode::NOT_FOUND,
            "notFound",
            &format!("File not found: {id}."),
        );
    };
    if file.drive_id.is_some() && !flag(&params, "supportsAllDrives") {
        return error(
            StatusCode::NOT_FOUND,
            "notFound",
            &format!("File not found: {id}."),
        );
    }
    if !media {
        drop(s);
        return Json(select(&file_json(&file), &fields_or(&params, FILE_DEFAULT))).into_response();
    }
    let Some(content) = file.content else {
        return error(
            StatusCode::FORBIDDEN,
            "fileNotDownloadable",
            "Only files with binary content can be downloaded. Use Export with Docs Editors files.",
        );
    };
    s.stats.media_calls += 1;
    let len = content.len() as u64;
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let Some(range) = range else {
        s.stats.media_bytes += len;
        return (StatusCode::OK, content.to_vec()).into_response();
    };
    let Some((start, end)) = parse_range(range, len) else {
        return (
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(header::CONTENT_RANGE, format!("bytes */{len}"))],
        )
            .into_response();
    };
    s.stats.media_bytes += end - start + 1;
    let body = content[start as usize..=end as usize].to_vec();
    (
        StatusCode::PARTIAL_CONTENT,
        [(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"))],
        body,
    )
        .into_response()
}

/// The inclusive byte range a `Range` header asks of `len` bytes; `None` if unsatisfiable.
pub(crate) fn parse_range(header: &str, len: u64) -> Option<(u64, u64)> {
    let spec = header.trim().strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    if len == 0 {
        return None;
    }
    let (start, end) = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 {
            return None;
        }
        (len.saturating_sub(n), len - 1)
    } else {
        let start: u64 = a.parse().ok()?;
        let end = if b.is_empty() {
            len - 1
        } else {
            b.parse::<u64>().ok()?.min(len - 1)
        };
        (start, end)
    };
    (start <= end && start < len).then_some((start, end))
}

async fn start_page_token(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(params): Params,
) -> Response {
    if let Err(r) = admit(&shared, &headers, Endpoint::StartCursor) {
        return r;
    }
    if params.contains_key("driveId") && !flag(&params, "supportsAllDrives") {
        return invalid("driveId", "driveId requires supportsAllDrives=true.");
    }
    let s = shared.lock();
    Json(json!({
        "kind": "drive#startPageToken",
        "startPageToken": (s.seq + 1).to_string(),
    }))
    .into_response()
}

async fn changes_list(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(params): Params,
) -> Response {
    let fault = match admit(&shared, &headers, Endpoint::Changes) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let size = match page_size(&params, 100) {
        Ok(n) => n,
        Err(r) => return r,
    };
    // changes.list takes driveId without corpora.
    let scope = match (
        params.get("driveId"),
        flag(&params, "includeItemsFromAllDrives"),
    ) {
        (Some(d), true) if flag(&params, "supportsAllDrives") => Scope::Shared(d.clone()),
        (Some(_), _) => {
            return invalid(
                "driveId",
                "driveId requires supportsAllDrives=true and includeItemsFromAllDrives=true.",
            );
        }
        (None, true) if flag(&params, "supportsAllDrives") => Scope::All,
        (None, _) => Scope::MyDrive,
    };
    let mut s = shared.lock();
    let Some(from) = params
        .get("pageToken")
        .and_then(|t| t.split('~').next()?.parse::<u64>().ok())
    else {
        return invalid("pageToken", "Invalid Value");
    };
    if from == 0 || from > s.seq + 1 {
        return invalid("pageToken", "Invalid Value");
    }
    s.stats.changes_calls += 1;
    // A file changed several times since the token is reported once, in its latest state.
    let mut last: Vec<(u64, &str)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (seq, id) in s.log.iter().rev().filter(|(seq, _)| *seq >= from) {
        if seen.insert(id.as_str()) {
            last.push((*seq, id));
        }
    }
    last.reverse();
    let visible = |id: &str| match s.files.get(id) {
        Some(f) => in_scope(f, &scope),
        // A deleted file: which drive it was in is gone; report it to every scope.
        None => true,
    };
    let relevant: Vec<(u64, &str)> = last.into_iter().filter(|(_, id)| visible(id)).collect();
    let take = if fault == Some(Fault::EmptyPage) {
        0
    } else {
        size.min(s.page_limit.unwrap_or(usize::MAX))
    };
    let page = &relevant[..take.min(relevant.len())];
    let now = rfc3339(SystemTime::now());
    let changes: Vec<Value> = page
        .iter()
        .map(|(_, id)| match s.files.get(*id) {
            Some(f) => json!({
                "kind": "drive#change", "changeType": "file", "time": now,
                "removed": false, "fileId": id, "file": file_json(f),
            }),
            None => json!({
                "kind": "drive#change", "changeType": "file", "time": now,
                "removed": true, "fileId": id,
            }),
        })
        .collect();
    let mut body = json!({ "kind": "drive#changeList", "changes": changes });
    match relevant.get(page.len()) {
        // More to come: the token points at the first change not yet sent.
        Some((seq, _)) => body["nextPageToken"] = change_token(*seq).into(),
        None if page.is_empty() && !relevant.is_empty() => {
            body["nextPageToken"] = change_token(relevant[0].0).into();
        }
        None => body["newStartPageToken"] = (s.seq + 1).to_string().into(),
    }
    drop(s);
    Json(select(&body, &fields_or(&params, CHANGES_DEFAULT))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=-1000", 100), Some((0, 99)));
        assert_eq!(parse_range("bytes=95-200", 100), Some((95, 99)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=0-0", 0), None);
    }

    #[test]
    fn fields_select_nested_members() {
        let v = json!({"a": 1, "b": [{"x": 1, "y": 2}], "c": 3});
        let f = parse_fields("a,b(x)");
        assert_eq!(select(&v, &f), json!({"a": 1, "b": [{"x": 1}]}));
        assert_eq!(select(&v, &parse_fields("*")), v);
        assert_eq!(select(&v, &parse_fields("b/y")), json!({"b": [{"y": 2}]}));
    }

    #[test]
    fn queries_split_on_and_outside_quotes() {
        let c = parse_query("name = 'rock and roll.mp3' and trashed = false").unwrap();
        assert_eq!(c.len(), 2);
        assert!(parse_query("trashed = false or trashed = true").is_err());
    }
}
