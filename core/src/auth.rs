//! OAuth 2 as both hosts sign in with it (through the `oauth2` crate): the client
//! registration, the authorization URL with PKCE, the code exchange over the platform's
//! [`HttpClient`], the tokens kept per source, and token errors described without anything
//! secret. How the code comes back (a loopback listener natively, a popup in the browser)
//! is each platform's; the facade's `begin_sign_in` and `complete_sign_in` do the rest.

use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AccessToken, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError,
    Scope, StandardErrorResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use tonearm_plugin_api::HttpClient;

/// An OAuth client registration and the endpoints it signs in at.
#[derive(Clone)]
pub struct OAuthApp {
    /// The client id registered with the service.
    pub client_id: String,
    /// The client secret, for services that want one from installed apps.
    pub client_secret: Option<String>,
    /// The authorization endpoint.
    pub authorize_url: String,
    /// The token endpoint.
    pub token_url: String,
    /// The scopes to ask for.
    pub scopes: Vec<String>,
    /// Extra authorization parameters (Google's `access_type=offline`, …).
    pub authorize_params: Vec<(String, String)>,
}

impl std::fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthApp")
            .field("client_id", &self.client_id)
            .field("authorize_url", &self.authorize_url)
            .field("token_url", &self.token_url)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// An OAuth endpoint that is not a URL.
#[derive(Debug, Clone, thiserror::Error)]
#[error("bad OAuth endpoint {url}: {reason}")]
pub struct EndpointError {
    /// The URL.
    pub url: String,
    /// Why.
    pub reason: String,
}

/// An oauth2 client with an authorization and a token endpoint.
pub type Client =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// The oauth2 client of a registration at its endpoints.
pub fn client(
    client_id: &str,
    client_secret: Option<&str>,
    authorize_url: &str,
    token_url: &str,
) -> Result<Client, EndpointError> {
    let bad = |url: &str| {
        let url = url.to_owned();
        move |e: oauth2::url::ParseError| EndpointError {
            url,
            reason: e.to_string(),
        }
    };
    let client = BasicClient::new(ClientId::new(client_id.to_owned()))
        .set_auth_uri(AuthUrl::new(authorize_url.to_owned()).map_err(bad(authorize_url))?)
        .set_token_uri(TokenUrl::new(token_url.to_owned()).map_err(bad(token_url))?);
    Ok(match client_secret {
        Some(secret) => client.set_client_secret(ClientSecret::new(secret.to_owned())),
        None => client,
    })
}

/// The error of a token request, by the server's `error` code where it sent one.
pub type TokenError<E> = RequestTokenError<E, StandardErrorResponse<BasicErrorResponseType>>;

/// Whether a token request failed because the grant itself is dead.
pub fn is_invalid_grant<E: std::error::Error>(e: &TokenError<E>) -> bool {
    matches!(e, RequestTokenError::ServerResponse(r) if *r.error() == BasicErrorResponseType::InvalidGrant)
}

/// A token request error as text, without anything secret (the server's error code and
/// description, or the transport error).
pub fn describe<E: std::error::Error>(e: &TokenError<E>) -> String {
    match e {
        RequestTokenError::ServerResponse(r) => match r.error_description() {
            Some(d) => format!("{}: {d}", r.error()),
            None => r.error().to_string(),
        },
        RequestTokenError::Request(e) => format!("request failed: {e}"),
        RequestTokenError::Parse(e, _) => format!("the token endpoint answered nonsense: {e}"),
        RequestTokenError::Other(e) => e.clone(),
    }
}

/// The tokens of one source.
#[derive(Clone, Serialize, Deserialize)]
pub struct StoredTokens {
    /// The access token.
    pub access_token: AccessToken,
    /// The refresh token, if the server gave one.
    pub refresh_token: Option<RefreshToken>,
    /// When the access token expires, in seconds since the Unix epoch, if stated.
    pub expires_at: Option<i64>,
    /// The OAuth client the tokens were issued to.
    pub client_id: String,
    /// The client secret, for the providers whose "installed app" flow still wants one.
    #[serde(default)]
    pub client_secret: Option<oauth2::ClientSecret>,
    /// The authorization endpoint signed in with.
    pub authorize_url: String,
    /// The token endpoint to refresh at.
    pub token_url: String,
    /// The scopes asked for.
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for StoredTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Only what is not secret.
        f.debug_struct("StoredTokens")
            .field("expires_at", &self.expires_at)
            .field("client_id", &self.client_id)
            .field("token_url", &self.token_url)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl StoredTokens {
    /// The tokens of a token endpoint's `answer` to `app`'s sign-in, issued at `now`
    /// (seconds since the Unix epoch).
    pub fn issued<T: TokenResponse>(app: &OAuthApp, answer: &T, now: i64) -> Self {
        Self {
            access_token: answer.access_token().clone(),
            refresh_token: answer.refresh_token().cloned(),
            expires_at: answer.expires_in().map(|d| now + d.as_secs() as i64),
            client_id: app.client_id.clone(),
            client_secret: app.client_secret.clone().map(ClientSecret::new),
            authorize_url: app.authorize_url.clone(),
            token_url: app.token_url.clone(),
            scopes: app.scopes.clone(),
        }
    }

    /// Takes a refresh `answer` in: a new access token and expiry, and a rotated refresh
    /// token if the server sent one.
    pub fn refreshed<T: TokenResponse>(&mut self, answer: &T, now: i64) {
        self.access_token = answer.access_token().clone();
        self.expires_at = answer.expires_in().map(|d| now + d.as_secs() as i64);
        if let Some(rotated) = answer.refresh_token() {
            self.refresh_token = Some(rotated.clone());
        }
    }

    /// Whether the access token expires within `margin_secs` of `now`.
    pub fn expiring(&self, now: i64, margin_secs: i64) -> bool {
        self.expires_at.is_some_and(|at| at - margin_secs <= now)
    }

    /// The oauth2 client these tokens were issued to.
    pub fn client(&self) -> Result<Client, EndpointError> {
        client(
            &self.client_id,
            self.client_secret.as_ref().map(|s| s.secret().as_str()),
            &self.authorize_url,
            &self.token_url,
        )
    }
}

/// A sign-in under way: the URL to send the person to, and what checks and completes the
/// answer. Its `Debug` shows nothing secret.
pub struct Authorization {
    /// The authorization URL (with the PKCE challenge and the state).
    pub url: String,
    /// The client, with its redirect URL.
    pub client: Client,
    /// The state the redirect must carry back.
    pub state: CsrfToken,
    /// The PKCE verifier the code is exchanged with.
    pub verifier: PkceCodeVerifier,
}

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorization").finish_non_exhaustive()
    }
}

/// Starts the authorization code grant with PKCE (S256) for `app`, redirecting to
/// `redirect`.
pub fn authorize(app: &OAuthApp, redirect: &str) -> Result<Authorization, EndpointError> {
    let client = client(
        &app.client_id,
        app.client_secret.as_deref(),
        &app.authorize_url,
        &app.token_url,
    )?
    .set_redirect_uri(
        RedirectUrl::new(redirect.to_owned()).map_err(|e| EndpointError {
            url: redirect.to_owned(),
            reason: e.to_string(),
        })?,
    );
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(app.scopes.iter().cloned().map(Scope::new))
        .set_pkce_challenge(challenge);
    for (k, v) in &app.authorize_params {
        request = request.add_extra_param(k.clone(), v.clone());
    }
    let (url, state) = request.url();
    Ok(Authorization {
        url: url.to_string(),
        client,
        state,
        verifier,
    })
}

/// The app a provider's manifest signs in with, for `client_id`; `settings` may point the
/// endpoints elsewhere (`endpoint.authorize`, `endpoint.token`: a test server, a tenant).
pub fn app_for(
    spec: &tonearm_plugin_api::OAuthSpec,
    settings: &std::collections::BTreeMap<String, String>,
    client_id: String,
    client_secret: Option<String>,
) -> OAuthApp {
    let endpoint = |key: &str, default: &str| {
        settings
            .get(key)
            .cloned()
            .unwrap_or_else(|| default.to_owned())
    };
    OAuthApp {
        client_id,
        client_secret,
        authorize_url: endpoint("endpoint.authorize", &spec.authorize_url),
        token_url: endpoint("endpoint.token", &spec.token_url),
        scopes: spec.scopes.clone(),
        authorize_params: spec.authorize_params.clone(),
    }
}

/// The origins (`scheme://host:port`) that receive a source's access token: its configured
/// API endpoint, else the manifest's token hosts.
pub fn token_origins(
    spec: &tonearm_plugin_api::OAuthSpec,
    settings: &std::collections::BTreeMap<String, String>,
) -> Vec<String> {
    match settings.get("endpoint.api") {
        Some(api) => vec![crate::net::origin(api)],
        None => spec
            .token_hosts
            .iter()
            .map(|h| format!("https://{}:443", h.to_ascii_lowercase()))
            .collect(),
    }
}

/// A token request that could not be sent (the platform's HTTP refused or failed).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(String);

/// oauth2's token requests sent through a platform [`HttpClient`]: the blocking form
/// oauth2 calls a synchronous HTTP client.
pub fn send_with(
    http: &dyn HttpClient,
) -> impl Fn(oauth2::HttpRequest) -> Result<oauth2::HttpResponse, TransportError> + '_ {
    move |request| {
        let (parts, body) = request.into_parts();
        let request = tonearm_plugin_api::HttpRequest {
            method: parts.method.to_string(),
            url: parts.uri.to_string(),
            headers: parts
                .headers
                .iter()
                .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_owned())))
                .collect(),
            body,
        };
        let answer = http
            .send(request)
            .map_err(|e| TransportError(e.to_string()))?;
        let mut response = oauth2::http::Response::builder().status(answer.status);
        for (name, value) in &answer.headers {
            response = response.header(name, value);
        }
        response
            .body(answer.body)
            .map_err(|e| TransportError(format!("the token endpoint's answer: {e}")))
    }
}

/// Finishes `authorization` for `app`: exchanges the `code` its redirect carried (with the
/// PKCE verifier) at the token endpoint, through `http`; the tokens are issued at `now`
/// (seconds since the Unix epoch). `Err` says why without anything secret.
pub fn exchange(
    app: &OAuthApp,
    authorization: Authorization,
    code: String,
    http: &dyn HttpClient,
    now: i64,
) -> Result<StoredTokens, String> {
    let answer = authorization
        .client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(authorization.verifier)
        .request(&send_with(http))
        .map_err(|e| describe(&e))?;
    Ok(StoredTokens::issued(app, &answer, now))
}
