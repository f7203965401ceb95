//! Opening a source: the one place where a source's provider is created, with its plugin
//! state and exactly the capabilities its manifest asks for. Sync, playback and the
//! browser worker all open sources here.

use std::sync::Arc;

use tonearm_plugin_api::{HostContext, HttpClient, PluginManifest, StorageProvider};

#[cfg(feature = "oauth")]
use crate::auth::StoredTokens;

use crate::events::EventBus;
use crate::library::{LibraryStore, Source, StateChange};
use crate::plugin::base_context;
use crate::registry::Registry;
use crate::state::BufferedState;
use crate::sync::SyncError;
use crate::{MaybeSend, MaybeSync};

/// Whether metadata source `manifest` asks only for what metadata sources may have on
/// any host; `Err` says what it asks for that they cannot.
pub fn metadata_asks_allowed(manifest: &PluginManifest) -> Result<(), String> {
    let asks = &manifest.capabilities;
    // A catalogue is read with its own keys in its settings, not with a user's sign-in;
    // and it has no folder of the user's to read.
    if asks.oauth.is_some() {
        return Err(format!(
            "metadata source `{}` asks to sign in, which metadata sources cannot",
            manifest.id
        ));
    }
    if asks.filesystem {
        return Err(format!(
            "metadata source `{}` asks for a folder, which metadata sources cannot have",
            manifest.id
        ));
    }
    Ok(())
}

/// What the platform grants a source's provider beyond its settings, log, clock and state:
/// a folder, the network, and the tokens of a source that signed in.
///
/// Only [`grant`](Self::grant) is required. A platform whose sources sign in also keeps
/// their tokens where it keeps secrets (natively an owner-only file, in the browser the
/// library's database) and sends the sign-in's token request; the defaults refuse to.
pub trait Capabilities: MaybeSend + MaybeSync + 'static {
    /// Adds to `ctx` the capabilities `manifest` asks for, for `source`; `Err` says why
    /// the source cannot have them.
    fn grant(
        &self,
        source: &Source,
        manifest: &PluginManifest,
        bus: &EventBus,
        ctx: HostContext,
    ) -> Result<HostContext, String>;

    /// Adds to `ctx` what metadata source `manifest` asks for, given its `settings` (the
    /// user's, such as `endpoint.api`); `Err` says why it cannot have them. Their state
    /// comes with `ctx`, from the library. The default grants only sources that ask for
    /// nothing more.
    fn grant_metadata(
        &self,
        manifest: &PluginManifest,
        settings: &std::collections::BTreeMap<String, String>,
        ctx: HostContext,
    ) -> Result<HostContext, String> {
        let _ = settings;
        let asks = &manifest.capabilities;
        if asks.needs_network() || asks.filesystem || asks.oauth.is_some() {
            return Err(format!(
                "this platform grants metadata sources nothing beyond state, and `{}` needs more",
                manifest.id
            ));
        }
        Ok(ctx)
    }

    /// Waits until metadata source `plugin`'s next request could start within the budgets
    /// of the services it reaches. A host whose HTTP waits for its turn without blocking a
    /// thread (the native one) answers at once; the worker's requests are synchronous, so
    /// it waits here, between calls, instead of inside one.
    fn metadata_turn(&self, plugin: &str) -> impl Future<Output = ()> + MaybeSend {
        let _ = plugin;
        std::future::ready(())
    }

    /// HTTP to the OAuth token endpoint `token_url`, to exchange a sign-in's code.
    fn token_http(&self, token_url: &str) -> Result<Arc<dyn HttpClient>, String> {
        Err(format!(
            "this platform does not sign sources in (no HTTP to {})",
            crate::net::redact(token_url)
        ))
    }

    /// The tokens `source` signed in with, if it did.
    #[cfg(feature = "oauth")]
    fn tokens(
        &self,
        _source: &str,
    ) -> impl Future<Output = Result<Option<StoredTokens>, String>> + MaybeSend {
        async { Ok(None) }
    }

    /// Keeps `source`'s new `tokens` in place of any it had; its requests use them from
    /// now on.
    #[cfg(feature = "oauth")]
    fn keep_tokens(
        &self,
        _source: &str,
        _tokens: StoredTokens,
    ) -> impl Future<Output = Result<(), String>> + MaybeSend {
        async { Err("this platform keeps no sign-ins".to_owned()) }
    }

    /// Forgets `source`'s tokens; `true` if it had any.
    fn forget_tokens(
        &self,
        _source: &str,
    ) -> impl Future<Output = Result<bool, String>> + MaybeSend {
        async { Ok(false) }
    }
}

/// A source's provider, created with its capabilities.
#[derive(Clone)]
pub struct OpenSource {
    /// The provider instance.
    pub provider: Arc<dyn StorageProvider>,
    /// Whether it reaches the network (else its reads are a disk's).
    pub reaches_network: bool,
    /// Its plugin state, saved to the library as a sync progresses.
    state: Option<Arc<BufferedState>>,
}

impl OpenSource {
    /// What the provider changed in its state since the last call, to commit with the
    /// next write to the library.
    pub fn take_state_changes(&self) -> Vec<StateChange> {
        self.state
            .as_ref()
            .map(|state| state.take_changes())
            .unwrap_or_default()
    }
}

/// The sources of one library, opened with one platform's capabilities.
pub struct Sources<S, C> {
    store: S,
    registry: Arc<Registry>,
    capabilities: Arc<C>,
}

impl<S: Clone, C> Clone for Sources<S, C> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            registry: self.registry.clone(),
            capabilities: self.capabilities.clone(),
        }
    }
}

impl<S: LibraryStore, C: Capabilities> Sources<S, C> {
    /// Sources kept in `store`, served by the providers of `registry`.
    pub fn new(store: S, registry: Arc<Registry>, capabilities: Arc<C>) -> Self {
        Self {
            store,
            registry,
            capabilities,
        }
    }

    /// The library the sources are kept in.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The plugins that serve them.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// What the platform grants.
    pub fn capabilities(&self) -> &C {
        &self.capabilities
    }

    /// What the platform grants, shared.
    pub fn shared_capabilities(&self) -> Arc<C> {
        self.capabilities.clone()
    }

    /// Creates the provider instance of `source`, with its saved plugin state and exactly
    /// the capabilities its manifest asks for.
    pub async fn open(&self, source: &Source) -> Result<OpenSource, SyncError> {
        let factory = self.registry.provider(&source.provider)?;
        let manifest = self.registry.info(&source.provider)?.manifest;
        let mut ctx = base_context(&manifest.id);
        ctx.settings = source.settings.clone();
        let state = if manifest.capabilities.state {
            let values = self.store.load_state(source.id).await?;
            let state = Arc::new(BufferedState::new(values));
            ctx = ctx.with_state(state.clone());
            Some(state)
        } else {
            None
        };
        let ctx = self
            .capabilities
            .grant(source, &manifest, self.registry.bus(), ctx)
            .map_err(|reason| SyncError::Config {
                source_name: source.name.clone(),
                reason,
            })?;
        let provider = factory.create(&ctx).map_err(|error| SyncError::Provider {
            provider: manifest.id,
            error,
        })?;
        Ok(OpenSource {
            provider,
            reaches_network: manifest.capabilities.needs_network(),
            state,
        })
    }
}
