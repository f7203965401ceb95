//! Runs the conformance suite on any loaded plugin, however it was loaded.

use std::path::Path;
use std::sync::Arc;

use tonearm_conformance::fixtures::FixtureSet;
use tonearm_conformance::provider::{ProviderHarness, ServedHarness};
use tonearm_conformance::{Report, decoder, provider};
use tonearm_plugin_api::{HostContext, HttpClient, StorageProvider};

use crate::capabilities::{GrantedFolder, MemoryState, SystemClock, TracingLog};
use crate::registry::{Registry, RegistryError};
use tonearm_loader::{PluginHandle, ProviderFactory};

/// A harness for providers that serve a granted folder: a fresh temporary folder, with a
/// small page size so listings span many pages.
pub struct FolderHarness {
    factory: Arc<dyn ProviderFactory>,
    plugin_id: String,
    dir: tempfile::TempDir,
    state: Arc<MemoryState>,
}

impl FolderHarness {
    /// A harness creating providers with `factory` over a new temporary folder.
    pub fn new(plugin_id: &str, factory: Arc<dyn ProviderFactory>) -> std::io::Result<Self> {
        Ok(Self {
            factory,
            plugin_id: plugin_id.to_owned(),
            dir: tempfile::tempdir()?,
            state: Arc::new(MemoryState::default()),
        })
    }

    fn full(&self, path: &str) -> std::path::PathBuf {
        self.dir.path().join(path)
    }

    fn parent_of(&self, path: &str) -> Result<(), String> {
        match self.full(path).parent() {
            Some(dir) => std::fs::create_dir_all(dir).map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }
}

impl ProviderHarness for FolderHarness {
    fn provider(&self) -> Result<Arc<dyn StorageProvider>, String> {
        let folder = GrantedFolder::new(self.dir.path()).map_err(|e| e.to_string())?;
        let ctx = HostContext::new(
            Arc::new(TracingLog::new(&self.plugin_id)),
            Arc::new(SystemClock),
        )
        .with_fs(Arc::new(folder))
        .with_state(self.state.clone())
        .with_setting("page_size", "7");
        self.factory.create(&ctx).map_err(|e| e.to_string())
    }

    fn put(&self, path: &str, bytes: &[u8]) -> Result<(), String> {
        self.parent_of(path)?;
        std::fs::write(self.full(path), bytes).map_err(|e| e.to_string())
    }

    fn remove(&self, path: &str) -> Result<(), String> {
        std::fs::remove_file(self.full(path)).map_err(|e| e.to_string())
    }

    fn rename(&self, from: &str, to: &str) -> Result<(), String> {
        self.parent_of(to)?;
        std::fs::rename(self.full(from), self.full(to)).map_err(|e| e.to_string())
    }
}

/// Why the suite could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ConformanceError {
    /// The plugin is not loaded.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The suite has no harness for what this plugin needs.
    #[error("no harness for plugin `{0}`: {1}")]
    NoHarness(String, String),
    /// The fake server did not answer its control API.
    #[error("the fake server: {0}")]
    Server(String),
    /// Fixtures could not be read.
    #[error("fixtures: {0}")]
    Fixtures(String),
}

/// The fake server a network provider is certified against: its address, which the
/// provider is given as its `endpoint.api` setting, and HTTP that reaches it.
#[derive(Clone)]
pub struct FakeServer {
    /// Its address (`http://127.0.0.1:PORT`).
    pub url: String,
    /// HTTP for the provider and for the suite's control requests.
    pub http: Arc<dyn HttpClient>,
}

impl std::fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeServer")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Runs the suite on the loaded plugin `id`; decoders use `fixtures_dir` or the bundled
/// fixtures; a network provider needs its fake `server`. Blocks: call it outside an
/// async task.
pub fn run(
    registry: &Registry,
    id: &str,
    fixtures_dir: Option<&Path>,
    server: Option<&FakeServer>,
) -> Result<Report, ConformanceError> {
    let manifest = registry.info(id)?.manifest;
    match registry.handle(id)? {
        PluginHandle::Decoder(d) => {
            let fixtures = match fixtures_dir {
                Some(dir) => FixtureSet::load(dir).map_err(ConformanceError::Fixtures)?,
                None => FixtureSet::bundled(),
            };
            Ok(decoder::check(d, &manifest, &fixtures))
        }
        PluginHandle::StorageProvider(factory) if manifest.capabilities.filesystem => {
            let harness = FolderHarness::new(id, factory)
                .map_err(|e| ConformanceError::Fixtures(e.to_string()))?;
            Ok(provider::check(id, Arc::new(harness)))
        }
        PluginHandle::StorageProvider(factory) => {
            let server = server.ok_or_else(|| {
                ConformanceError::NoHarness(
                    id.to_owned(),
                    "a network provider is certified against its fake server: pass its address with --server (docs/conformance.md)"
                        .into(),
                )
            })?;
            let state = Arc::new(MemoryState::default());
            let (plugin, url, http) = (id.to_owned(), server.url.clone(), server.http.clone());
            let create = Arc::new(move || {
                let ctx =
                    HostContext::new(Arc::new(TracingLog::new(&plugin)), Arc::new(SystemClock))
                        .with_http(http.clone())
                        .with_state(state.clone())
                        .with_setting("endpoint.api", &url)
                        .with_setting("page_size", "7");
                factory.create(&ctx).map_err(|e| e.to_string())
            });
            let harness = ServedHarness::new(&server.url, server.http.clone(), create)
                .map_err(ConformanceError::Server)?;
            Ok(provider::check(id, Arc::new(harness)))
        }
        PluginHandle::MetadataSource(factory) => Ok(tonearm_conformance::metadata::check(
            &manifest,
            Arc::new(move |ctx| factory.create(ctx)),
        )),
    }
}
