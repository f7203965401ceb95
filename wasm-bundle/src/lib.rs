//! The Tonearm core for the browser: one WebAssembly module, run in a Web Worker, holding
//! the plugins its cargo features select.
//!
//! Plugins are linked in and registered here, in the crate linked last, as the native
//! `tonearm` binary does (an `inventory::submit!` in a dependency is not reliably
//! collected on `wasm32-unknown-unknown`). JavaScript sees [`Core`] and the streams it
//! opens; `web/js/` has the worker entry and the main-thread client.

mod playback;

use tonearm_core::{EventBus, Registry};
use wasm_bindgen::prelude::*;

pub use playback::Stream;

#[cfg(feature = "local")]
tonearm_plugin_api::register_builtin!(tonearm_plugin_local::DESCRIPTOR);
#[cfg(feature = "gdrive")]
tonearm_plugin_api::register_builtin!(tonearm_plugin_gdrive::DESCRIPTOR);
#[cfg(feature = "onedrive")]
tonearm_plugin_api::register_builtin!(tonearm_plugin_onedrive::DESCRIPTOR);
#[cfg(feature = "_symphonia")]
tonearm_plugin_api::register_builtin!(tonearm_plugin_symphonia::DESCRIPTOR);
#[cfg(feature = "opus")]
tonearm_plugin_api::register_builtin!(tonearm_plugin_opus::DESCRIPTOR);

/// The core of one worker: its plugins and its event bus.
#[wasm_bindgen]
pub struct Core {
    registry: Registry,
}

#[wasm_bindgen]
impl Core {
    /// A core with every plugin this bundle links in.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Result<Core, JsError> {
        let (registry, errors) = Registry::with_builtins(EventBus::default());
        if let Some(error) = errors.into_iter().next() {
            return Err(JsError::new(&format!(
                "a builtin plugin failed to load: {error}"
            )));
        }
        Ok(Core { registry })
    }

    /// The plugins, as JSON: `[{ manifest, origin, failure }]`.
    #[wasm_bindgen(js_name = pluginsJson)]
    pub fn plugins_json(&self) -> Result<String, JsError> {
        serde_json::to_string(&self.registry.list()).map_err(|e| JsError::new(&e.to_string()))
    }

    /// The ids of the plugins, sorted.
    #[wasm_bindgen(js_name = pluginIds)]
    pub fn plugin_ids(&self) -> Vec<String> {
        self.registry
            .list()
            .into_iter()
            .map(|p| p.manifest.id)
            .collect()
    }

    /// Opens `bytes` (a whole file; `name` gives its extension) with the best decoder.
    #[wasm_bindgen(js_name = openBytes)]
    pub fn open_bytes(&self, bytes: Vec<u8>, name: &str) -> Result<Stream, JsError> {
        Stream::open(&self.registry, bytes, name).map_err(|e| JsError::new(&e))
    }
}

#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

    use wasm_bindgen_test::*;

    use super::*;

    wasm_bindgen_test_configure!(run_in_dedicated_worker);

    /// What the features of this build select, by plugin id.
    fn selected() -> Vec<&'static str> {
        let mut ids = Vec::new();
        if cfg!(feature = "gdrive") {
            ids.push("gdrive");
        }
        if cfg!(feature = "local") {
            ids.push("local");
        }
        if cfg!(feature = "onedrive") {
            ids.push("onedrive");
        }
        if cfg!(feature = "opus") {
            ids.push("opus");
        }
        if cfg!(feature = "_symphonia") {
            ids.push("symphonia");
        }
        ids
    }

    #[wasm_bindgen_test]
    fn the_selected_plugins_and_only_they_are_registered() {
        let core = Core::new().map_err(JsValue::from).unwrap();
        assert_eq!(core.plugin_ids(), selected());
    }

    #[wasm_bindgen_test]
    #[cfg(feature = "symphonia-mp3")]
    fn an_mp3_decodes_in_a_worker() {
        let core = Core::new().map_err(JsValue::from).unwrap();
        let bytes = include_bytes!("../../tests/conformance/fixtures/audio/02 pluck.mp3");
        let mut stream = core
            .open_bytes(bytes.to_vec(), "02 pluck.mp3")
            .map_err(JsValue::from)
            .unwrap();
        assert_eq!(stream.decoder(), "symphonia");
        let mut frames = 0;
        while let Some(chunk) = stream.next_chunk(4096).map_err(JsValue::from).unwrap() {
            frames += chunk.length() / stream.channels();
        }
        assert!(frames > 44_100, "{frames} frames");
    }
}
