//! How a plugin crate exports itself, and how a final binary links plugins in.
//!
//! A plugin crate defines one `pub static DESCRIPTOR: PluginDescriptor`. The crate linked
//! last — the `tonearm` binary, the web bundle — submits the descriptors its cargo
//! features select with [`register_builtin!`](crate::register_builtin). `inventory::submit!`
//! inside a dependency is not collected reliably on `wasm32-unknown-unknown`, so plugin
//! crates never submit themselves.

use crate::decoder::Decoder;
use crate::error::PluginResult;
use crate::host::HostContext;
use crate::manifest::{PluginKind, PluginManifest};
use crate::metadata::MetadataSource;
use crate::storage::StorageProvider;

/// Creates one instance of a plugin of a given kind.
#[derive(Clone, Copy)]
pub enum Instantiate {
    /// A storage provider: one instance per source.
    StorageProvider(fn(&HostContext) -> PluginResult<Box<dyn StorageProvider>>),
    /// A decoder: one instance shared by every decode.
    Decoder(fn(&HostContext) -> PluginResult<Box<dyn Decoder>>),
    /// A metadata source: an instance per use (an enrichment run, a conformance run),
    /// with the capabilities its manifest asks for.
    MetadataSource(fn(&HostContext) -> PluginResult<Box<dyn MetadataSource>>),
}

impl Instantiate {
    /// The kind of plugin this creates.
    pub fn kind(&self) -> PluginKind {
        match self {
            Self::StorageProvider(_) => PluginKind::StorageProvider,
            Self::Decoder(_) => PluginKind::Decoder,
            Self::MetadataSource(_) => PluginKind::MetadataSource,
        }
    }
}

/// What a plugin crate exports: its manifest and how to create it.
#[derive(Clone, Copy)]
pub struct PluginDescriptor {
    /// The plugin's manifest.
    pub manifest: fn() -> PluginManifest,
    /// How to create an instance.
    pub instantiate: Instantiate,
}

/// A descriptor submitted to `inventory` by the final binary.
pub struct BuiltinPlugin(pub &'static PluginDescriptor);

inventory::collect!(BuiltinPlugin);

/// Every descriptor the final binary linked in with [`register_builtin!`](crate::register_builtin).
pub fn builtin_plugins() -> impl Iterator<Item = &'static PluginDescriptor> {
    inventory::iter::<BuiltinPlugin>.into_iter().map(|p| p.0)
}

/// Links plugin descriptors into this binary's builtin set.
///
/// Use it in the final crate only, once per descriptor, typically behind a cargo feature:
///
/// ```text
/// #[cfg(feature = "plugin-local")]
/// tonearm_plugin_api::register_builtin!(tonearm_plugin_local::DESCRIPTOR);
/// ```
#[macro_export]
macro_rules! register_builtin {
    ($($descriptor:path),+ $(,)?) => {
        $(
            $crate::__inventory::submit! { $crate::BuiltinPlugin(&$descriptor) }
        )+
    };
}
