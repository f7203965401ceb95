//! The Tonearm core for the browser: one WebAssembly module, run in a Web Worker, holding
//! the plugins its cargo features select.
//!
//! Plugins are linked in and registered here, in the crate linked last, as the native
//! `tonearm` binary does (an `inventory::submit!` in a dependency is not reliably
//! collected on `wasm32-unknown-unknown`). JavaScript sees [`Core`] and the streams it
//! opens; `web/js/` has the worker entry and the main-thread client.

mod capabilities;
mod library;
mod playback;

use std::sync::Arc;

use tonearm_core::log::{SystemClock, TracingLog};
use tonearm_core::state::MemoryState;
use tonearm_core::{EventBus, Registry};
use tonearm_plugin_api::{HostContext, RemoteEntry};
use wasm_bindgen::prelude::*;

pub use capabilities::{PickedFolder, WorkerHttp};
pub use library::IndexedDbStore;

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

    /// Lists the audio a picked folder holds through the `local` provider plugin: every
    /// page, as JSON `[{ id, path, size, modified_ms, … }]`. `files` are `File` objects,
    /// `paths` their paths (from a folder picker, `webkitRelativePath`, whose first part,
    /// the folder's own name, is dropped when `strip_first` is set).
    #[wasm_bindgen(js_name = listFolder)]
    pub fn list_folder(
        &self,
        files: Vec<web_sys::File>,
        paths: Vec<String>,
        strip_first: bool,
    ) -> Result<String, JsError> {
        if files.len() != paths.len() {
            return Err(JsError::new("listFolder: one path per file"));
        }
        let folder = PickedFolder::new(paths.into_iter().zip(files).collect(), strip_first);
        let factory = self
            .registry
            .provider("local")
            .map_err(|e| JsError::new(&e.to_string()))?;
        let ctx = HostContext::new(Arc::new(TracingLog::new("local")), Arc::new(SystemClock))
            .with_fs(Arc::new(folder))
            .with_state(Arc::new(MemoryState::default()));
        let provider = factory
            .create(&ctx)
            .map_err(|e| JsError::new(&e.to_string()))?;
        let audio = self.registry.audio_extensions();
        let mut entries: Vec<RemoteEntry> = Vec::new();
        let mut token = None;
        loop {
            let page = provider
                .list(token.as_deref())
                .map_err(|e| JsError::new(&e.to_string()))?;
            entries.extend(
                page.entries
                    .into_iter()
                    .filter(|e| e.extension().is_some_and(|x| audio.contains(&x))),
            );
            match page.next_page {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        serde_json::to_string(&entries).map_err(|e| JsError::new(&e.to_string()))
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

    use wasm_bindgen::JsCast as _;
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

    fn file(name: &str, bytes: &[u8]) -> web_sys::File {
        let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
        web_sys::File::new_with_u8_array_sequence(&parts, name).unwrap()
    }

    #[wasm_bindgen_test]
    #[cfg(all(feature = "local", feature = "symphonia-mp3"))]
    fn a_picked_folder_is_listed_and_read_through_the_local_plugin() {
        use tonearm_plugin_api::FileSystem as _;

        let core = Core::new().map_err(JsValue::from).unwrap();
        let mp3 = include_bytes!("../../tests/conformance/fixtures/audio/02 pluck.mp3");
        let files = vec![
            file("a.mp3", mp3),
            file("b.mp3", b"ID3"),
            file("notes.txt", b"no"),
        ];
        let paths = vec![
            "Music/Artist/Album/01 a.mp3".to_owned(),
            "Music/b.mp3".to_owned(),
            "Music/notes.txt".to_owned(),
        ];
        let json = core
            .list_folder(files, paths, true)
            .map_err(JsValue::from)
            .unwrap();
        let entries: Vec<RemoteEntry> = serde_json::from_str(&json).unwrap();
        let listed: Vec<(&str, u64)> = entries.iter().map(|e| (e.path.as_str(), e.size)).collect();
        assert_eq!(
            listed,
            [("Artist/Album/01 a.mp3", mp3.len() as u64), ("b.mp3", 3)]
        );

        // Ranged reads load only the slice asked for, and stop at the end.
        let folder = PickedFolder::new(vec![("x.mp3".into(), file("x.mp3", mp3))], false);
        let mut buf = [0u8; 16];
        assert_eq!(folder.read_at("x.mp3", 10, &mut buf).unwrap(), 16);
        assert_eq!(&buf, &mp3[10..26]);
        let tail = mp3.len() as u64 - 4;
        assert_eq!(folder.read_at("x.mp3", tail, &mut buf).unwrap(), 4);
        assert!(folder.read_at("missing.mp3", 0, &mut buf).is_err());
    }

    #[wasm_bindgen_test]
    fn plugins_get_synchronous_http_in_the_worker_within_their_hosts() {
        use tonearm_plugin_api::{HttpClient as _, HttpRequest, PluginError};

        // The test runner's own server is the one origin this worker may always reach.
        let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        let here = scope.location().href();
        let host = url::Url::parse(&here)
            .unwrap()
            .host_str()
            .unwrap()
            .to_owned();
        let http = WorkerHttp::new("test", vec![host]);
        let get = |url: &str| HttpRequest {
            method: "GET".into(),
            url: url.into(),
            headers: vec![("accept".into(), "*/*".into())],
            body: vec![],
        };
        let answer = http.send(get(&here)).unwrap();
        assert_eq!(answer.status, 200);
        assert!(!answer.body.is_empty());
        assert!(answer.header("content-type").is_some());
        let refused = http.send(get("https://elsewhere.example/x")).unwrap_err();
        assert!(matches!(refused, PluginError::Unauthorized(_)), "{refused}");
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
