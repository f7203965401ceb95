//! What the worker grants plugins: the folders picked in this session, and HTTP within
//! the hosts a plugin declared, signed in with the source's tokens, paced and cached for
//! metadata sources.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;

#[cfg(feature = "_oauth")]
use tonearm_core::auth::{StoredTokens, token_origins};
use tonearm_core::events::EventBus;
use tonearm_core::library::Source;
#[cfg(feature = "_http")]
use tonearm_core::net::{allowed_hosts, rate_limits};
use tonearm_core::sources::Capabilities;
use tonearm_plugin_api::{HostContext, PluginManifest};

#[cfg(feature = "_oauth")]
use crate::auth::{TokenJournal, WorkerSession};
#[cfg(feature = "_oauth")]
use crate::library::IndexedDbStore;

use super::PickedFolder;
#[cfg(feature = "_http")]
use super::{WorkerHttp, WorkerNet};

/// What the worker grants providers: the folders picked in this session, and HTTP with the
/// source's tokens, which it keeps in the library's database.
#[derive(Clone)]
pub(crate) struct WorkerCapabilities {
    pub(crate) folders: Rc<RefCell<HashMap<String, Arc<PickedFolder>>>>,
    #[cfg(feature = "_oauth")]
    pub(crate) sessions: Rc<RefCell<HashMap<String, Arc<WorkerSession>>>>,
    /// The library, where tokens are kept; opened by `init`.
    #[cfg(feature = "_oauth")]
    pub(crate) library: Rc<RefCell<Option<IndexedDbStore>>>,
    /// The synchronous copy of the tokens, where the browser allows one; opened by `init`.
    #[cfg(feature = "_oauth")]
    pub(crate) journal: Rc<RefCell<Option<Rc<TokenJournal>>>>,
    #[cfg(feature = "_oauth")]
    pub(crate) bus: EventBus,
    /// The services' budgets and the HTTP cache every metadata source shares.
    #[cfg(feature = "_http")]
    pub(crate) net: Arc<WorkerNet>,
}

impl Capabilities for WorkerCapabilities {
    fn grant(
        &self,
        source: &Source,
        manifest: &PluginManifest,
        _bus: &EventBus,
        mut ctx: HostContext,
    ) -> Result<HostContext, String> {
        if manifest.capabilities.filesystem {
            let folder = self
                .folders
                .borrow()
                .get(&source.name)
                .cloned()
                .ok_or_else(|| {
                    format!(
                        "pick the folder of `{}` again: browsers forget picked files when the page \
                     reloads",
                        source.name
                    )
                })?;
            ctx = ctx.with_fs(folder);
        }
        if manifest.capabilities.needs_network() {
            ctx = ctx.with_http(self.network(source, manifest)?);
        }
        Ok(ctx)
    }

    fn grant_metadata(
        &self,
        manifest: &PluginManifest,
        settings: &BTreeMap<String, String>,
        ctx: HostContext,
    ) -> Result<HostContext, String> {
        tonearm_core::sources::metadata_asks_allowed(manifest)?;
        if !manifest.capabilities.needs_network() {
            return Ok(ctx);
        }
        self.metadata_http(manifest, settings, ctx)
    }

    #[cfg(feature = "_http")]
    async fn metadata_turn(&self, plugin: &str) {
        self.net.turn(plugin).await;
    }

    #[cfg(feature = "_oauth")]
    fn token_http(
        &self,
        token_url: &str,
    ) -> Result<Arc<dyn tonearm_plugin_api::HttpClient>, String> {
        let host = tonearm_core::net::host_of(token_url)
            .ok_or_else(|| format!("the token endpoint {token_url} is not a URL"))?;
        Ok(Arc::new(WorkerHttp::new("oauth", vec![host])))
    }

    #[cfg(feature = "_oauth")]
    async fn tokens(&self, source: &str) -> Result<Option<StoredTokens>, String> {
        if let Some(tokens) = self.journal().and_then(|j| j.get(source)) {
            return Ok(Some(tokens));
        }
        self.library()?
            .load_tokens(source)
            .await
            .map_err(|e| e.to_string())
    }

    #[cfg(feature = "_oauth")]
    async fn keep_tokens(&self, source: &str, tokens: StoredTokens) -> Result<(), String> {
        if let Some(journal) = self.journal() {
            journal.put(source, &tokens)?;
        }
        self.library()?
            .save_tokens(source, &tokens)
            .await
            .map_err(|e| e.to_string())?;
        self.start_session(source, tokens);
        Ok(())
    }

    #[cfg(feature = "_oauth")]
    async fn forget_tokens(&self, source: &str) -> Result<bool, String> {
        let had = self.sessions.borrow_mut().remove(source).is_some();
        if let Some(journal) = self.journal() {
            journal.remove(source)?;
        }
        self.library()?
            .delete_tokens(source)
            .await
            .map_err(|e| e.to_string())?;
        Ok(had)
    }
}

#[cfg(feature = "_oauth")]
impl WorkerCapabilities {
    fn library(&self) -> Result<IndexedDbStore, String> {
        self.library
            .borrow()
            .clone()
            .ok_or_else(|| "the library is not open: call `init` first".to_owned())
    }

    fn journal(&self) -> Option<Rc<TokenJournal>> {
        self.journal.borrow().clone()
    }

    /// Uses `tokens` for `source`'s requests from now on.
    pub(crate) fn start_session(&self, source: &str, tokens: StoredTokens) {
        let session = WorkerSession::new(source, tokens, self.bus.clone());
        self.sessions
            .borrow_mut()
            .insert(source.to_owned(), Arc::new(session));
    }
}

impl WorkerCapabilities {
    /// HTTP for a metadata source: to its declared hosts and configured endpoints, within
    /// the services' budgets, through the worker's HTTP cache.
    #[cfg(feature = "_http")]
    fn metadata_http(
        &self,
        manifest: &PluginManifest,
        settings: &BTreeMap<String, String>,
        ctx: HostContext,
    ) -> Result<HostContext, String> {
        let asks = &manifest.capabilities;
        self.net
            .declare(&manifest.id, &rate_limits(&asks.rate_limits, settings));
        let http = WorkerHttp::new(&manifest.id, allowed_hosts(&asks.http_hosts, settings))
            .with_net(self.net.clone());
        Ok(ctx.with_http(Arc::new(http)))
    }

    #[cfg(not(feature = "_http"))]
    fn metadata_http(
        &self,
        manifest: &PluginManifest,
        _: &BTreeMap<String, String>,
        _: HostContext,
    ) -> Result<HostContext, String> {
        Err(format!(
            "metadata source `{}` needs the network, which this bundle was built without",
            manifest.id
        ))
    }

    /// HTTP to the hosts the manifest and the source's settings name, signed in if the
    /// provider signs in.
    #[cfg(feature = "_http")]
    fn network(
        &self,
        source: &Source,
        manifest: &PluginManifest,
    ) -> Result<Arc<dyn tonearm_plugin_api::HttpClient>, String> {
        let http = WorkerHttp::new(
            &manifest.id,
            allowed_hosts(&manifest.capabilities.http_hosts, &source.settings),
        );
        match &manifest.capabilities.oauth {
            None => Ok(Arc::new(http)),
            Some(spec) => self.signed_in(http, source, spec),
        }
    }

    #[cfg(not(feature = "_http"))]
    fn network(
        &self,
        _: &Source,
        manifest: &PluginManifest,
    ) -> Result<Arc<dyn tonearm_plugin_api::HttpClient>, String> {
        Err(format!(
            "plugin `{}` needs the network, which this bundle was built without",
            manifest.id
        ))
    }

    /// `http` with the source's token, sent to the origins that take it.
    #[cfg(feature = "_oauth")]
    fn signed_in(
        &self,
        http: WorkerHttp,
        source: &Source,
        spec: &tonearm_plugin_api::OAuthSpec,
    ) -> Result<Arc<dyn tonearm_plugin_api::HttpClient>, String> {
        let session = self
            .sessions
            .borrow()
            .get(&source.name)
            .cloned()
            .ok_or_else(|| format!("source `{}` is not signed in", source.name))?;
        Ok(Arc::new(
            http.with_auth(session, token_origins(spec, &source.settings)),
        ))
    }

    #[cfg(all(feature = "_http", not(feature = "_oauth")))]
    fn signed_in(
        &self,
        _: WorkerHttp,
        _: &Source,
        _: &tonearm_plugin_api::OAuthSpec,
    ) -> Result<Arc<dyn tonearm_plugin_api::HttpClient>, String> {
        Err("this bundle was built without sign-in support".into())
    }
}
