//! The HTTP capability: requests a plugin describes, sent by the host.
//!
//! The host decides everything a plugin should not: which hosts it may reach (its
//! manifest's, plus the endpoints the user configured for the source), who gets the
//! source's access token (only the API's origin, never a pre-authenticated download URL),
//! how fast and how many at once (per plugin), and how to ride out throttling (`429`/`503`
//! with `Retry-After`, else exponential backoff with jitter). Redirects are not followed:
//! the plugin sees them and decides, because a redirect target must not get the token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use backon::BackoffBuilder as _;
use tonearm_plugin_api::{
    HttpClient, HttpRequest, HttpResponse, PluginError, PluginResult, RateLimit,
};
use tracing::Instrument as _;

pub use tonearm_core::net::{allowed_hosts, host_allowed, host_of, origin, redact};

use crate::auth::{AuthError, AuthSession};
use crate::cache::{self, HttpCache, Lookup};
use crate::pace::{Budgets, Limiter, SharedBudgets};

/// How the host sends plugins' requests.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// The longest one attempt may take.
    pub timeout: Duration,
    /// Attempts per request, the first included.
    pub attempts: usize,
    /// The first backoff delay.
    pub min_delay: Duration,
    /// The longest backoff delay.
    pub max_delay: Duration,
    /// The longest `Retry-After` the host waits out; a longer one goes back to the plugin.
    pub max_retry_after: Duration,
    /// Requests per second per plugin, if limited.
    pub requests_per_second: Option<f64>,
    /// Requests in flight per plugin.
    pub concurrency: usize,
    /// The largest response body accepted.
    pub max_body: usize,
    /// How services can reach whoever runs this copy (an e-mail or a URL), sent in the
    /// User-Agent, which MusicBrainz and others ask for: `Tonearm/VERSION ( contact )`.
    pub contact: String,
    /// Where unauthenticated answers are cached (see [`crate::cache`]); none for no cache.
    pub cache_dir: Option<std::path::PathBuf>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            attempts: 6,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(32),
            max_retry_after: Duration::from_secs(120),
            // Below Google Drive's per-user quota (12,000 requests a minute); Graph
            // throttles dynamically and says so with 429 + Retry-After.
            requests_per_second: Some(100.0),
            concurrency: 8,
            max_body: 64 << 20,
            contact: env!("CARGO_PKG_REPOSITORY").to_owned(),
            cache_dir: None,
        }
    }
}

/// Why the HTTP service could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the HTTP client: {0}")]
pub struct HttpStartError(String);

/// The host's HTTP stack, shared by every plugin; hands out per-source clients.
pub struct HttpService {
    client: reqwest::Client,
    settings: HttpSettings,
    limiters: Mutex<HashMap<String, Arc<Limiter>>>,
    budgets: SharedBudgets,
    shared: Arc<Shared>,
}

/// An answer some caller is waiting for; every identical request waits for the same one.
type InFlight = Arc<tokio::sync::OnceCell<PluginResult<HttpResponse>>>;

/// What every client of one service shares beyond pacing: the cache, the requests in
/// flight, and the counts.
#[derive(Default)]
struct Shared {
    cache: Option<HttpCache>,
    in_flight: Mutex<HashMap<String, InFlight>>,
    stats: Counters,
}

#[derive(Default)]
struct Counters {
    sent: std::sync::atomic::AtomicU64,
    cached: std::sync::atomic::AtomicU64,
    revalidated: std::sync::atomic::AtomicU64,
    coalesced: std::sync::atomic::AtomicU64,
}

/// What the service did with the requests plugins asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HttpStats {
    /// Requests sent to a server (each attempt of a retried one counts once).
    pub sent: u64,
    /// Requests answered from the cache with no request at all.
    pub cached: u64,
    /// Stale cached answers the server said are still good (`304`).
    pub revalidated: u64,
    /// Requests that waited for an identical one in flight instead of being sent.
    pub coalesced: u64,
}

impl HttpService {
    /// A service sending with `settings`.
    pub fn new(settings: HttpSettings) -> Result<Self, HttpStartError> {
        // reqwest is built without a default TLS crypto provider; ring is the one we link.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .user_agent(user_agent(&settings.contact))
            .build()
            .map_err(|e| HttpStartError(e.to_string()))?;
        let shared = Arc::new(Shared {
            cache: settings.cache_dir.clone().map(cache::in_folder),
            ..Shared::default()
        });
        Ok(Self {
            client,
            settings,
            limiters: Mutex::new(HashMap::new()),
            budgets: Arc::new(Budgets::default()),
            shared,
        })
    }

    /// What the service did with plugins' requests so far.
    pub fn stats(&self) -> HttpStats {
        use std::sync::atomic::Ordering::Relaxed;
        let c = &self.shared.stats;
        HttpStats {
            sent: c.sent.load(Relaxed),
            cached: c.cached.load(Relaxed),
            revalidated: c.revalidated.load(Relaxed),
            coalesced: c.coalesced.load(Relaxed),
        }
    }

    /// The underlying client, for the host's own requests (OAuth token endpoints).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The HTTP capability for one source of a provider plugin: the hosts its manifest
    /// declares plus those of the endpoints the source configures (`endpoint.*`
    /// settings); if the plugin signs in, the source's tokens go to the token hosts (or
    /// to the configured `endpoint.api` origin) and nowhere else.
    pub fn client_for_source(
        &self,
        manifest: &tonearm_plugin_api::PluginManifest,
        source: &str,
        settings: &std::collections::BTreeMap<String, String>,
        tokens: &Arc<crate::auth::TokenStore>,
        bus: &tonearm_core::EventBus,
    ) -> Result<Arc<dyn HttpClient>, SourceHttpError> {
        let allowed = allowed_hosts(&manifest.capabilities.http_hosts, settings);
        let auth = match &manifest.capabilities.oauth {
            None => None,
            Some(spec) => {
                let session =
                    AuthSession::load(source, tokens.clone(), self.client.clone(), bus.clone())
                        .map_err(|e| SourceHttpError::Auth(e.to_string()))?
                        .ok_or_else(|| SourceHttpError::NotSignedIn(source.to_owned()))?;
                Some((session, tonearm_core::auth::token_origins(spec, settings)))
            }
        };
        self.client_for(
            &manifest.id,
            allowed,
            &manifest.capabilities.rate_limits,
            auth,
        )
        .map_err(|e| SourceHttpError::Start(e.to_string()))
    }

    /// A client for one plugin instance: it may reach `allowed` hosts, within the
    /// services' `rate_limits` (a budget per host shared by every client of this
    /// service), and sends `auth`'s token to the `token_origins` only. Must be called
    /// inside a tokio runtime; the client's `send` must then be called outside it
    /// (plugins run on blocking threads).
    pub fn client_for(
        &self,
        plugin: &str,
        allowed: Vec<String>,
        rate_limits: &[RateLimit],
        auth: Option<(Arc<AuthSession>, Vec<String>)>,
    ) -> Result<Arc<dyn HttpClient>, HttpStartError> {
        self.budgets.declare(rate_limits);
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| HttpStartError(format!("no async runtime: {e}")))?;
        let limiter = self
            .limiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(plugin.to_owned())
            .or_insert_with(|| Arc::new(Limiter::new(&self.settings)))
            .clone();
        let (auth, token_origins) = match auth {
            Some((session, origins)) => (Some(session), origins),
            None => (None, Vec::new()),
        };
        Ok(Arc::new(PluginHttp {
            plugin: plugin.to_owned(),
            client: self.client.clone(),
            settings: self.settings.clone(),
            runtime,
            allowed,
            auth,
            token_origins,
            limiter,
            budgets: self.budgets.clone(),
            shared: self.shared.clone(),
        }))
    }
}

/// Why a source gets no HTTP capability.
#[derive(Debug, thiserror::Error)]
pub enum SourceHttpError {
    /// The source's service needs a sign-in that never happened.
    #[error("source `{0}` is not signed in: run `tonearm source signin {0}`")]
    NotSignedIn(String),
    /// The token store failed.
    #[error("{0}")]
    Auth(String),
    /// No client could be made.
    #[error("{0}")]
    Start(String),
}

struct PluginHttp {
    plugin: String,
    client: reqwest::Client,
    settings: HttpSettings,
    runtime: tokio::runtime::Handle,
    allowed: Vec<String>,
    auth: Option<Arc<AuthSession>>,
    token_origins: Vec<String>,
    limiter: Arc<Limiter>,
    budgets: SharedBudgets,
    shared: Arc<Shared>,
}

/// What one attempt came to.
enum Outcome {
    Done(HttpResponse),
    /// Worth another try, after the server's `Retry-After` if it gave one.
    Retry {
        response: Option<HttpResponse>,
        error: String,
        retry_after: Option<Duration>,
        /// No connection could be made (refused, unreachable): the server is not there.
        unreachable: bool,
    },
}

impl HttpClient for PluginHttp {
    fn send(&self, request: HttpRequest) -> PluginResult<HttpResponse> {
        if !host_allowed(&request.url, &self.allowed) {
            tracing::warn!(plugin = %self.plugin, url = %redact(&request.url), "refused a request to an undeclared host");
            return Err(PluginError::Unauthorized(format!(
                "{} is not among the hosts this plugin may reach ({})",
                redact(&request.url),
                self.allowed.join(", ")
            )));
        }
        let span = tracing::info_span!(
            "http",
            plugin = %self.plugin,
            method = %request.method,
            url = %redact(&request.url),
            status = tracing::field::Empty,
        );
        self.runtime
            .block_on(self.send_shared(request).instrument(span))
    }
}

impl PluginHttp {
    /// Sends `request`, from the cache when it may be answered from there, and as one
    /// request with any identical one already in flight.
    async fn send_shared(&self, request: HttpRequest) -> PluginResult<HttpResponse> {
        use std::sync::atomic::Ordering::Relaxed;

        let authorized = self.auth.is_some() && self.token_origins.contains(&origin(&request.url));
        if authorized || !cache::cacheable(&request) {
            return self.send_with_retries(request).await;
        }
        let key = cache::key(&request);
        let (cell, first) = {
            let mut in_flight = self
                .shared
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match in_flight.get(&key) {
                Some(cell) => (cell.clone(), false),
                None => {
                    let cell = InFlight::default();
                    in_flight.insert(key.clone(), cell.clone());
                    (cell, true)
                }
            }
        };
        if !first {
            self.shared.stats.coalesced.fetch_add(1, Relaxed);
        }
        let answer = cell.get_or_init(|| self.fetch(request)).await.clone();
        if first {
            self.shared
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&key);
        }
        answer
    }

    /// One cacheable request: from the cache if fresh, revalidated if stale, else sent
    /// and kept if the answer allows.
    async fn fetch(&self, request: HttpRequest) -> PluginResult<HttpResponse> {
        use std::sync::atomic::Ordering::Relaxed;

        let Some(cache) = &self.shared.cache else {
            return self.send_with_retries(request).await;
        };
        let now = std::time::SystemTime::now();
        match cache.lookup(&request, now) {
            Lookup::Fresh(answer) => {
                self.shared.stats.cached.fetch_add(1, Relaxed);
                tracing::debug!("answered from the HTTP cache");
                Ok(answer)
            }
            Lookup::Miss => {
                let answer = self.send_with_retries(request.clone()).await?;
                cache.keep(&request, &answer, std::time::SystemTime::now());
                Ok(answer)
            }
            Lookup::Stale {
                request: asked,
                entry,
            } => {
                let answer = self.send_with_retries(asked.clone()).await?;
                if answer.status == 304 {
                    self.shared.stats.revalidated.fetch_add(1, Relaxed);
                }
                Ok(cache.revalidated(&asked, *entry, answer, std::time::SystemTime::now()))
            }
        }
    }

    async fn send_with_retries(&self, request: HttpRequest) -> PluginResult<HttpResponse> {
        let mut delays = backon::ExponentialBuilder::default()
            .with_min_delay(self.settings.min_delay)
            .with_max_delay(self.settings.max_delay)
            .with_max_times(self.settings.attempts.saturating_sub(1))
            .with_jitter()
            .build();
        let authorized = self.auth.is_some() && self.token_origins.contains(&origin(&request.url));
        let mut refreshed = false;
        let mut unreachable_tries = 0;
        loop {
            let token = match (&self.auth, authorized) {
                (Some(auth), true) => Some(auth.access_token().await.map_err(auth_error)?),
                _ => None,
            };
            let outcome = self.attempt(&request, token.as_deref()).await?;
            let (response, error, retry_after) = match outcome {
                Outcome::Done(response) if response.status == 401 && !refreshed => {
                    // A token can die before its stated expiry (revoked, clock skew):
                    // refresh once and try again; a second 401 goes to the plugin.
                    let (Some(auth), Some(rejected)) = (&self.auth, token) else {
                        return Ok(response);
                    };
                    refreshed = true;
                    tracing::info!("access token rejected; refreshing it");
                    auth.refresh_rejected(&rejected).await.map_err(auth_error)?;
                    continue;
                }
                Outcome::Done(response) => {
                    tracing::Span::current().record("status", response.status);
                    return Ok(response);
                }
                Outcome::Retry {
                    response,
                    error,
                    retry_after,
                    unreachable,
                } => {
                    // A server that cannot be reached is given one more try here, not
                    // the whole backoff: offline, an answer comes in a second, and the
                    // caller's own retries (a sync's next run) try again later.
                    if unreachable {
                        if unreachable_tries >= 1 {
                            return Err(PluginError::Transient(error));
                        }
                        unreachable_tries += 1;
                    }
                    (response, error, retry_after)
                }
            };
            // A stated wait replaces the backoff delay but still spends an attempt, so a
            // server that always says "retry in 1 s" cannot keep us here forever.
            let delay = match retry_after {
                Some(after) if after > self.settings.max_retry_after => None,
                Some(after) => delays.next().map(|_| after),
                None => delays.next(),
            };
            let Some(delay) = delay else {
                return match response {
                    // The plugin maps the final answer to its error, by the API's reasons.
                    Some(response) => Ok(response),
                    None => Err(PluginError::Transient(error)),
                };
            };
            tracing::info!(%error, delay_ms = delay.as_millis() as u64, "retrying");
            tokio::time::sleep(delay).await;
        }
    }

    async fn attempt(&self, request: &HttpRequest, token: Option<&str>) -> PluginResult<Outcome> {
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| PluginError::Invalid(format!("bad HTTP method {:?}", request.method)))?;
        let mut builder = self.client.request(method, &request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(token) = token {
            builder = builder.bearer_auth(token);
        }
        if !request.body.is_empty() {
            builder = builder.body(request.body.clone());
        }
        let _permit = self.limiter.admit().await;
        let host = tonearm_core::net::authority_of(&request.url).unwrap_or_default();
        self.budgets.admit(&host).await;
        self.shared
            .stats
            .sent
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let response = match builder.send().await {
            Ok(r) => r,
            Err(e) if e.is_builder() => {
                return Err(PluginError::Invalid(format!("bad request: {e}")));
            }
            Err(e) => {
                return Ok(Outcome::Retry {
                    response: None,
                    error: format!("{}: {}", redact(&request.url), error_chain(&e)),
                    retry_after: None,
                    unreachable: e.is_connect(),
                });
            }
        };
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        if response
            .content_length()
            .is_some_and(|n| n > self.settings.max_body as u64)
        {
            return Err(PluginError::Invalid(format!(
                "the response is larger than {} bytes",
                self.settings.max_body
            )));
        }
        // Read in chunks up to the limit: a body without a length (chunked) could be
        // endless, and only its first bytes past the limit are ever held.
        let mut response = response;
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) if body.len() + chunk.len() > self.settings.max_body => {
                    return Err(PluginError::Invalid(format!(
                        "the response is larger than {} bytes",
                        self.settings.max_body
                    )));
                }
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => {
                    return Ok(Outcome::Retry {
                        response: None,
                        error: format!("reading the response: {}", error_chain(&e)),
                        retry_after: None,
                        unreachable: false,
                    });
                }
            }
        }
        let response = HttpResponse {
            status,
            headers,
            body,
        };
        tracing::debug!(status, bytes = response.body.len(), "answered");
        if matches!(status, 429 | 500 | 502 | 503 | 504) {
            let retry_after = response.header("retry-after").and_then(parse_retry_after);
            if let (429 | 503, Some(wait)) = (status, retry_after) {
                // The whole service asked for the pause, not this request: every client
                // of it waits.
                self.budgets.pause(&host, wait);
            }
            return Ok(Outcome::Retry {
                error: format!("HTTP {status}"),
                response: Some(response),
                retry_after,
                unreachable: false,
            });
        }
        Ok(Outcome::Done(response))
    }
}

fn auth_error(e: AuthError) -> PluginError {
    match e {
        e @ AuthError::NeedsSignIn { .. } => PluginError::Unauthorized(e.to_string()),
        e => PluginError::Transient(e.to_string()),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The User-Agent services are sent: `Tonearm/VERSION ( contact )`, the form MusicBrainz
/// asks for.
pub fn user_agent(contact: &str) -> String {
    format!(
        "Tonearm/{} ( {} )",
        env!("CARGO_PKG_VERSION"),
        contact.trim()
    )
}

/// `Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    tonearm_core::net::retry_after(value, std::time::SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
