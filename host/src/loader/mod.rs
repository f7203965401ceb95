//! Turns plugins into trait objects, however they are shipped.
//!
//! Builtin plugins linked into the binary and registered with `inventory`, native libraries
//! loaded at run time ([`native`]) and wasm components ([`wasm`], from files or
//! [`bundled`] into the binary) all become the same [`LoadedPlugin`], so nothing above this
//! module knows how a plugin was loaded.

pub mod bundled;
pub mod guard;
pub mod native;
pub mod wasm;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use tonearm_plugin_api::{
    Decoder, HostContext, Instantiate, MetadataSource, PluginDescriptor, PluginError,
    PluginManifest, PluginResult, StorageProvider,
};

use crate::capabilities::{SystemClock, TracingLog};

/// Where a plugin came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "path", rename_all = "snake_case")]
pub enum Origin {
    /// Linked into this binary.
    Builtin,
    /// A native shared library.
    Native(PathBuf),
    /// A wasm component.
    Wasm(PathBuf),
    /// A wasm component built into this binary.
    Bundled,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Builtin => f.write_str("builtin"),
            Self::Native(p) => write!(f, "native {}", p.display()),
            Self::Wasm(p) => write!(f, "wasm {}", p.display()),
            Self::Bundled => f.write_str("wasm (bundled)"),
        }
    }
}

/// Creates storage provider instances, one per source.
pub trait ProviderFactory: Send + Sync {
    /// A provider over the capabilities in `ctx`.
    fn create(&self, ctx: &HostContext) -> PluginResult<Arc<dyn StorageProvider>>;
}

/// A loaded plugin's entry point, by kind.
#[derive(Clone)]
pub enum PluginHandle {
    /// Makes a provider per source.
    StorageProvider(Arc<dyn ProviderFactory>),
    /// The decoder.
    Decoder(Arc<dyn Decoder>),
    /// The metadata source.
    MetadataSource(Arc<dyn MetadataSource>),
}

/// A plugin ready to register.
#[derive(Clone)]
pub struct LoadedPlugin {
    /// What the plugin says about itself.
    pub manifest: PluginManifest,
    /// Where it came from.
    pub origin: Origin,
    /// Its entry point.
    pub handle: PluginHandle,
}

struct BuiltinFactory(fn(&HostContext) -> PluginResult<Box<dyn StorageProvider>>);

impl ProviderFactory for BuiltinFactory {
    fn create(&self, ctx: &HostContext) -> PluginResult<Arc<dyn StorageProvider>> {
        (self.0)(ctx).map(Arc::from)
    }
}

/// The context decoders and metadata sources are created with: a log and a clock.
pub fn base_context(plugin_id: &str) -> HostContext {
    HostContext::new(Arc::new(TracingLog::new(plugin_id)), Arc::new(SystemClock))
}

/// Loads a plugin linked into this binary.
pub fn load_builtin(descriptor: &PluginDescriptor) -> PluginResult<LoadedPlugin> {
    let manifest = guard::catch("manifest", || Ok((descriptor.manifest)()))?;
    let ctx = base_context(&manifest.id);
    let handle = match descriptor.instantiate {
        Instantiate::StorageProvider(create) => {
            PluginHandle::StorageProvider(Arc::new(BuiltinFactory(create)))
        }
        Instantiate::Decoder(create) => {
            PluginHandle::Decoder(Arc::from(guard::catch("create", || create(&ctx))?))
        }
        Instantiate::MetadataSource(create) => {
            PluginHandle::MetadataSource(Arc::from(guard::catch("create", || create(&ctx))?))
        }
    };
    if descriptor.instantiate.kind() != manifest.kind {
        return Err(PluginError::Invalid(format!(
            "plugin `{}` declares kind {} but exports a {}",
            manifest.id,
            manifest.kind,
            descriptor.instantiate.kind()
        )));
    }
    Ok(LoadedPlugin {
        manifest,
        origin: Origin::Builtin,
        handle,
    })
}

/// Every plugin this binary linked in with `register_builtin!`.
pub fn builtin_descriptors() -> Vec<&'static PluginDescriptor> {
    tonearm_plugin_api::builtin_plugins().collect()
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

    fn runtime(&self) -> Result<&wasm::WasmRuntime, crate::registry::RegistryError> {
        if let Some(runtime) = self.runtime.get() {
            return Ok(runtime);
        }
        let runtime = wasm::WasmRuntime::new(self.limits.clone()).map_err(PluginError::Internal)?;
        Ok(self.runtime.get_or_init(|| runtime))
    }

    /// Loads the plugin file at `path` into `registry`.
    pub fn load(
        &self,
        registry: &crate::registry::Registry,
        path: &std::path::Path,
    ) -> Result<Vec<crate::registry::PluginInfo>, crate::registry::RegistryError> {
        if path.extension().is_some_and(|e| e == "wasm") {
            Ok(vec![registry.load_wasm(self.runtime()?, path)?])
        } else {
            registry.load_native(path)
        }
    }

    /// Loads the components built into this binary into `registry`, except those whose id
    /// is already registered (an installed copy overrides the bundled one); returns what
    /// each load did.
    pub fn load_bundled(
        &self,
        registry: &crate::registry::Registry,
    ) -> Vec<Result<Option<crate::registry::PluginInfo>, crate::registry::RegistryError>> {
        bundled::BUNDLED
            .iter()
            .map(|bundled| {
                let plugin = self.runtime()?.load_bundled(bundled)?;
                if registry.info(&plugin.manifest.id).is_ok() {
                    tracing::debug!(id = %plugin.manifest.id, "an installed plugin overrides the bundled one");
                    return Ok(None);
                }
                let id = plugin.manifest.id.clone();
                registry.register(plugin)?;
                registry.info(&id).map(Some)
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
