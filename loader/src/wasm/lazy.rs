//! Bundled decoders compiled on first use.
//!
//! Compiling a component costs a few hundred milliseconds the first time a machine runs
//! it. A bundled component's manifest is known at build time, so its decoder is
//! registered from that alone and compiled when a file it claims is probed or opened:
//! a command that touches no such file compiles nothing.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use tonearm_plugin_api::{
    ByteSource, DecodeSession, Decoder, MediaInfo, PluginError, PluginManifest, PluginResult,
    ProbeHint,
};

use super::{WasmLoadError, WasmRuntime};
use crate::{BundledComponent, PluginHandle};

/// A bundled decoder, compiled the first time it is needed.
pub(super) struct LazyDecoder {
    runtime: WasmRuntime,
    bundled: &'static BundledComponent,
    /// The manifest the build read; the compiled component must state the same one.
    manifest: PluginManifest,
    loaded: OnceLock<Result<Arc<dyn Decoder>, String>>,
}

impl LazyDecoder {
    /// The decoder of `bundled`, whose build-time manifest is `manifest`.
    pub(super) fn new(
        runtime: WasmRuntime,
        bundled: &'static BundledComponent,
        manifest: PluginManifest,
    ) -> Self {
        Self {
            runtime,
            bundled,
            manifest,
            loaded: OnceLock::new(),
        }
    }

    /// Whether a file with this head and hint is one the manifest claims. A decoder that
    /// claims nothing by extension, MIME type or magic is asked about everything.
    fn claims(&self, head: &[u8], hint: &ProbeHint) -> bool {
        let formats = &self.manifest.formats;
        let claims_nothing = formats.extensions.is_empty()
            && formats.mime_types.is_empty()
            && formats.magic.is_empty();
        claims_nothing
            || hint
                .extension
                .as_deref()
                .is_some_and(|e| formats.claims_extension(e))
            || hint
                .mime
                .as_deref()
                .is_some_and(|m| formats.mime_types.iter().any(|t| t.eq_ignore_ascii_case(m)))
            || formats.magic.iter().any(|m| m.matches(head))
    }

    /// The compiled decoder, compiling it on first use. A component that fails to load
    /// fails every call with the same reason.
    fn decoder(&self) -> PluginResult<Arc<dyn Decoder>> {
        self.loaded
            .get_or_init(|| {
                let _span =
                    tracing::info_span!("compile_bundled", plugin = %self.manifest.id).entered();
                self.load().map_err(|e| e.to_string())
            })
            .clone()
            .map_err(PluginError::Internal)
    }

    fn load(&self) -> Result<Arc<dyn Decoder>, WasmLoadError> {
        let plugin = self.runtime.load_bundled(self.bundled)?;
        let invalid = |reason: String| WasmLoadError::Invalid {
            path: PathBuf::from(format!("<bundled {}>", self.bundled.name)),
            reason,
        };
        if (&plugin.manifest.id, &plugin.manifest.version)
            != (&self.manifest.id, &self.manifest.version)
        {
            return Err(invalid(format!(
                "it states {} {}, but was built as {} {}",
                plugin.manifest.id,
                plugin.manifest.version,
                self.manifest.id,
                self.manifest.version
            )));
        }
        match plugin.handle {
            PluginHandle::Decoder(decoder) => Ok(decoder),
            _ => Err(invalid("it is not a decoder".into())),
        }
    }
}

impl Decoder for LazyDecoder {
    fn probe(&self, head: &[u8], hint: &ProbeHint) -> PluginResult<u8> {
        if !self.claims(head, hint) {
            return Ok(0);
        }
        self.decoder()?.probe(head, hint)
    }

    fn open(
        &self,
        source: Arc<dyn ByteSource>,
        hint: &ProbeHint,
    ) -> PluginResult<Box<dyn DecodeSession>> {
        self.decoder()?.open(source, hint)
    }

    fn describe(&self, source: Arc<dyn ByteSource>, hint: &ProbeHint) -> PluginResult<MediaInfo> {
        self.decoder()?.describe(source, hint)
    }
}
