//! The HTTP cache: answers kept on disk and reused while the service says they are fresh
//! (`Cache-Control: max-age`, `Expires`), revalidated with `If-None-Match` or
//! `If-Modified-Since` when stale, as RFC 9111 says (the rules are
//! `http-cache-semantics`'s; this module only stores).
//!
//! Only unauthenticated `GET`s are cached, by method, URL and `Accept`: what a catalogue
//! answers anyone. A plugin's request that carries a user's token never is. Each entry is
//! two files named by the key's SHA-256: the policy and headers as JSON, and the body.
//! Entries are written to a temporary file and renamed, so a killed process leaves either
//! the old entry or the new one; an entry that does not read back is a miss.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use http_cache_semantics::{AfterResponse, BeforeRequest, CacheOptions, CachePolicy};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use tonearm_plugin_api::{HttpRequest, HttpResponse};

/// What the cache says about a request before it is sent.
pub(crate) enum Lookup {
    /// Nothing usable is cached: send the request as it is.
    Miss,
    /// A fresh answer: no request needed.
    Fresh(HttpResponse),
    /// A stale answer: send `request` (with revalidation headers) and call
    /// [`HttpCache::revalidated`] with the service's answer.
    Stale {
        request: HttpRequest,
        entry: Box<Entry>,
    },
}

/// A stored answer.
#[derive(Serialize, Deserialize)]
pub(crate) struct Entry {
    policy: CachePolicy,
    status: u16,
    headers: Vec<(String, String)>,
    #[serde(skip)]
    body: Vec<u8>,
}

/// Answers kept in one folder.
#[derive(Debug, Clone)]
pub struct HttpCache {
    dir: PathBuf,
}

/// Whether `request` may be answered from, and stored in, the cache.
pub(crate) fn cacheable(request: &HttpRequest) -> bool {
    request.method.eq_ignore_ascii_case("GET")
        && request.body.is_empty()
        && !request.headers.iter().any(|(k, _)| {
            k.eq_ignore_ascii_case("authorization") || k.eq_ignore_ascii_case("cookie")
        })
}

/// The cache key of `request`: method, URL and the `Accept` it asks for.
pub(crate) fn key(request: &HttpRequest) -> String {
    let accept = request
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("accept"))
        .map_or("", |(_, v)| v.as_str());
    let digest = sha2::Sha256::digest(format!("{}\n{}\n{accept}", request.method, request.url));
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn to_http_request(request: &HttpRequest) -> Option<http::Request<()>> {
    let mut builder = http::Request::builder()
        .method(request.method.as_str())
        .uri(request.url.as_str());
    for (k, v) in &request.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder.body(()).ok()
}

fn to_http_response(response: &HttpResponse) -> Option<http::Response<()>> {
    let mut builder = http::Response::builder().status(response.status);
    for (k, v) in &response.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder.body(()).ok()
}

fn headers_of(map: &http::HeaderMap) -> Vec<(String, String)> {
    map.iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect()
}

/// A user agent's cache, not a shared one: `private` answers are kept.
fn options() -> CacheOptions {
    CacheOptions {
        shared: false,
        ..CacheOptions::default()
    }
}

impl HttpCache {
    /// A cache in `dir` (made when first written).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn paths(&self, key: &str) -> (PathBuf, PathBuf) {
        (
            self.dir.join(format!("{key}.json")),
            self.dir.join(format!("{key}.body")),
        )
    }

    fn read(&self, key: &str) -> Option<Entry> {
        let (meta, body) = self.paths(key);
        let mut entry: Entry = serde_json::from_slice(&std::fs::read(meta).ok()?).ok()?;
        entry.body = std::fs::read(body).ok()?;
        Some(entry)
    }

    /// What to do about `request`.
    pub(crate) fn lookup(&self, request: &HttpRequest) -> Lookup {
        let (Some(entry), Some(req)) = (self.read(&key(request)), to_http_request(request)) else {
            return Lookup::Miss;
        };
        match entry.policy.before_request(&req, SystemTime::now()) {
            BeforeRequest::Fresh(parts) => Lookup::Fresh(HttpResponse {
                status: entry.status,
                headers: headers_of(&parts.headers),
                body: entry.body,
            }),
            BeforeRequest::Stale {
                request: parts,
                matches,
            } if matches => Lookup::Stale {
                request: HttpRequest {
                    method: request.method.clone(),
                    url: request.url.clone(),
                    headers: headers_of(&parts.headers),
                    body: Vec::new(),
                },
                entry: Box::new(entry),
            },
            BeforeRequest::Stale { .. } => Lookup::Miss,
        }
    }

    /// Keeps `response` to `request` if its headers allow it.
    pub(crate) fn store(&self, request: &HttpRequest, response: &HttpResponse) {
        let (Some(req), Some(res)) = (to_http_request(request), to_http_response(response)) else {
            return;
        };
        let policy = CachePolicy::new_options(&req, &res, SystemTime::now(), options());
        if !policy.is_storable() {
            return;
        }
        let entry = Entry {
            policy,
            status: response.status,
            headers: response.headers.clone(),
            body: Vec::new(),
        };
        if let Err(e) = self.write(&key(request), &entry, &response.body) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot keep an answer in the HTTP cache");
        }
    }

    /// The answer to a stale entry's revalidation: the kept body if the service said
    /// `304 Not Modified` (with the entry's freshness renewed), else `response` (kept if
    /// it may be).
    pub(crate) fn revalidated(
        &self,
        request: &HttpRequest,
        entry: Entry,
        response: HttpResponse,
    ) -> HttpResponse {
        let (Some(req), Some(res)) = (to_http_request(request), to_http_response(&response)) else {
            return response;
        };
        match entry.policy.after_response(&req, &res, SystemTime::now()) {
            AfterResponse::NotModified(policy, parts) => {
                let renewed = Entry {
                    policy,
                    status: entry.status,
                    headers: headers_of(&parts.headers),
                    body: Vec::new(),
                };
                if let Err(e) = self.write(&key(request), &renewed, &entry.body) {
                    tracing::warn!(error = %e, "cannot renew an answer in the HTTP cache");
                }
                HttpResponse {
                    status: entry.status,
                    headers: renewed.headers,
                    body: entry.body,
                }
            }
            AfterResponse::Modified(..) => {
                self.store(request, &response);
                response
            }
        }
    }

    fn write(&self, key: &str, entry: &Entry, body: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let (meta, body_path) = self.paths(key);
        let json = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
        // The body first: a meta file never names a body that is not there.
        for (path, bytes) in [(&body_path, body), (&meta, json.as_slice())] {
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, path)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(url: &str) -> HttpRequest {
        HttpRequest {
            method: "GET".into(),
            url: url.into(),
            headers: vec![("Accept".into(), "application/json".into())],
            body: vec![],
        }
    }

    fn answer(headers: &[(&str, &str)], body: &str) -> HttpResponse {
        HttpResponse {
            status: 200,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn fresh_answers_are_reused_and_uncacheable_ones_are_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let cache = HttpCache::new(dir.path());
        let request = get("https://musicbrainz.org/ws/2/recording/x?fmt=json");
        cache.store(
            &request,
            &answer(&[("cache-control", "max-age=3600")], "{\"id\":1}"),
        );
        let Lookup::Fresh(hit) = cache.lookup(&request) else {
            panic!("not fresh")
        };
        assert_eq!(hit.body, b"{\"id\":1}");

        let other = get("https://musicbrainz.org/ws/2/recording/y?fmt=json");
        cache.store(&other, &answer(&[("cache-control", "no-store")], "{}"));
        assert!(matches!(cache.lookup(&other), Lookup::Miss));
        assert!(!cacheable(&HttpRequest {
            headers: vec![("Authorization".into(), "Bearer t".into())],
            ..get("https://x/")
        }));
    }

    #[test]
    fn stale_answers_are_revalidated_and_a_304_renews_them() {
        let dir = tempfile::tempdir().unwrap();
        let cache = HttpCache::new(dir.path());
        let request = get("https://lrclib.net/api/get?track_name=a");
        cache.store(
            &request,
            &answer(&[("etag", "\"v1\""), ("cache-control", "max-age=0")], "old"),
        );
        let Lookup::Stale {
            request: asked,
            entry,
        } = cache.lookup(&request)
        else {
            panic!("not stale")
        };
        assert!(
            asked
                .headers
                .iter()
                .any(|(k, v)| k == "if-none-match" && v == "\"v1\""),
            "{:?}",
            asked.headers
        );
        let not_modified = HttpResponse {
            status: 304,
            headers: vec![
                ("etag".into(), "\"v1\"".into()),
                ("cache-control".into(), "max-age=600".into()),
            ],
            body: vec![],
        };
        let served = cache.revalidated(&asked, *entry, not_modified);
        assert_eq!(
            (served.status, served.body.as_slice()),
            (200, b"old".as_slice())
        );
        assert!(
            matches!(cache.lookup(&request), Lookup::Fresh(_)),
            "renewed"
        );
    }

    #[test]
    fn a_damaged_entry_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = HttpCache::new(dir.path());
        let request = get("https://x/y");
        cache.store(&request, &answer(&[("cache-control", "max-age=60")], "ok"));
        std::fs::write(
            dir.path().join(format!("{}.json", key(&request))),
            "{garbage",
        )
        .unwrap();
        assert!(matches!(cache.lookup(&request), Lookup::Miss));
    }
}
