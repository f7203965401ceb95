//! Native plugin libraries (`.so`/`.dylib`/`.dll`), loaded through the plugin API's `abi`
//! module and adapted to the same traits as builtin plugins.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tonearm_plugin_api::abi::{ImportedDecoder, NativeInstance, NativeLibrary, NativeLoadError};
use tonearm_plugin_api::{
    ByteSource, DecodeSession, Decoder, HostContext, PluginError, PluginKind, PluginResult,
    ProbeHint, StorageProvider,
};

use super::{LoadedPlugin, Origin, PluginHandle, ProviderFactory, base_context};

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
            PluginKind::Decoder | PluginKind::MetadataSource => {
                match library
                    .instantiate(index, &base_context(&manifest.id))
                    .map_err(instance_error)?
                {
                    NativeInstance::Decoder(d) => PluginHandle::Decoder(Arc::new(NativeDecoder(d))),
                    NativeInstance::MetadataSource(m) => PluginHandle::MetadataSource(Arc::new(m)),
                    NativeInstance::StorageProvider(_) => {
                        return Err(instance_error(PluginError::Invalid(format!(
                            "plugin `{}` declares kind {} but exports a storage provider",
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

impl ProviderFactory for NativeFactory {
    fn create(&self, ctx: &HostContext) -> PluginResult<Arc<dyn StorageProvider>> {
        match self.library.instantiate(self.index, ctx)? {
            NativeInstance::StorageProvider(p) => Ok(Arc::new(p)),
            _ => Err(PluginError::Invalid(
                "the library did not return a storage provider".into(),
            )),
        }
    }
}

/// A native decoder. A plugin that failed inside `probe` (which cannot return an error in
/// the contract) is re-raised as a panic on the host's side of the boundary, so the
/// host's guard disables it exactly as it would a builtin.
struct NativeDecoder(ImportedDecoder);

impl Decoder for NativeDecoder {
    fn probe(&self, head: &[u8], hint: &ProbeHint) -> u8 {
        match self.0.try_probe(head, hint) {
            Ok(score) => score,
            Err(PluginError::Internal(reason)) => std::panic::panic_any(reason),
            Err(_) => 0,
        }
    }

    fn open(
        &self,
        source: Arc<dyn ByteSource>,
        hint: &ProbeHint,
    ) -> PluginResult<Box<dyn DecodeSession>> {
        self.0.open(source, hint)
    }
}
