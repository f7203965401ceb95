//! Signing in from the browser: the worker makes the authorization URL (PKCE, state), the
//! main thread opens it in a popup and hands back the code and state it was redirected
//! with, and the worker checks the state and exchanges the code. Tokens are kept in the
//! library database's `tokens` store and refreshed through the token endpoint (which, as
//! Google's and Microsoft's do, must allow this page's origin).

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use oauth2::AuthorizationCode;
use tonearm_core::auth::{
    Authorization, OAuthApp, StoredTokens, authorize, describe, is_invalid_grant,
};
use tonearm_core::events::{AuthEvent, CoreEvent, EventBus};
use tonearm_plugin_api::{HttpRequest, PluginError, PluginResult};

use crate::capabilities::send_xhr;

/// A sign-in waiting for its popup, by the state it sent.
pub struct PendingSignIn {
    /// The source to add.
    pub name: String,
    /// Its provider plugin.
    pub provider: String,
    /// Its settings.
    pub settings: BTreeMap<String, String>,
    /// The app it signs in with.
    pub app: OAuthApp,
    /// The authorization under way.
    pub authorization: Authorization,
}

/// Starts signing `name` in with `app`; returns the URL to open and the pending sign-in.
pub fn begin(
    name: &str,
    provider: &str,
    settings: BTreeMap<String, String>,
    app: OAuthApp,
    redirect: &str,
) -> Result<PendingSignIn, String> {
    let authorization = authorize(&app, redirect).map_err(|e| e.to_string())?;
    Ok(PendingSignIn {
        name: name.to_owned(),
        provider: provider.to_owned(),
        settings,
        app,
        authorization,
    })
}

/// Seconds since the Unix epoch.
fn now() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

/// The error oauth2 sees when a token request cannot be sent.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SendError(String);

/// Sends oauth2's token requests through the worker's synchronous HTTP.
fn send(request: oauth2::HttpRequest) -> Result<oauth2::HttpResponse, SendError> {
    let (parts, body) = request.into_parts();
    let request = HttpRequest {
        method: parts.method.to_string(),
        url: parts.uri.to_string(),
        headers: parts
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_owned())))
            .collect(),
        body,
    };
    let answer = send_xhr(&request).map_err(|e| SendError(e.to_string()))?;
    let mut response = oauth2::http::Response::builder().status(answer.status);
    for (name, value) in &answer.headers {
        response = response.header(name, value);
    }
    response
        .body(answer.body)
        .map_err(|e| SendError(format!("the token endpoint's answer: {e}")))
}

/// Finishes `pending` with the `code` its redirect carried.
pub fn exchange(pending: PendingSignIn, code: &str) -> Result<StoredTokens, String> {
    let answer = pending
        .authorization
        .client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(pending.authorization.verifier)
        .request(&send)
        .map_err(|e| format!("exchanging the sign-in code failed: {}", describe(&e)))?;
    Ok(StoredTokens::issued(&pending.app, &answer, now()))
}

/// Saves a source's tokens; set by the worker's core, which owns the database.
type Saver = Box<dyn Fn(&str, &StoredTokens)>;

thread_local! {
    static SAVER: std::cell::RefCell<Option<Saver>> = const { std::cell::RefCell::new(None) };
}

/// Makes `save` the way refreshed tokens are kept (IndexedDB handles are not `Send`, so
/// they cannot live in a session that plugins hold).
pub fn set_saver(save: impl Fn(&str, &StoredTokens) + 'static) {
    SAVER.with(|s| *s.borrow_mut() = Some(Box::new(save)));
}

/// One source's tokens in the worker: refreshed ahead of expiry and after a rejection, a
/// dead grant reported once as "sign in again".
pub struct WorkerSession {
    source: String,
    tokens: Mutex<StoredTokens>,
    bus: EventBus,
}

impl std::fmt::Debug for WorkerSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerSession")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// How long before the stated expiry a token is refreshed, in seconds.
const MARGIN_SECS: i64 = 120;

impl WorkerSession {
    /// The session of `source` with its stored `tokens`.
    pub fn new(source: &str, tokens: StoredTokens, bus: EventBus) -> Self {
        Self {
            source: source.to_owned(),
            tokens: Mutex::new(tokens),
            bus,
        }
    }

    /// A live access token, refreshed first if it expires soon.
    pub fn access_token(&self) -> PluginResult<String> {
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        if tokens.expiring(now(), MARGIN_SECS) && tokens.refresh_token.is_some() {
            self.refresh(&mut tokens)?;
        }
        Ok(tokens.access_token.secret().clone())
    }

    /// Refreshes after the service rejected `rejected` (unless that already happened);
    /// returns the token to retry with.
    pub fn refresh_rejected(&self, rejected: &str) -> PluginResult<String> {
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        if tokens.access_token.secret() == rejected {
            self.refresh(&mut tokens)?;
        }
        Ok(tokens.access_token.secret().clone())
    }

    fn refresh(&self, tokens: &mut StoredTokens) -> PluginResult<()> {
        let Some(refresh_token) = tokens.refresh_token.clone() else {
            return Err(self.needs_sign_in("the service gave no refresh token"));
        };
        let client = tokens
            .client()
            .map_err(|e| PluginError::Invalid(e.to_string()))?;
        let answer = match client.exchange_refresh_token(&refresh_token).request(&send) {
            Ok(answer) => answer,
            Err(e) if is_invalid_grant(&e) => return Err(self.needs_sign_in(&describe(&e))),
            Err(e) => {
                return Err(PluginError::Transient(format!(
                    "refreshing the token of source `{}` failed: {}",
                    self.source,
                    describe(&e)
                )));
            }
        };
        tokens.refreshed(&answer, now());
        // A rotating server has just invalidated the old refresh token: keep the new one.
        SAVER.with(|s| {
            if let Some(save) = s.borrow().as_ref() {
                save(&self.source, tokens);
            }
        });
        tracing::info!(source = %self.source, "access token refreshed");
        Ok(())
    }

    fn needs_sign_in(&self, reason: &str) -> PluginError {
        tracing::warn!(source = %self.source, %reason, "sign-in required");
        self.bus.emit(CoreEvent::Auth(AuthEvent::SignInRequired {
            source: self.source.clone(),
            reason: reason.to_owned(),
        }));
        PluginError::Unauthorized(format!(
            "source `{}` needs you to sign in again ({reason})",
            self.source
        ))
    }
}
