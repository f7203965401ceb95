//! A signed-in source's tokens, kept fresh: refreshed ahead of expiry and after a
//! rejection, rotated refresh tokens saved at once, a dead grant reported once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tonearm_core::auth::{describe, is_invalid_grant};

use super::{AuthError, StoredTokens, TokenStore};
use tonearm_core::events::{AuthEvent, CoreEvent, EventBus};

/// Seconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The tokens of one source, shared by every request made for it.
pub struct AuthSession {
    source: String,
    store: Arc<TokenStore>,
    http: reqwest::Client,
    bus: EventBus,
    /// How long before the stated expiry a token is refreshed.
    margin: Duration,
    tokens: Mutex<StoredTokens>,
}

impl std::fmt::Debug for AuthSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSession")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl AuthSession {
    /// The session of `source`, from its stored tokens; `None` if it never signed in.
    pub fn load(
        source: &str,
        store: Arc<TokenStore>,
        http: reqwest::Client,
        bus: EventBus,
    ) -> Result<Option<Arc<Self>>, AuthError> {
        let Some(tokens) = store.get(source)? else {
            return Ok(None);
        };
        Ok(Some(Arc::new(Self {
            source: source.to_owned(),
            store,
            http,
            bus,
            margin: Duration::from_secs(120),
            tokens: Mutex::new(tokens),
        })))
    }

    /// A live access token, refreshed first if it expires within the margin.
    pub async fn access_token(&self) -> Result<String, AuthError> {
        let mut tokens = self.tokens.lock().await;
        let expiring = tokens.expiring(now(), self.margin.as_secs() as i64);
        if expiring && tokens.refresh_token.is_some() {
            self.refresh(&mut tokens).await?;
        }
        Ok(tokens.access_token.secret().clone())
    }

    /// Refreshes after the service rejected `rejected`, unless another request already
    /// did; returns the token to retry with.
    pub async fn refresh_rejected(&self, rejected: &str) -> Result<String, AuthError> {
        let mut tokens = self.tokens.lock().await;
        if tokens.access_token.secret() == rejected {
            self.refresh(&mut tokens).await?;
        }
        Ok(tokens.access_token.secret().clone())
    }

    async fn refresh(&self, tokens: &mut StoredTokens) -> Result<(), AuthError> {
        let Some(refresh_token) = tokens.refresh_token.clone() else {
            return Err(self.needs_sign_in("the service gave no refresh token"));
        };
        let failed = |reason: String| AuthError::Refresh {
            source_name: self.source.clone(),
            reason,
        };
        let oauth = tokens.client().map_err(|e| failed(e.to_string()))?;
        let http = self.http.clone();
        let send = move |r| send(http.clone(), r);
        let answer = oauth
            .exchange_refresh_token(&refresh_token)
            .request_async(&send)
            .await;
        let answer = match answer {
            Ok(a) => a,
            Err(e) if is_invalid_grant(&e) => return Err(self.needs_sign_in(&describe(&e))),
            Err(e) => return Err(failed(describe(&e))),
        };
        tokens.refreshed(&answer, now());
        // A rotating server invalidates the old refresh token now: the new one must be
        // on disk before anything else can go wrong.
        self.store.put(&self.source, tokens)?;
        tracing::info!(source = %self.source, "access token refreshed");
        Ok(())
    }

    fn needs_sign_in(&self, reason: &str) -> AuthError {
        tracing::warn!(source = %self.source, %reason, "sign-in required");
        self.bus.emit(CoreEvent::Auth(AuthEvent::SignInRequired {
            source: self.source.clone(),
            reason: reason.to_owned(),
        }));
        AuthError::NeedsSignIn {
            source_name: self.source.clone(),
            reason: reason.to_owned(),
        }
    }
}

/// Sends oauth2's requests with the host's reqwest client.
async fn send(
    client: reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, reqwest::Error> {
    let (parts, body) = request.into_parts();
    let span = tracing::info_span!("oauth", url = %crate::http::redact(&parts.uri.to_string()));
    let _enter = span.enter();
    let response = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    tracing::debug!(
        status = response.status().as_u16(),
        "token endpoint answered"
    );
    let mut answer = oauth2::http::Response::builder().status(response.status());
    if let Some(headers) = answer.headers_mut() {
        *headers = response.headers().clone();
    }
    let body = response.bytes().await?.to_vec();
    // The builder only fails on invalid parts, and these came from a parsed response.
    Ok(answer
        .body(body)
        .unwrap_or_else(|_| oauth2::http::Response::new(Vec::new())))
}
