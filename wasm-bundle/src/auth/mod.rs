//! Signed-in sources in the browser. Signing in is the facade's (`begin_sign_in`,
//! `complete_sign_in`; the main thread shows the popup); the worker keeps the tokens in
//! the library database's `tokens` store, and first in a [`TokenJournal`], and refreshes
//! them through the token endpoint (which, as Google's and Microsoft's do, must allow
//! this page's origin).

mod journal;

use std::sync::{Mutex, PoisonError};

use tonearm_core::auth::{StoredTokens, describe, is_invalid_grant, send_with};
use tonearm_core::events::{AuthEvent, CoreEvent, EventBus};
use tonearm_core::net::host_of;
use tonearm_plugin_api::{PluginError, PluginResult};

use crate::capabilities::WorkerHttp;

pub use journal::TokenJournal;

/// Seconds since the Unix epoch.
fn now() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
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
        let http = WorkerHttp::new("oauth", host_of(&tokens.token_url).into_iter().collect());
        let answer = match client
            .exchange_refresh_token(&refresh_token)
            .request(&send_with(&http))
        {
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
