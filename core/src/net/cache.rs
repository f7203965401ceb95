//! The HTTP cache's rules: answers reused while the service says they are fresh
//! (`Cache-Control: max-age`, `Expires`), revalidated with `If-None-Match` or
//! `If-Modified-Since` when stale, as RFC 9111 says (the rules are
//! `http-cache-semantics`'s). Where entries are kept is the host's ([`CacheStore`]): files
//! natively, IndexedDB in the browser.
//!
//! Only unauthenticated `GET`s are cached, by method, URL and `Accept`: what a catalogue
//! answers anyone. A plugin's request that carries a user's token never is.

use std::time::SystemTime;

use http_cache_semantics::{AfterResponse, BeforeRequest, CacheOptions, CachePolicy};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use tonearm_plugin_api::{HttpRequest, HttpResponse};

/// Where a host keeps cached answers, by key; an entry that cannot be read back is a
/// miss, and one that cannot be kept is dropped (a cache loses nothing but time).
pub trait CacheStore {
    /// The entry under `key`, if one is kept and reads back.
    fn read(&self, key: &str) -> Option<Entry>;
    /// Keeps `entry` under `key`, replacing any other.
    fn write(&self, key: &str, entry: &Entry);
}

/// What the cache says about a request before it is sent.
pub enum Lookup {
    /// Nothing usable is cached: send the request as it is.
    Miss,
    /// A fresh answer: no request needed.
    Fresh(HttpResponse),
    /// A stale answer: send `request` (with revalidation headers) and call
    /// [`HttpCache::revalidated`] with the service's answer.
    Stale {
        /// The request to send instead.
        request: HttpRequest,
        /// The stale entry.
        entry: Box<Entry>,
    },
}

/// A kept answer: its freshness policy and headers (serialized), and its body (kept as
/// the store likes: a file, a binary field).
#[derive(Serialize, Deserialize)]
pub struct Entry {
    policy: CachePolicy,
    status: u16,
    headers: Vec<(String, String)>,
    /// The body.
    #[serde(skip)]
    pub body: Vec<u8>,
}

/// Whether `request` may be answered from, and stored in, the cache.
pub fn cacheable(request: &HttpRequest) -> bool {
    request.method.eq_ignore_ascii_case("GET")
        && request.body.is_empty()
        && !request.headers.iter().any(|(k, _)| {
            k.eq_ignore_ascii_case("authorization") || k.eq_ignore_ascii_case("cookie")
        })
}

/// The cache key of `request`: the SHA-256 of its method, URL and the `Accept` it asks
/// for, in hex.
pub fn key(request: &HttpRequest) -> String {
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

/// The cache over a store: what to do about a request, and what to keep of an answer.
/// `now` is the wall clock, passed in because the browser's is not `SystemTime::now`.
#[derive(Debug, Clone)]
pub struct HttpCache<S> {
    store: S,
}

impl<S: CacheStore> HttpCache<S> {
    /// A cache keeping its entries in `store`.
    pub fn new(store: S) -> Self {
        Self { store }
    }

    /// Its store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// What to do about `request`.
    pub fn lookup(&self, request: &HttpRequest, now: SystemTime) -> Lookup {
        let (Some(entry), Some(req)) = (self.store.read(&key(request)), to_http_request(request))
        else {
            return Lookup::Miss;
        };
        match entry.policy.before_request(&req, now) {
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
    pub fn keep(&self, request: &HttpRequest, response: &HttpResponse, now: SystemTime) {
        let (Some(req), Some(res)) = (to_http_request(request), to_http_response(response)) else {
            return;
        };
        let policy = CachePolicy::new_options(&req, &res, now, options());
        if !policy.is_storable() {
            return;
        }
        let entry = Entry {
            policy,
            status: response.status,
            headers: response.headers.clone(),
            body: response.body.clone(),
        };
        self.store.write(&key(request), &entry);
    }

    /// The answer to a stale entry's revalidation: the kept body if the service said
    /// `304 Not Modified` (with the entry's freshness renewed), else `response` (kept if
    /// it may be).
    pub fn revalidated(
        &self,
        request: &HttpRequest,
        entry: Entry,
        response: HttpResponse,
        now: SystemTime,
    ) -> HttpResponse {
        let (Some(req), Some(res)) = (to_http_request(request), to_http_response(&response)) else {
            return response;
        };
        match entry.policy.after_response(&req, &res, now) {
            AfterResponse::NotModified(policy, parts) => {
                let renewed = Entry {
                    policy,
                    status: entry.status,
                    headers: headers_of(&parts.headers),
                    body: entry.body,
                };
                self.store.write(&key(request), &renewed);
                HttpResponse {
                    status: renewed.status,
                    headers: renewed.headers,
                    body: renewed.body,
                }
            }
            AfterResponse::Modified(..) => {
                self.keep(request, &response, now);
                response
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;

    /// Entries in memory, kept as a store would: serialized, body apart.
    #[derive(Default)]
    struct Memory(Mutex<HashMap<String, (String, Vec<u8>)>>);

    impl CacheStore for Memory {
        fn read(&self, key: &str) -> Option<Entry> {
            let map = self.0.lock().unwrap();
            let (meta, body) = map.get(key)?;
            let mut entry: Entry = serde_json::from_str(meta).ok()?;
            entry.body = body.clone();
            Some(entry)
        }
        fn write(&self, key: &str, entry: &Entry) {
            let meta = serde_json::to_string(entry).unwrap();
            self.0
                .lock()
                .unwrap()
                .insert(key.into(), (meta, entry.body.clone()));
        }
    }

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
        let cache = HttpCache::new(Memory::default());
        let now = SystemTime::now();
        let request = get("https://musicbrainz.org/ws/2/recording/x?fmt=json");
        cache.keep(
            &request,
            &answer(&[("cache-control", "max-age=3600")], "{\"id\":1}"),
            now,
        );
        let Lookup::Fresh(hit) = cache.lookup(&request, now) else {
            panic!("not fresh")
        };
        assert_eq!(hit.body, b"{\"id\":1}");
        let later = now + std::time::Duration::from_secs(3601);
        assert!(!matches!(cache.lookup(&request, later), Lookup::Fresh(_)));

        let other = get("https://musicbrainz.org/ws/2/recording/y?fmt=json");
        cache.keep(&other, &answer(&[("cache-control", "no-store")], "{}"), now);
        assert!(matches!(cache.lookup(&other, now), Lookup::Miss));
        assert!(!cacheable(&HttpRequest {
            headers: vec![("Authorization".into(), "Bearer t".into())],
            ..get("https://x/")
        }));
    }

    #[test]
    fn stale_answers_are_revalidated_and_a_304_renews_them() {
        let cache = HttpCache::new(Memory::default());
        let now = SystemTime::now();
        let request = get("https://lrclib.net/api/get?track_name=a");
        cache.keep(
            &request,
            &answer(&[("etag", "\"v1\""), ("cache-control", "max-age=0")], "old"),
            now,
        );
        let Lookup::Stale {
            request: asked,
            entry,
        } = cache.lookup(&request, now)
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
        let served = cache.revalidated(&asked, *entry, not_modified, now);
        assert_eq!(
            (served.status, served.body.as_slice()),
            (200, b"old".as_slice())
        );
        assert!(
            matches!(cache.lookup(&request, now), Lookup::Fresh(_)),
            "renewed"
        );
    }
}
