//! Runs the conformance suite on any loaded plugin, however it was loaded.

use std::path::Path;
use std::sync::Arc;

use tonearm_conformance::fixtures::FixtureSet;
use tonearm_conformance::provider::ProviderHarness;
use tonearm_conformance::{Report, decoder, provider};
use tonearm_plugin_api::{HostContext, StorageProvider};

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
    /// Fixtures could not be read.
    #[error("fixtures: {0}")]
    Fixtures(String),
}

/// Runs the suite on the loaded plugin `id`; decoders use `fixtures_dir` or the bundled
/// fixtures.
pub fn run(
    registry: &Registry,
    id: &str,
    fixtures_dir: Option<&Path>,
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
        PluginHandle::StorageProvider(_) => Err(ConformanceError::NoHarness(
            id.to_owned(),
            "network providers are certified against their fake servers (see docs/conformance.md)"
                .into(),
        )),
        PluginHandle::MetadataSource(factory) => Ok(tonearm_conformance::metadata::check(
            &manifest,
            Arc::new(move |ctx| factory.create(ctx)),
        )),
    }
}
