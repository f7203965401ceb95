//! Signing a source in to the service it lives in, on every platform: the facade makes
//! the authorization URL (PKCE, state), the platform shows it and hands back the code the
//! redirect carried, and the facade checks the state, exchanges the code through the
//! platform's HTTP, has the platform keep the tokens, and adds the source.
//!
//! Only how the person reaches the URL and how the redirect comes back is the platform's:
//! a browser and a loopback listener for the `tonearm` command, a popup for the web page.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use tonearm_plugin_api::Clock as _;

use super::{Tonearm, TonearmError};
use crate::auth::{self, Authorization, EndpointError, OAuthApp};
use crate::events::{AuthEvent, CoreEvent};
use crate::library::{LibraryStore, Source, StoreError};
use crate::log::SystemClock;
use crate::sources::Capabilities;
use crate::sync::{SyncError, rt};

/// How many sign-ins may wait for their redirect at once; starting one more forgets the
/// oldest (a person who gave up on it).
const MAX_PENDING: usize = 8;

/// Why a sign-in could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The source's provider does not sign in.
    #[error("plugin `{0}` does not sign in")]
    NoOAuth(String),
    /// No OAuth client was given and the source never signed in with one.
    #[error(
        "signing in to `{0}` needs an OAuth client id registered with the service \
         (docs/connect-cloud-drives.md explains how to register one)"
    )]
    NoClient(String),
    /// An endpoint or the redirect URI is not a URL.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// The answer carries a state this core did not hand out, or one already used.
    #[error(
        "the sign-in answer does not match a sign-in started here (state mismatch, or it \
         was used already); start again"
    )]
    UnknownState,
    /// The token endpoint refused the code or could not be reached.
    #[error("exchanging the sign-in code failed: {0}")]
    Exchange(String),
    /// The platform cannot send the token request or keep the tokens.
    #[error("the sign-in of `{source_name}` cannot be kept: {reason}")]
    Platform {
        /// The source.
        source_name: String,
        /// What the platform said.
        reason: String,
    },
}

/// The OAuth client a sign-in uses: the app's registration with the service.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthClient {
    /// The client id.
    pub id: String,
    /// The client secret, for services that want one even from installed apps.
    pub secret: Option<String>,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A sign-in to start: of a new source, or of an existing one again.
#[derive(Debug, Clone)]
pub struct SignIn {
    source: String,
    /// The provider and settings of a source to add once signed in.
    new: Option<(String, BTreeMap<String, String>)>,
    client: Option<OAuthClient>,
    redirect_uri: String,
}

impl SignIn {
    /// Signs in a new source `name` of the storage provider `provider` with `settings`
    /// (`endpoint.authorize` and `endpoint.token` point sign-in elsewhere); the source is
    /// added when the sign-in completes. The service redirects to `redirect_uri`.
    pub fn new_source(
        name: &str,
        provider: &str,
        settings: BTreeMap<String, String>,
        redirect_uri: &str,
    ) -> Self {
        Self {
            source: name.to_owned(),
            new: Some((provider.to_owned(), settings)),
            client: None,
            redirect_uri: redirect_uri.to_owned(),
        }
    }

    /// Signs the existing source `name` in again (its grant was revoked or expired).
    pub fn again(name: &str, redirect_uri: &str) -> Self {
        Self {
            source: name.to_owned(),
            new: None,
            client: None,
            redirect_uri: redirect_uri.to_owned(),
        }
    }

    /// Signs in with `client`; without one, the client the source signed in with before.
    pub fn client(mut self, client: OAuthClient) -> Self {
        self.client = Some(client);
        self
    }
}

/// A started sign-in: where to send the person, and the state that names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInStart {
    /// The authorization URL to open.
    pub url: String,
    /// The state the redirect will carry back; `complete_sign_in` takes it.
    pub state: String,
}

/// A sign-in waiting for its redirect.
struct Pending {
    source: String,
    new: Option<(String, BTreeMap<String, String>)>,
    app: OAuthApp,
    authorization: Authorization,
}

/// The sign-ins waiting for their redirect, oldest first; shared by the facade's clones.
#[derive(Clone, Default)]
pub(super) struct PendingSignIns(Arc<Mutex<VecDeque<Pending>>>);

impl PendingSignIns {
    fn push(&self, pending: Pending) {
        let mut queue = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if queue.len() == MAX_PENDING {
            queue.pop_front();
        }
        queue.push_back(pending);
    }

    fn take(&self, state: &str) -> Option<Pending> {
        let mut queue = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let index = queue
            .iter()
            .position(|p| p.authorization.state.secret() == state)?;
        queue.remove(index)
    }
}

impl<S: LibraryStore, C: Capabilities> Tonearm<S, C> {
    /// Starts signing a source in: returns the URL to send the person to and the state
    /// its redirect will carry. Nothing is stored until [`complete_sign_in`] succeeds.
    ///
    /// [`complete_sign_in`]: Self::complete_sign_in
    pub async fn begin_sign_in(&self, request: SignIn) -> Result<SignInStart, TonearmError> {
        let SignIn {
            source,
            new,
            client,
            redirect_uri,
        } = request;
        let (provider, settings) = match &new {
            Some((provider, settings)) => {
                self.check_new_source(&source, provider)?;
                match self.store().source(&source).await {
                    Ok(_) => {
                        return Err(TonearmError::BadSource {
                            name: source,
                            reason: "a source of that name exists already".into(),
                        });
                    }
                    Err(StoreError::NoSuchSource(_)) => {}
                    Err(e) => return Err(e.into()),
                }
                (provider.clone(), settings.clone())
            }
            None => {
                let existing = self.store().source(&source).await?;
                (existing.provider, existing.settings)
            }
        };
        let manifest = self.registry().info(&provider)?.manifest;
        let spec = manifest
            .capabilities
            .oauth
            .as_ref()
            .ok_or_else(|| SignInError::NoOAuth(provider.clone()))?;
        let client = match client {
            Some(client) => client,
            None => self
                .previous_client(&source)
                .await?
                .ok_or_else(|| SignInError::NoClient(provider.clone()))?,
        };
        let app = auth::app_for(spec, &settings, client.id, client.secret);
        let authorization = auth::authorize(&app, &redirect_uri).map_err(SignInError::from)?;
        let start = SignInStart {
            url: authorization.url.clone(),
            state: authorization.state.secret().clone(),
        };
        tracing::info!(source = %source, %provider, "sign-in started");
        self.sign_ins.push(Pending {
            source,
            new,
            app,
            authorization,
        });
        Ok(start)
    }

    /// Finishes the sign-in `state` names with the `code` its redirect carried: exchanges
    /// the code, has the platform keep the tokens, and adds the source (or returns the
    /// existing one signed in again). A state is good once.
    pub async fn complete_sign_in(&self, state: &str, code: &str) -> Result<Source, TonearmError> {
        let Pending {
            source,
            new,
            app,
            authorization,
        } = self.sign_ins.take(state).ok_or(SignInError::UnknownState)?;
        let platform = |reason: String| SignInError::Platform {
            source_name: source.clone(),
            reason,
        };
        let http = self
            .capabilities()
            .token_http(&app.token_url)
            .map_err(platform)?;
        let code = code.to_owned();
        // The token request blocks on the platform's HTTP, as plugin calls do.
        let tokens = rt::blocking(move || {
            let now = SystemClock.now_unix_ms() / 1000;
            auth::exchange(&app, authorization, code, http.as_ref(), now)
        })
        .await
        .map_err(SyncError::Worker)?
        .map_err(SignInError::Exchange)?;
        self.capabilities()
            .keep_tokens(&source, tokens)
            .await
            .map_err(platform)?;
        tracing::info!(source = %source, "signed in");
        self.bus().emit(CoreEvent::Auth(AuthEvent::SignedIn {
            source: source.clone(),
        }));
        match new {
            Some((provider, settings)) => self.add_source(&source, &provider, settings).await,
            None => self.source(&source).await,
        }
    }

    /// Forgets the sign-in `state` names (the person refused, or gave up); `true` if it
    /// was waiting.
    pub fn cancel_sign_in(&self, state: &str) -> bool {
        self.sign_ins.take(state).is_some()
    }

    /// The client `source` signed in with before, if it did.
    async fn previous_client(&self, source: &str) -> Result<Option<OAuthClient>, TonearmError> {
        let tokens =
            self.capabilities()
                .tokens(source)
                .await
                .map_err(|reason| SignInError::Platform {
                    source_name: source.to_owned(),
                    reason,
                })?;
        Ok(tokens.map(|t| OAuthClient {
            id: t.client_id,
            secret: t.client_secret.map(|s| s.into_secret()),
        }))
    }
}
