//! Plugins as the host holds them, however they were shipped: a manifest, where the plugin
//! came from, and its entry point as a trait object.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use tonearm_plugin_api::{
    Decoder, HostContext, Instantiate, MetadataSource, PluginDescriptor, PluginError,
    PluginManifest, PluginResult, StorageProvider,
};

use crate::guard;
use crate::log::{SystemClock, TracingLog};

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

/// Creates metadata source instances, one per use (an enrichment run, a conformance run).
pub trait MetadataFactory: Send + Sync {
    /// A metadata source over the capabilities in `ctx`.
    fn create(&self, ctx: &HostContext) -> PluginResult<Arc<dyn MetadataSource>>;
}

/// A loaded plugin's entry point, by kind.
#[derive(Clone)]
pub enum PluginHandle {
    /// Makes a provider per source.
    StorageProvider(Arc<dyn ProviderFactory>),
    /// The decoder.
    Decoder(Arc<dyn Decoder>),
    /// Makes a metadata source per use, with the capabilities granted for it.
    MetadataSource(Arc<dyn MetadataFactory>),
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

struct BuiltinMetadata(fn(&HostContext) -> PluginResult<Box<dyn MetadataSource>>);

impl MetadataFactory for BuiltinMetadata {
    fn create(&self, ctx: &HostContext) -> PluginResult<Arc<dyn MetadataSource>> {
        (self.0)(ctx).map(Arc::from)
    }
}

/// The context decoders are created with, and that providers and metadata sources start
/// from before the platform grants them more: a log and a clock.
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
            PluginHandle::MetadataSource(Arc::new(BuiltinMetadata(create)))
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
