//! A fake OAuth 2 authorization server: the authorization code grant with PKCE (S256),
//! refresh with rotation, expiry and `invalid_grant`, as RFC 6749 and RFC 7636 describe.
//!
//! `/authorize` approves at once (there is no person to ask) and redirects to the client's
//! loopback `redirect_uri` with a code and the client's `state`. The API fakes ask
//! [`Authority::check`] whether a bearer token is valid.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::Server;

#[derive(Debug)]
struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    scope: String,
}

#[derive(Debug, Default)]
struct AuthState {
    codes: HashMap<String, Grant>,
    access: HashMap<String, Instant>,
    /// Refresh token → the scope it grants.
    refresh: HashMap<String, String>,
    serial: u64,
    access_lifetime: Option<Duration>,
    rotate: bool,
    deny_next: bool,
    refreshes: u64,
    last_refresh: Option<Instant>,
    code_exchanges: u64,
}

/// The token authority shared by the OAuth server and the API fakes.
#[derive(Clone, Default)]
pub struct Authority(Arc<Mutex<AuthState>>);

impl Authority {
    fn state(&self) -> std::sync::MutexGuard<'_, AuthState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `authorization` (a whole `Authorization` header value) carries a live token.
    pub fn check(&self, authorization: Option<&str>) -> bool {
        let Some(token) = authorization.and_then(|h| h.strip_prefix("Bearer ")) else {
            return false;
        };
        self.state()
            .access
            .get(token)
            .is_some_and(|expires| Instant::now() < *expires)
    }

    /// Makes every access token issued so far expire now.
    pub fn expire_access_tokens(&self) {
        let now = Instant::now();
        for expires in self.state().access.values_mut() {
            *expires = now;
        }
    }

    /// Revokes every refresh token: the next refresh fails with `invalid_grant`.
    pub fn revoke_refresh_tokens(&self) {
        self.state().refresh.clear();
    }

    /// Sets how long new access tokens live (default one hour).
    pub fn set_access_lifetime(&self, lifetime: Duration) {
        self.state().access_lifetime = Some(lifetime);
    }

    /// Whether a refresh issues a new refresh token and invalidates the old one (as
    /// Microsoft's identity platform does); off by default (as Google does).
    pub fn set_rotation(&self, rotate: bool) {
        self.state().rotate = rotate;
    }

    /// Makes the next `/authorize` answer `error=access_denied`, as when a person declines.
    pub fn deny_next_authorization(&self) {
        self.state().deny_next = true;
    }

    /// Successful refresh grants so far.
    pub fn refreshes(&self) -> u64 {
        self.state().refreshes
    }

    /// When the latest successful refresh was granted, if one was.
    pub fn last_refresh(&self) -> Option<Instant> {
        self.state().last_refresh
    }

    /// Successful code exchanges so far.
    pub fn code_exchanges(&self) -> u64 {
        self.state().code_exchanges
    }

    /// The refresh tokens currently valid.
    pub fn live_refresh_tokens(&self) -> Vec<String> {
        self.state().refresh.keys().cloned().collect()
    }

    /// Issues a token pair directly, as if someone had signed in (for tests and benchmarks
    /// that are not about sign-in).
    pub fn issue(&self, scope: &str) -> TokenPair {
        let mut state = self.state();
        issue(&mut state, scope, true)
    }
}

/// An access token and a refresh token.
#[derive(Debug, Clone)]
pub struct TokenPair {
    /// The access token.
    pub access_token: String,
    /// The refresh token.
    pub refresh_token: String,
    /// Seconds the access token lives.
    pub expires_in: u64,
}

fn issue(state: &mut AuthState, scope: &str, with_refresh: bool) -> TokenPair {
    state.serial += 1;
    let lifetime = state.access_lifetime.unwrap_or(Duration::from_secs(3600));
    let access_token = format!("fake-access-{}-{}", state.serial, nonce());
    let refresh_token = format!("fake-refresh-{}-{}", state.serial, nonce());
    state
        .access
        .insert(access_token.clone(), Instant::now() + lifetime);
    if with_refresh {
        state
            .refresh
            .insert(refresh_token.clone(), scope.to_owned());
    }
    TokenPair {
        access_token,
        refresh_token,
        expires_in: lifetime.as_secs(),
    }
}

/// Unpredictable enough for a fake: the tests check that these never reach a log.
fn nonce() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("{:016x}", h.finish())
}

/// A running fake authorization server.
pub struct FakeOAuth {
    server: Server,
    authority: Authority,
}

impl FakeOAuth {
    /// Starts one on a free port.
    pub fn start() -> std::io::Result<Self> {
        Self::start_on(Authority::default(), 0)
    }

    /// Starts one for `authority` on `port` (0 for any).
    pub fn start_on(authority: Authority, port: u16) -> std::io::Result<Self> {
        let router = Router::new()
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(authority.clone());
        Ok(Self {
            server: Server::start(router, port)?,
            authority,
        })
    }

    /// The authorization endpoint.
    pub fn authorize_url(&self) -> String {
        format!("{}/authorize", self.server.url())
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.server.url())
    }

    /// The token authority, shared with the API fakes.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

async fn authorize(State(auth): State<Authority>, Query(q): Query<AuthorizeQuery>) -> Response {
    let Some(redirect_uri) = q.redirect_uri.filter(|u| is_loopback(u)) else {
        return (
            StatusCode::BAD_REQUEST,
            "redirect_uri missing or not a loopback address",
        )
            .into_response();
    };
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    let state_param = q
        .state
        .as_deref()
        .map(|s| format!("&state={}", encode(s)))
        .unwrap_or_default();
    let fail = |error: &str| found(&format!("{redirect_uri}{sep}error={error}{state_param}"));
    if q.response_type.as_deref() != Some("code") {
        return fail("unsupported_response_type");
    }
    let (Some(client_id), Some(challenge)) = (q.client_id, q.code_challenge) else {
        return fail("invalid_request");
    };
    if q.code_challenge_method.as_deref() != Some("S256") {
        return fail("invalid_request");
    }
    let mut state = auth.state();
    if std::mem::take(&mut state.deny_next) {
        return fail("access_denied");
    }
    state.serial += 1;
    let code = format!("fake-code-{}-{}", state.serial, nonce());
    state.codes.insert(
        code.clone(),
        Grant {
            client_id,
            redirect_uri: redirect_uri.clone(),
            challenge,
            scope: q.scope.unwrap_or_default(),
        },
    );
    found(&format!(
        "{redirect_uri}{sep}code={}{state_param}",
        encode(&code)
    ))
}

/// 302 Found, as authorization servers redirect.
fn found(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location.to_owned())]).into_response()
}

fn is_loopback(uri: &str) -> bool {
    ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"]
        .iter()
        .any(|p| uri.starts_with(p))
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: String,
    code: Option<String>,
    redirect_uri: Option<String>,
    client_id: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
}

fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

async fn token(
    State(auth): State<Authority>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    // Public clients send client_id in the body; confidential ones may use Basic auth.
    let basic_client = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(id, _)| id.to_owned()));
    let client_id = form.client_id.clone().or(basic_client);
    let mut state = auth.state();
    let pair = match form.grant_type.as_str() {
        "authorization_code" => {
            let Some(grant) = form.code.as_deref().and_then(|c| state.codes.remove(c)) else {
                return oauth_error("invalid_grant", "unknown or already used code");
            };
            if client_id.as_deref() != Some(grant.client_id.as_str()) {
                return oauth_error("invalid_client", "client_id does not match the code");
            }
            if form.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
                return oauth_error("invalid_grant", "redirect_uri does not match");
            }
            let Some(verifier) = form.code_verifier else {
                return oauth_error("invalid_request", "code_verifier missing");
            };
            let digest = Sha256::digest(verifier.as_bytes());
            let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
            if expected != grant.challenge {
                return oauth_error("invalid_grant", "PKCE verification failed");
            }
            state.code_exchanges += 1;
            issue(&mut state, &grant.scope, true)
        }
        "refresh_token" => {
            let Some(old) = form.refresh_token else {
                return oauth_error("invalid_request", "refresh_token missing");
            };
            let Some(scope) = state.refresh.get(&old).cloned() else {
                return oauth_error("invalid_grant", "the refresh token is invalid or revoked");
            };
            state.refreshes += 1;
            state.last_refresh = Some(Instant::now());
            if state.rotate {
                state.refresh.remove(&old);
                issue(&mut state, &scope, true)
            } else {
                let mut pair = issue(&mut state, &scope, false);
                pair.refresh_token = old;
                pair
            }
        }
        _ => return oauth_error("unsupported_grant_type", "unsupported grant_type"),
    };
    let mut body = serde_json::json!({
        "access_token": pair.access_token,
        "token_type": "Bearer",
        "expires_in": pair.expires_in,
    });
    // Google sends no new refresh token on refresh; rotating servers always do.
    if form.grant_type == "authorization_code" || state.rotate {
        body["refresh_token"] = pair.refresh_token.into();
    }
    ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}
