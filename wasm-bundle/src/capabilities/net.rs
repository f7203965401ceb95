//! What every plugin's HTTP in one worker shares: the services' budgets and the HTTP
//! cache, as the native host's HTTP service keeps them (the rules are the core's,
//! [`tonearm_core::net`]).
//!
//! Requests here are synchronous, and a worker has no way to sleep synchronously short
//! of spinning. So the worker waits for a metadata source's turn *between* its calls,
//! asynchronously ([`WorkerNet::turn`], before each call), where the page's messages are
//! still handled; a call that sends a second request to a rate-limited service before its
//! turn (a lookup after a search) waits for it inside the call, on the clock. A service's
//! `Retry-After` holds back every later request to it; the answer that carried it goes
//! back to the plugin, and enrichment asks about that track again on its next run.
//!
//! The cache lives in memory while the worker runs and is kept in IndexedDB: loaded
//! before a run ([`WorkerNet::load`]), and what the run added written back after it
//! ([`WorkerNet::take_changed`]). Answers larger than [`MAX_KEPT`] are not cached (covers
//! are kept in the library itself).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use tonearm_core::net::cache::{self, CacheStore, Entry, HttpCache, Lookup};
use tonearm_core::net::pace::{Admission, Budgets};
use tonearm_core::net::{authority_of, retry_after};
use tonearm_plugin_api::{HttpRequest, HttpResponse, PluginResult, RateLimit};
use wasm_bindgen::JsCast as _;

use crate::protocol::HttpStats;

/// The largest answer the cache keeps.
pub const MAX_KEPT: usize = 1 << 20;

/// Cached answers in memory: policy and headers as JSON, and body, by key.
#[derive(Debug, Default)]
pub struct MemoryCache {
    entries: Mutex<HashMap<String, (String, Vec<u8>)>>,
    /// Keys written since the last [`WorkerNet::take_changed`].
    changed: Mutex<BTreeSet<String>>,
}

impl CacheStore for MemoryCache {
    fn read(&self, key: &str) -> Option<Entry> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let (meta, body) = entries.get(key)?;
        let mut entry: Entry = serde_json::from_str(meta).ok()?;
        entry.body = body.clone();
        Some(entry)
    }

    fn write(&self, key: &str, entry: &Entry) {
        if entry.body.len() > MAX_KEPT {
            return;
        }
        let Ok(meta) = serde_json::to_string(entry) else {
            return;
        };
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_owned(), (meta, entry.body.clone()));
        self.changed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_owned());
    }
}

/// The budgets, cache and counts of one worker.
#[derive(Debug)]
pub struct WorkerNet {
    budgets: Budgets,
    cache: HttpCache<MemoryCache>,
    /// The rate-limited hosts each metadata source reaches, by plugin id.
    limited: Mutex<HashMap<String, Vec<String>>>,
    stats: Mutex<HttpStats>,
}

/// The worker's monotonic clock.
fn clock() -> Duration {
    let now = js_sys::global()
        .dyn_into::<web_sys::WorkerGlobalScope>()
        .ok()
        .and_then(|scope| scope.performance())
        .map_or_else(js_sys::Date::now, |p| p.now());
    Duration::from_secs_f64(now.max(0.0) / 1000.0)
}

/// The wall clock, which `SystemTime::now` cannot read in the browser.
fn wall() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs_f64(js_sys::Date::now().max(0.0) / 1000.0)
}

impl WorkerNet {
    /// Nothing cached, counted or limited yet.
    pub fn new() -> Self {
        Self {
            budgets: Budgets::default(),
            cache: HttpCache::new(MemoryCache::default()),
            limited: Mutex::default(),
            stats: Mutex::default(),
        }
    }

    /// Declares `plugin`'s rate limits: its requests keep to them, with every other
    /// plugin's to the same services.
    pub fn declare(&self, plugin: &str, limits: &[RateLimit]) {
        self.budgets.declare(limits);
        self.limited
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                plugin.to_owned(),
                limits.iter().map(|l| l.host.clone()).collect(),
            );
    }

    /// Waits, without blocking the worker, until `plugin`'s next request to any service
    /// with a budget could start.
    pub async fn turn(&self, plugin: &str) {
        let hosts = self
            .limited
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(plugin)
            .cloned()
            .unwrap_or_default();
        let now = clock();
        let free = hosts
            .iter()
            .map(|host| self.budgets.next_free(host, now))
            .max()
            .unwrap_or(now);
        if free > now {
            tonearm_core::sync::rt::sleep(free - now).await;
        }
    }

    /// Answers `request`: from the cache when it may, else sent by `send` in its turn.
    pub fn send(
        &self,
        request: HttpRequest,
        send: impl Fn(&HttpRequest) -> PluginResult<HttpResponse>,
    ) -> PluginResult<HttpResponse> {
        if !cache::cacheable(&request) {
            return self.paced(&request, &send);
        }
        match self.cache.lookup(&request, wall()) {
            Lookup::Fresh(answer) => {
                self.count(|s| s.cached += 1);
                tracing::debug!("answered from the HTTP cache");
                Ok(answer)
            }
            Lookup::Miss => {
                let answer = self.paced(&request, &send)?;
                self.cache.keep(&request, &answer, wall());
                Ok(answer)
            }
            Lookup::Stale {
                request: asked,
                entry,
            } => {
                let answer = self.paced(&asked, &send)?;
                if answer.status == 304 {
                    self.count(|s| s.revalidated += 1);
                }
                Ok(self.cache.revalidated(&asked, *entry, answer, wall()))
            }
        }
    }

    /// Sends `request` once its service's budget allows.
    fn paced(
        &self,
        request: &HttpRequest,
        send: &impl Fn(&HttpRequest) -> PluginResult<HttpResponse>,
    ) -> PluginResult<HttpResponse> {
        let authority = authority_of(&request.url).unwrap_or_default();
        let mut held = None;
        while let Admission::Wait { at, turn } = self.budgets.admit(&authority, clock(), held) {
            held = Some(turn);
            // Rare (see the module's note): a second request in one call.
            while clock() < at {
                std::hint::spin_loop();
            }
        }
        self.count(|s| s.sent += 1);
        let answer = send(request)?;
        if matches!(answer.status, 429 | 503)
            && let Some(wait) = answer
                .header("retry-after")
                .and_then(|v| retry_after(v, wall()))
        {
            self.budgets.pause(&authority, clock(), wait);
        }
        Ok(answer)
    }

    fn count(&self, f: impl FnOnce(&mut HttpStats)) {
        f(&mut self.stats.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// What the worker's HTTP did so far.
    pub fn stats(&self) -> HttpStats {
        *self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts answers kept in IndexedDB (key, meta, body) back in the cache.
    pub fn load(&self, answers: Vec<(String, String, Vec<u8>)>) {
        let mut entries = self
            .cache
            .store()
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (key, meta, body) in answers {
            entries.entry(key).or_insert((meta, body));
        }
    }

    /// The answers cached since the last call, to keep in IndexedDB.
    pub fn take_changed(&self) -> Vec<(String, String, Vec<u8>)> {
        let store = self.cache.store();
        let keys =
            std::mem::take(&mut *store.changed.lock().unwrap_or_else(PoisonError::into_inner));
        let entries = store.entries.lock().unwrap_or_else(PoisonError::into_inner);
        keys.into_iter()
            .filter_map(|k| {
                let (meta, body) = entries.get(&k)?;
                Some((k, meta.clone(), body.clone()))
            })
            .collect()
    }
}
