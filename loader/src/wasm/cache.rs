//! Compiled components, cached on disk by content hash and engine (wasmtime's version and
//! every setting that changes compiled code), so a warm load skips Cranelift.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use super::{WasmLoadError, WasmRuntime};

impl WasmRuntime {
    /// The compiled component at `path`: from the cache when its content is known there,
    /// else compiled (and cached).
    pub(super) fn component(&self, path: &Path) -> Result<Component, WasmLoadError> {
        let invalid = |reason: String| WasmLoadError::Invalid {
            path: path.to_owned(),
            reason,
        };
        let read = |source| WasmLoadError::Read {
            path: path.to_owned(),
            source,
        };
        // A file seen before (same path, size and time) has a known content hash, so a
        // warm load need not read, let alone hash, the component.
        let meta = std::fs::metadata(path).map_err(read)?;
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_owned());
        let stamp = format!(
            "{} {} {:?}",
            canonical.display(),
            meta.len(),
            meta.modified().ok()
        );
        let stamp_file = self
            .limits
            .cache_dir
            .as_ref()
            .map(|dir| dir.join(format!("{}.source", hex(&Sha256::digest(&stamp)))));
        if let Some(known) = stamp_file
            .as_ref()
            .and_then(|f| std::fs::read_to_string(f).ok())
            && let Some(component) = self.cached(known.trim())
        {
            return Ok(component);
        }
        let bytes = std::fs::read(path).map_err(read)?;
        let key = hex(&Sha256::digest(&bytes));
        let component = self.compile(&key, &bytes).map_err(invalid)?;
        if let Some(file) = stamp_file
            && let Err(e) = std::fs::write(&file, &key)
        {
            tracing::debug!(file = %file.display(), error = %e, "cannot remember a component's hash");
        }
        Ok(component)
    }

    /// The cache file for content `key` under this engine.
    fn cache_file(&self, key: &str) -> Option<PathBuf> {
        // The engine's compatibility hash covers wasmtime's version and every setting that
        // changes compiled code.
        let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(
            &self.engine.precompile_compatibility_hash(),
            &mut engine_hash,
        );
        let engine_key = std::hash::Hasher::finish(&engine_hash);
        Some(
            self.limits
                .cache_dir
                .as_ref()?
                .join(format!("{key}-{engine_key:016x}.cwasm")),
        )
    }

    fn cached(&self, key: &str) -> Option<Component> {
        let cached = self.cache_file(key).filter(|f| f.is_file())?;
        // SAFETY: the file was written by `Component::serialize` in `compile`, under a name
        // that binds it to the component's content hash and this engine, in a folder only
        // this host writes; wasmtime still checks its header and engine settings.
        #[allow(unsafe_code)]
        match unsafe { Component::deserialize_file(&self.engine, &cached) } {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(file = %cached.display(), error = %e, "recompiling a stale cached component");
                None
            }
        }
    }

    pub(super) fn compile(&self, key: &str, bytes: &[u8]) -> Result<Component, String> {
        if let Some(component) = self.cached(key) {
            return Ok(component);
        }
        let component = Component::new(&self.engine, bytes).map_err(|e| format!("{e:#}"))?;
        let (Some(dir), Some(cached)) = (&self.limits.cache_dir, self.cache_file(key)) else {
            return Ok(component);
        };
        if let Ok(serialized) = component.serialize() {
            let partial = dir.join(format!(".{key}.partial"));
            let written = std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::write(&partial, serialized))
                .and_then(|()| std::fs::rename(&partial, &cached));
            if let Err(e) = written {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot cache a compiled component");
            }
        }
        Ok(component)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
