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
use tonearm_net::auth::TokenStore;

/// What this machine grants providers: the folder a source names, and the network when
/// the host enabled it.
#[derive(Clone, Default)]
pub struct HostCapabilities {
    network: Option<Network>,
    /// Where signed-in sources' tokens are kept: the network's, or the one an offline
    /// host still forgets removed sources' tokens from.
    tokens: Option<Arc<TokenStore>>,
}

impl HostCapabilities {
    /// Folders only: providers that need the network are refused.
    pub fn offline() -> Self {
        Self::default()
    }

    /// Folders and the network.
    pub fn with_network(network: Network) -> Self {
        Self {
            tokens: Some(network.tokens.clone()),
            network: Some(network),
        }
    }

    /// Folders only, forgetting a removed source's tokens from `tokens`: for a host whose
    /// network stack could not start, so that removing a source still deletes its sign-in.
    pub fn offline_with_tokens(tokens: Arc<TokenStore>) -> Self {
        Self {
            network: None,
            tokens: Some(tokens),
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
        match &self.tokens {
            Some(tokens) => tokens.remove(source).map_err(|e| e.to_string()),
            // No token store: no source signed in through this host.
            None => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn an_offline_host_still_forgets_a_removed_sources_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(TokenStore::new(dir.path().join("auth/tokens.json")));
        let tokens: StoredTokens = serde_json::from_value(serde_json::json!({
            "access_token": "a-secret", "refresh_token": "r-secret", "expires_at": 1,
            "client_id": "client", "authorize_url": "http://127.0.0.1:1/authorize",
            "token_url": "http://127.0.0.1:1/token", "scopes": []
        }))
        .unwrap();
        store.put("drive", &tokens).unwrap();
        let offline = HostCapabilities::offline();
        assert_eq!(offline.forget_tokens("drive").await, Ok(false));
        let keeping = HostCapabilities::offline_with_tokens(store.clone());
        assert_eq!(keeping.forget_tokens("drive").await, Ok(true));
        assert!(store.get("drive").unwrap().is_none(), "the tokens are kept");
    }
}
