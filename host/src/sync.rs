//! Sync on this machine: the core's engine over the SQLite library, with providers granted
//! a local folder and the network.

use std::sync::Arc;

use tonearm_core::auth::StoredTokens;
use tonearm_core::net::{allowed_hosts, host_of, rate_limits, redact};
use tonearm_core::sources::Capabilities;
use tonearm_plugin_api::{HostContext, HttpClient, PluginManifest};

use crate::capabilities::GrantedFolder;
use crate::events::EventBus;
use tonearm_core::library::Source;
use tonearm_store_sqlite::SqliteStore;

#[doc(inline)]
pub use tonearm_core::sources::OpenSource;
#[doc(inline)]
pub use tonearm_core::sync::{ReadLimits, RetryPolicy, RetryingProvider, SyncError, SyncOptions};

/// The sync engine as the native host runs it.
pub type Syncer = tonearm_core::sync::Syncer<SqliteStore, HostCapabilities>;

/// The Tonearm facade as a native app embeds it: the SQLite library, this machine's
/// folders and network.
pub type Tonearm = tonearm_core::Tonearm<SqliteStore, HostCapabilities>;

use tonearm_net::Network;

/// What this machine grants providers: the folder a source names, and the network when
/// the host enabled it.
#[derive(Clone, Default)]
pub struct HostCapabilities {
    network: Option<Network>,
}

impl HostCapabilities {
    /// Folders only: providers that need the network are refused.
    pub fn offline() -> Self {
        Self::default()
    }

    /// Folders and the network.
    pub fn with_network(network: Network) -> Self {
        Self {
            network: Some(network),
        }
    }
}

impl HostCapabilities {
    fn network(&self) -> Result<&Network, String> {
        self.network
            .as_ref()
            .ok_or_else(|| "this host did not enable the network".to_owned())
    }
}

impl Capabilities for HostCapabilities {
    fn grant(
        &self,
        source: &Source,
        manifest: &PluginManifest,
        bus: &EventBus,
        mut ctx: HostContext,
    ) -> Result<HostContext, String> {
        if manifest.capabilities.filesystem {
            let root = source
                .settings
                .get("root")
                .ok_or("it has no `root` folder setting")?;
            let folder =
                GrantedFolder::new(root).map_err(|e| format!("cannot open folder {root}: {e}"))?;
            ctx = ctx.with_fs(Arc::new(folder));
        }
        if manifest.capabilities.needs_network() {
            let network = self
                .network()
                .map_err(|e| format!("its provider needs the network: {e}"))?;
            let http = network
                .http
                .client_for_source(
                    manifest,
                    &source.name,
                    &source.settings,
                    &network.tokens,
                    bus,
                )
                .map_err(|e| e.to_string())?;
            ctx = ctx.with_http(http);
        }
        Ok(ctx)
    }

    fn grant_metadata(
        &self,
        manifest: &PluginManifest,
        settings: &std::collections::BTreeMap<String, String>,
        mut ctx: HostContext,
    ) -> Result<HostContext, String> {
        tonearm_core::sources::metadata_asks_allowed(manifest)?;
        let asks = &manifest.capabilities;
        if asks.needs_network() {
            let network = self
                .network()
                .map_err(|e| format!("metadata source `{}` needs the network: {e}", manifest.id))?;
            let http = network
                .http
                .client_for(
                    &manifest.id,
                    allowed_hosts(&asks.http_hosts, settings),
                    &rate_limits(&asks.rate_limits, settings),
                    None,
                )
                .map_err(|e| e.to_string())?;
            ctx = ctx.with_http(http);
        }
        Ok(ctx)
    }

    fn token_http(&self, token_url: &str) -> Result<Arc<dyn HttpClient>, String> {
        let host = host_of(token_url)
            .ok_or_else(|| format!("the token endpoint {} is not a URL", redact(token_url)))?;
        self.network()?
            .http
            .client_for("oauth", vec![host], &[], None)
            .map_err(|e| e.to_string())
    }

    async fn tokens(&self, source: &str) -> Result<Option<StoredTokens>, String> {
        self.network()?
            .tokens
            .get(source)
            .map_err(|e| e.to_string())
    }

    async fn keep_tokens(&self, source: &str, tokens: StoredTokens) -> Result<(), String> {
        self.network()?
            .tokens
            .put(source, &tokens)
            .map_err(|e| e.to_string())
    }

    async fn forget_tokens(&self, source: &str) -> Result<bool, String> {
        match &self.network {
            Some(network) => network.tokens.remove(source).map_err(|e| e.to_string()),
            // Without the network no source signed in here.
            None => Ok(false),
        }
    }
}
