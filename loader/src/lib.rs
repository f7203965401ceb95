//! Turns plugins into trait objects, however they are shipped.
//!
//! Builtin plugins linked into the binary and registered with `inventory`, native libraries
//! loaded at run time ([`native`]) and wasm components ([`wasm`], from files or built into
//! the binary as a [`BundledComponent`]) all become the same [`LoadedPlugin`], so nothing
//! above the loader knows how a plugin was loaded.

pub mod native;
pub mod wasm;

use std::path::PathBuf;

use tonearm_core::registry::{PluginInfo, Registry, RegistryError};

pub use tonearm_core::guard;
pub use tonearm_core::plugin::{
    LoadedPlugin, MetadataFactory, Origin, PluginHandle, ProviderFactory, base_context,
    builtin_descriptors, load_builtin,
};

/// A wasm component embedded in the final binary (its build script makes the list).
#[derive(Debug)]
pub struct BundledComponent {
    /// The plugin's file name, without extension.
    pub name: &'static str,
    /// The SHA-256 of `bytes` in hex, computed at build time: the compile cache's key.
    pub sha256: &'static str,
    /// The component.
    pub bytes: &'static [u8],
    /// Its manifest as JSON, read at build time from the plugin's source, so the host can
    /// register it without compiling it (`None`: compile it to read its manifest).
    pub manifest: Option<&'static str>,
}

/// Why a plugin file was not loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Loaded, but the registry refused it (a taken id, an incompatible API version).
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A native library was refused.
    #[error(transparent)]
    Native(#[from] native::NativeLoadError),
    /// A wasm component was refused.
    #[error(transparent)]
    Wasm(#[from] wasm::WasmLoadError),
    /// The wasm engine could not start.
    #[error("cannot start the wasm engine: {0}")]
    Engine(String),
}

/// Loads plugin files of either form: native libraries, and wasm components (`.wasm`),
/// creating the wasm engine only once a component is loaded.
pub struct PluginFiles {
    limits: wasm::WasmLimits,
    runtime: std::sync::OnceLock<wasm::WasmRuntime>,
}

impl PluginFiles {
    /// Loads components under `limits`.
    pub fn new(limits: wasm::WasmLimits) -> Self {
        Self {
            limits,
            runtime: std::sync::OnceLock::new(),
        }
    }

    fn runtime(&self) -> Result<&wasm::WasmRuntime, LoadError> {
        if let Some(runtime) = self.runtime.get() {
            return Ok(runtime);
        }
        let runtime = wasm::WasmRuntime::new(self.limits.clone()).map_err(LoadError::Engine)?;
        Ok(self.runtime.get_or_init(|| runtime))
    }

    /// Loads the plugin file at `path` without registering it: to read its manifests.
    pub fn read(&self, path: &std::path::Path) -> Result<Vec<LoadedPlugin>, LoadError> {
        Ok(if path.extension().is_some_and(|e| e == "wasm") {
            vec![self.runtime()?.load(path)?]
        } else {
            native::load_native(path)?
        })
    }

    /// Loads the plugin file at `path` into `registry`: every plugin in it, or none.
    pub fn load(
        &self,
        registry: &Registry,
        path: &std::path::Path,
    ) -> Result<Vec<PluginInfo>, LoadError> {
        Ok(registry.register_all(self.read(path)?)?)
    }

    /// Loads an installed plugin file at `path` into `registry`, each of its plugins
    /// replacing a builtin or bundled copy of an older version
    /// ([`Registry::register_all_over_builtins`]).
    pub fn load_installed(
        &self,
        registry: &Registry,
        path: &std::path::Path,
    ) -> Result<Vec<PluginInfo>, LoadError> {
        Ok(registry.register_all_over_builtins(self.read(path)?)?)
    }

    /// Loads the components built into this binary into `registry`, except those whose id
    /// is already registered; returns what each load did. Load them before installed
    /// copies, which replace them when newer ([`load_installed`](Self::load_installed)).
    pub fn load_bundled(
        &self,
        registry: &Registry,
        bundled: &'static [BundledComponent],
    ) -> Vec<Result<Option<PluginInfo>, LoadError>> {
        bundled
            .iter()
            .map(|bundled| {
                let plugin = self.runtime()?.load_bundled_lazily(bundled)?;
                if registry.info(&plugin.manifest.id).is_ok() {
                    tracing::debug!(id = %plugin.manifest.id, "an installed plugin overrides the bundled one");
                    return Ok(None);
                }
                let id = plugin.manifest.id.clone();
                registry.register(plugin)?;
                Ok(Some(registry.info(&id)?))
            })
            .collect()
    }

    /// The plugin files in `dir` (native libraries and components), sorted.
    pub fn in_dir(dir: &std::path::Path) -> std::io::Result<Vec<PathBuf>> {
        let mut found = native::libraries_in(dir)?;
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "wasm") && path.is_file() {
                found.push(path);
            }
        }
        found.sort();
        Ok(found)
    }
}
