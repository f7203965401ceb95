//! Native plugin libraries (`.so`/`.dylib`/`.dll`), opened through abi_stable
//! ([`library`]) and adapted to the same traits as builtin plugins.
//!
//! The rule for which libraries load: the file must be a complete shared library
//! ([`preflight`]), built against the same 0.x minor of `tonearm-plugin-native` as this host
//! (abi_stable checks the crate version, then the layout of every type crossing the
//! boundary), and state a plugin API version this host accepts. A library built for an
//! older 0.x API is refused with both versions named and told to rebuild; components are
//! the form that keeps loading across versions.

mod library;
mod preflight;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tonearm_plugin_api::{
    HostContext, MetadataSource, PluginError, PluginKind, PluginResult, StorageProvider,
};
use tonearm_plugin_native::Imported;

pub use library::{NativeLibrary, NativeLoadError};

/// The target triple this host was built for: the only one whose native libraries it loads.
pub const TARGET: &str = env!("TONEARM_NATIVE_TARGET");

use crate::{LoadedPlugin, MetadataFactory, Origin, PluginHandle, ProviderFactory, base_context};

/// Loads every plugin in the native library at `path`.
pub fn load_native(path: &Path) -> Result<Vec<LoadedPlugin>, NativeLoadError> {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    let library = Arc::new(NativeLibrary::load(&path)?);
    let mut plugins = Vec::new();
    for (index, manifest) in library.manifests().iter().enumerate() {
        let instance_error = |error: PluginError| NativeLoadError::Manifests {
            path: path.clone(),
            error,
        };
        let handle = match manifest.kind {
            PluginKind::StorageProvider => PluginHandle::StorageProvider(Arc::new(NativeFactory {
                library: library.clone(),
                index,
            })),
            PluginKind::MetadataSource => PluginHandle::MetadataSource(Arc::new(NativeFactory {
                library: library.clone(),
                index,
            })),
            PluginKind::Decoder => {
                match library
                    .instantiate(index, &base_context(&manifest.id))
                    .map_err(instance_error)?
                {
                    Imported::Decoder(d) => PluginHandle::Decoder(Arc::new(d)),
                    Imported::StorageProvider(_) | Imported::MetadataSource(_) => {
                        return Err(instance_error(PluginError::Invalid(format!(
                            "plugin `{}` declares kind {} but exports another kind",
                            manifest.id, manifest.kind
                        ))));
                    }
                }
            }
        };
        plugins.push(LoadedPlugin {
            manifest: manifest.clone(),
            origin: Origin::Native(path.clone()),
            handle,
        });
    }
    Ok(plugins)
}

/// The native libraries in `dir` (by the platform's library suffix), sorted.
pub fn libraries_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let is_library = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(std::env::consts::DLL_SUFFIX));
        if is_library && path.is_file() {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

struct NativeFactory {
    library: Arc<NativeLibrary>,
    index: usize,
}

impl MetadataFactory for NativeFactory {
    fn create(&self, ctx: &HostContext) -> PluginResult<Arc<dyn MetadataSource>> {
        match self.library.instantiate(self.index, ctx)? {
            Imported::MetadataSource(m) => Ok(Arc::new(m)),
            _ => Err(PluginError::Invalid(
                "the library did not return a metadata source".into(),
            )),
        }
    }
}

impl ProviderFactory for NativeFactory {
    fn create(&self, ctx: &HostContext) -> PluginResult<Arc<dyn StorageProvider>> {
        match self.library.instantiate(self.index, ctx)? {
            Imported::StorageProvider(p) => Ok(Arc::new(p)),
            _ => Err(PluginError::Invalid(
                "the library did not return a storage provider".into(),
            )),
        }
    }
}
