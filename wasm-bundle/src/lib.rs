//! The Tonearm core for the browser: one WebAssembly module, run in a Web Worker, holding
//! the plugins its cargo features select.
//!
//! Plugins are linked in and registered here, in the crate linked last, as the native
//! `tonearm` binary does (an `inventory::submit!` in a dependency is not reliably
//! collected on `wasm32-unknown-unknown`). JavaScript sees [`Core`] and the streams it
//! opens; `js/` has the worker entry, the main-thread client and the API's TypeScript
//! declarations, generated from [`protocol`].

// Everything but the protocol's types is the browser's: IndexedDB, `File`s and
// `XMLHttpRequest` exist only there (and their handles are not `Send`, which the native
// build of the core's traits asks for).
#[cfg(all(target_arch = "wasm32", feature = "_oauth"))]
mod auth;
#[cfg(target_arch = "wasm32")]
mod cache;
#[cfg(target_arch = "wasm32")]
mod capabilities;
#[cfg(target_arch = "wasm32")]
mod library;
#[cfg(target_arch = "wasm32")]
mod playback;
#[cfg(target_arch = "wasm32")]
mod player;
#[cfg(target_arch = "wasm32")]
mod playlists;
pub mod protocol;
// Public for the fuzz target alone; natively nothing else uses it.
#[cfg(all(feature = "fuzzing", not(target_arch = "wasm32")))]
#[doc(hidden)]
pub mod records;
#[cfg(target_arch = "wasm32")]
mod records;
#[cfg(target_arch = "wasm32")]
mod worker;

#[cfg(target_arch = "wasm32")]
pub use capabilities::PickedFolder;
#[cfg(all(target_arch = "wasm32", feature = "_http"))]
pub use capabilities::WorkerHttp;
#[cfg(target_arch = "wasm32")]
pub use library::IndexedDbStore;
#[cfg(target_arch = "wasm32")]
pub use playback::Stream;
#[cfg(target_arch = "wasm32")]
pub use worker::Core;

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
#[cfg(feature = "musicbrainz")]
tonearm_plugin_api::register_builtin!(tonearm_plugin_musicbrainz::DESCRIPTOR);
#[cfg(feature = "coverart")]
tonearm_plugin_api::register_builtin!(tonearm_plugin_coverart::DESCRIPTOR);
#[cfg(feature = "lrclib")]
tonearm_plugin_api::register_builtin!(tonearm_plugin_lrclib::DESCRIPTOR);

#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

    use wasm_bindgen::JsValue;
    use wasm_bindgen_test::*;

    use super::*;

    wasm_bindgen_test_configure!(run_in_dedicated_worker);

    /// What the features of this build select, by plugin id.
    fn selected() -> Vec<&'static str> {
        let mut ids = Vec::new();
        if cfg!(feature = "coverart") {
            ids.push("coverart");
        }
        if cfg!(feature = "gdrive") {
            ids.push("gdrive");
        }
        if cfg!(feature = "local") {
            ids.push("local");
        }
        if cfg!(feature = "lrclib") {
            ids.push("lrclib");
        }
        if cfg!(feature = "musicbrainz") {
            ids.push("musicbrainz");
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

    #[cfg(feature = "local")]
    pub(crate) fn file(name: &str, bytes: &[u8]) -> web_sys::File {
        let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
        web_sys::File::new_with_u8_array_sequence(&parts, name).unwrap()
    }

    /// Sends `request` (`{ method, params }`) to the core and returns its reply's `result`.
    #[cfg(all(feature = "local", feature = "symphonia-mp3"))]
    pub(crate) async fn call(
        core: &Core,
        request: serde_json::Value,
        files: Vec<web_sys::File>,
    ) -> Result<serde_json::Value, String> {
        let mut call = request;
        call["id"] = 1.into();
        let promise = core.handle(call.to_string(), files);
        let answer = wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
        let message: serde_json::Value =
            serde_json::from_str(&answer.as_string().unwrap()).unwrap();
        match message["kind"].as_str() {
            Some("reply") => Ok(message["result"].clone()),
            _ => Err(message["error"].as_str().unwrap_or_default().to_owned()),
        }
    }

    #[wasm_bindgen_test]
    #[cfg(all(feature = "local", feature = "symphonia-mp3"))]
    async fn a_picked_folder_syncs_into_the_library_and_its_tracks_play() {
        use serde_json::json;

        let core = Core::new().map_err(JsValue::from).unwrap();
        let database = format!("tonearm-test-worker-{}", js_sys::Date::now());
        let ready = call(
            &core,
            json!({"method": "init", "params": {"database": database}}),
            vec![],
        )
        .await
        .unwrap();
        assert_eq!(ready["type"], "ready");
        assert_eq!(ready["sources"], json!([]));

        let mp3 = include_bytes!("../../tests/conformance/fixtures/audio/02 pluck.mp3");
        let files = vec![
            file("a.mp3", mp3),
            file("b.mp3", b"ID3"),
            file("notes.txt", b"no"),
        ];
        let paths = [
            "Music/Artist/Album/01 a.mp3",
            "Music/b.mp3",
            "Music/notes.txt",
        ];
        let added = call(
            &core,
            json!({"method": "addFolder", "params": {"name": "picked", "files": [{}, {}, {}], "paths": paths}}),
            files,
        )
        .await
        .unwrap();
        assert_eq!(added["source"]["provider"], "local");

        let synced = call(&core, json!({"method": "sync", "params": {}}), vec![])
            .await
            .unwrap();
        let result = &synced["results"][0];
        assert_eq!(result["source"], "picked", "{synced}");
        assert_eq!(result["counts"]["added"], 1, "{synced}");
        assert_eq!(result["counts"]["failed"], 1, "the 3-byte MP3: {synced}");

        let tracks = call(
            &core,
            json!({"method": "tracks", "params": {"limit": 10}}),
            vec![],
        )
        .await
        .unwrap();
        let track = &tracks["tracks"][0];
        assert_eq!(track["path"], "Music/Artist/Album/01 a.mp3");
        assert_eq!(track["title"], "Pluck “quoted” #2");
        let found = call(
            &core,
            json!({"method": "search", "params": {"text": "pluck quot", "limit": 5}}),
            vec![],
        )
        .await
        .unwrap();
        assert_eq!(found["tracks"].as_array().unwrap().len(), 1);
        let stats = call(&core, json!({"method": "stats", "params": {}}), vec![])
            .await
            .unwrap();
        assert_eq!(stats["stats"]["tracks"], 1);
        assert_eq!(stats["stats"]["failed_files"], 1);

        // Played from the picked file through the local provider, read on demand.
        let opened = call(
            &core,
            json!({"method": "open", "params": {"track": track["id"]}}),
            vec![],
        )
        .await
        .unwrap();
        assert_eq!(opened["decoder"], "symphonia");
        let stream = opened["stream"].as_u64().unwrap() as u32;
        let channels = opened["channels"].as_u64().unwrap() as u32;
        let mut frames = 0;
        while let Some(chunk) = core
            .next_chunk(stream, 4096)
            .map_err(JsValue::from)
            .unwrap()
        {
            frames += chunk.length() / channels;
        }
        assert!(frames > 44_100, "{frames} frames");
        let seeked = call(
            &core,
            json!({"method": "seek", "params": {"stream": stream, "frame": 0}}),
            vec![],
        )
        .await
        .unwrap();
        assert_eq!(seeked["frame"], 0);
        assert!(
            core.next_chunk(stream, 16)
                .map_err(JsValue::from)
                .unwrap()
                .is_some()
        );
        call(
            &core,
            json!({"method": "stop", "params": {"stream": stream}}),
            vec![],
        )
        .await
        .unwrap();
        assert!(
            core.next_chunk(stream, 16).is_err(),
            "a stopped stream is gone"
        );

        // Bad requests get an answer that says why.
        let error = call(
            &core,
            json!({"method": "open", "params": {"track": 999}}),
            vec![],
        )
        .await
        .unwrap_err();
        assert!(error.contains("999"), "{error}");
        let error = call(&core, json!({"method": "fly", "params": {}}), vec![])
            .await
            .unwrap_err();
        assert!(error.contains("not a request"), "{error}");
    }

    #[wasm_bindgen_test]
    #[cfg(feature = "local")]
    fn picked_files_are_read_in_ranges() {
        use tonearm_plugin_api::FileSystem as _;

        let bytes: Vec<u8> = (0..100u8).collect();
        let folder = PickedFolder::new(vec![("x.mp3".into(), file("x.mp3", &bytes))], false);
        let mut buf = [0u8; 16];
        assert_eq!(folder.read_at("x.mp3", 10, &mut buf).unwrap(), 16);
        assert_eq!(&buf, &bytes[10..26]);
        assert_eq!(folder.read_at("x.mp3", 96, &mut buf).unwrap(), 4);
        assert!(folder.read_at("missing.mp3", 0, &mut buf).is_err());
    }

    #[wasm_bindgen_test]
    #[cfg(feature = "_http")]
    fn plugins_get_synchronous_http_in_the_worker_within_their_hosts() {
        use tonearm_plugin_api::{HttpClient as _, HttpRequest, PluginError};
        use wasm_bindgen::JsCast as _;

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
    async fn slow_plugin_calls_leave_the_worker_to_other_work_between_them() {
        use std::cell::Cell;
        use std::rc::Rc;
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};

        use tonearm_core::sync::rt;
        use wasm_bindgen::JsCast as _;

        // A message to the worker, as the page's credit for a played chunk is: it must be
        // handled while a run of blocking calls goes on, not after the last one.
        let calls = Arc::new(AtomicUsize::new(0));
        let handled_at = Rc::new(Cell::new(None::<usize>));
        let channel = web_sys::MessageChannel::new().unwrap();
        let on_message = {
            let (handled_at, calls) = (handled_at.clone(), calls.clone());
            wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || {
                handled_at.set(Some(calls.load(Ordering::Relaxed)));
            })
        };
        channel
            .port1()
            .set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        let slow_call = {
            let calls = calls.clone();
            move || {
                // 20 ms on the thread, as a synchronous request to a slow service takes.
                let until = js_sys::Date::now() + 20.0;
                while js_sys::Date::now() < until {}
                calls.fetch_add(1, Ordering::Relaxed);
            }
        };

        channel.port2().post_message(&JsValue::NULL).unwrap();
        let call = slow_call.clone();
        rt::map_blocking((0..10).collect(), 1, move |_: u32| call())
            .await
            .unwrap();
        let seen = handled_at.get();
        assert!(
            matches!(seen, Some(n) if n < 3),
            "handled after {seen:?} of 10 calls"
        );

        handled_at.set(None);
        calls.store(0, Ordering::Relaxed);
        channel.port2().post_message(&JsValue::NULL).unwrap();
        for _ in 0..10 {
            rt::blocking(slow_call.clone()).await.unwrap();
        }
        let seen = handled_at.get();
        assert!(
            matches!(seen, Some(n) if n < 3),
            "handled after {seen:?} of 10 calls"
        );
    }

    #[wasm_bindgen_test]
    #[cfg(feature = "metadata")]
    fn the_bundled_metadata_sources_pass_the_conformance_suite() {
        use std::sync::Arc;

        // As the worker registers and creates them.
        let (registry, errors) =
            tonearm_core::Registry::with_builtins(tonearm_core::events::EventBus::default());
        assert!(errors.is_empty(), "{errors:?}");
        for id in ["musicbrainz", "coverart", "lrclib"] {
            let manifest = registry.info(id).unwrap().manifest;
            let factory = registry.metadata_source(id).unwrap();
            let report = tonearm_conformance::metadata::check(
                &manifest,
                Arc::new(move |ctx| factory.create(ctx)),
            );
            assert!(report.is_success(), "{id}: {report}");
        }
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
