//! Sandboxed wasm component plugins: the builtin plugins as components, and components
//! that must be stopped, trapped or refused.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tonearm_conformance::fixtures::FixtureSet;
use tonearm_conformance::{decoder, provider};
use tonearm_e2e::{assert_same_pcm, decode_all, wasm_component};
use tonearm_host::conformance::FolderHarness;
use tonearm_host::events::{CoreEvent, PluginEvent};
use tonearm_host::{EventBus, Received, Registry};
use tonearm_loader::wasm::{WasmLimits, WasmLoadError, WasmRuntime};
use tonearm_loader::{PluginHandle, base_context, load_builtin};
use tonearm_plugin_api::{
    Decoder, HttpClient, HttpRequest, HttpResponse, PluginError, PluginResult, ProbeHint,
};

/// One engine per test process, with the compile cache shared by every run.
fn runtime() -> WasmRuntime {
    static RUNTIME: std::sync::OnceLock<WasmRuntime> = std::sync::OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let cache_dir = Some(tonearm_e2e::component_cache());
            WasmRuntime::new(WasmLimits {
                cache_dir,
                ..WasmLimits::default()
            })
            .unwrap()
        })
        .clone()
}

fn component_decoder(package: &str) -> (Arc<dyn Decoder>, tonearm_plugin_api::PluginManifest) {
    let plugin = runtime().load(&wasm_component(package)).unwrap();
    let PluginHandle::Decoder(d) = plugin.handle else {
        panic!("not a decoder")
    };
    (d, plugin.manifest)
}

#[test]
fn symphonia_as_a_component_passes_the_decoder_suite() {
    let (decoder, manifest) = component_decoder("tonearm-plugin-symphonia-component");
    let report = decoder::check(decoder, &manifest, &FixtureSet::bundled());
    assert!(report.is_success() && report.skipped() == 0, "{report}");
}

#[test]
fn opus_as_a_component_passes_the_decoder_suite_on_its_fixtures() {
    let (decoder, manifest) = component_decoder("tonearm-plugin-opus-component");
    let fixtures_dir = tonearm_e2e::workspace().join("plugins/opus/tests/fixtures");
    let report = decoder::check(
        decoder.clone(),
        &manifest,
        &FixtureSet::load(&fixtures_dir).unwrap(),
    );
    assert!(report.is_success() && report.skipped() == 0, "{report}");
    // The same output as the plugin linked in (within the libm bound, as for Symphonia).
    let builtin = tonearm_plugin_opus::OpusDecoder;
    for fixture in &FixtureSet::load(&fixtures_dir).unwrap().audio {
        let a = decode_all(&builtin, &fixture.bytes, "opus");
        let b = decode_all(decoder.as_ref(), &fixture.bytes, "opus");
        assert_same_pcm(&a, &b, &fixture.file);
    }
}

#[test]
fn local_as_a_component_passes_the_provider_suite() {
    let plugin = runtime()
        .load(&wasm_component("tonearm-plugin-local-component"))
        .unwrap();
    let PluginHandle::StorageProvider(factory) = plugin.handle else {
        panic!("not a provider")
    };
    let report = provider::check(
        "local",
        Arc::new(FolderHarness::new("local", factory).unwrap()),
    );
    assert!(report.is_success(), "{report}");
}

#[test]
fn builtin_and_component_symphonia_produce_the_same_pcm() {
    let PluginHandle::Decoder(builtin) = load_builtin(&tonearm_plugin_symphonia::DESCRIPTOR)
        .unwrap()
        .handle
    else {
        unreachable!()
    };
    let (component, _) = component_decoder("tonearm-plugin-symphonia-component");
    for fixture in &FixtureSet::bundled().audio {
        let ext = fixture.extension();
        let a = decode_all(builtin.as_ref(), &fixture.bytes, &ext);
        let b = decode_all(component.as_ref(), &fixture.bytes, &ext);
        assert!(!a.is_empty(), "{}", fixture.file);
        assert_eq!(a.len(), b.len(), "{}: lengths differ", fixture.file);
        if fixture.lossless {
            assert!(
                a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
                "{}: the PCM differs",
                fixture.file
            );
        } else {
            let worst = assert_same_pcm(&a, &b, &fixture.file);
            println!("{}: largest difference {worst:e}", fixture.file);
        }
    }
}

#[test]
fn sessions_on_kept_instances_decode_as_fresh_ones_do() {
    let (component, _) = component_decoder("tonearm-plugin-symphonia-component");
    let fixtures = &FixtureSet::bundled().audio;
    let pcm = |f: &tonearm_conformance::fixtures::AudioFixture| {
        decode_all(component.as_ref(), &f.bytes, &f.extension())
    };
    let first: Vec<Vec<f32>> = fixtures.iter().map(pcm).collect();
    // A refused open leaves its instance usable; two sessions at once take two instances.
    let garbage = Arc::new(tonearm_plugin_api::MemoryByteSource(Arc::from(
        &b"not audio at all, not even close"[..],
    )));
    assert!(component.open(garbage, &hint("mp3")).is_err());
    let open = |f: &tonearm_conformance::fixtures::AudioFixture| {
        let source = Arc::new(tonearm_plugin_api::MemoryByteSource(f.bytes.clone()));
        let mut session = component.open(source, &hint(&f.extension())).unwrap();
        let mut chunk = Vec::new();
        assert!(session.read(&mut chunk).unwrap() > 0);
        session
    };
    let (a, b) = (open(&fixtures[0]), open(&fixtures[1]));
    drop((a, b));
    for (fixture, before) in fixtures.iter().zip(&first) {
        let again = pcm(fixture);
        assert!(
            again.len() == before.len()
                && again
                    .iter()
                    .zip(before)
                    .all(|(x, y)| x.to_bits() == y.to_bits()),
            "{}: a later session decodes differently",
            fixture.file
        );
    }
}

/// Short deadlines and little memory, for components that misbehave.
fn strict_runtime() -> WasmRuntime {
    let cache_dir = Some(tonearm_e2e::component_cache());
    let limits = WasmLimits {
        call_timeout: Duration::from_millis(500),
        memory_bytes: 64 << 20,
        fuel: None,
        cache_dir,
    };
    WasmRuntime::new(limits).unwrap()
}

fn hint(ext: &str) -> ProbeHint {
    ProbeHint {
        extension: Some(ext.into()),
        mime: None,
    }
}

#[test]
fn an_endless_loop_is_stopped_at_the_deadline_and_the_instance_replaced() {
    let plugin = strict_runtime()
        .load(&wasm_component("tonearm-test-plugin-misbehaving-component"))
        .unwrap();
    let PluginHandle::Decoder(raw) = plugin.handle.clone() else {
        panic!("not a decoder")
    };
    let registry = Registry::new(EventBus::new(16));
    registry.register(plugin).unwrap();
    let mut events = registry.bus().subscribe();

    let started = Instant::now();
    let choice = registry.pick_decoder(b"LOOP forever", &hint("bad"), "x");
    let elapsed = started.elapsed();
    assert!(choice.is_err(), "a looping decoder cannot win");
    assert!(
        elapsed < Duration::from_secs(5),
        "stopped after {elapsed:?}"
    );
    let failure = registry
        .info("misbehaving-decoder")
        .unwrap()
        .failure
        .unwrap();
    assert!(failure.contains("deadline"), "{failure}");
    assert!(matches!(
        events.try_recv(),
        Some(Received::Event(CoreEvent::Plugin(
            PluginEvent::Failed { .. }
        )))
    ));

    // The trapped instance was dropped; a fresh one answers.
    assert_eq!(raw.probe(b"fine", &hint("bad")), Ok(1));
}

#[test]
fn a_component_that_waits_in_wasi_is_stopped_at_once() {
    let plugin = strict_runtime()
        .load(&wasm_component("tonearm-test-plugin-misbehaving-component"))
        .unwrap();
    let registry = Registry::new(EventBus::new(16));
    registry.register(plugin).unwrap();
    let started = Instant::now();
    assert!(
        registry
            .pick_decoder(b"SLEEP an hour", &hint("bad"), "x")
            .is_err()
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let failure = registry
        .info("misbehaving-decoder")
        .unwrap()
        .failure
        .unwrap();
    assert!(failure.contains("may not wait"), "{failure}");
}

#[test]
fn with_fuel_metering_an_endless_loop_runs_out_of_fuel() {
    let cache_dir = Some(tonearm_e2e::component_cache());
    let limits = WasmLimits {
        fuel: Some(50_000_000),
        cache_dir,
        ..WasmLimits::default()
    };
    let plugin = WasmRuntime::new(limits)
        .unwrap()
        .load(&wasm_component("tonearm-test-plugin-misbehaving-component"))
        .unwrap();
    let registry = Registry::new(EventBus::new(16));
    registry.register(plugin).unwrap();
    assert!(registry.pick_decoder(b"LOOP", &hint("bad"), "x").is_err());
    let failure = registry
        .info("misbehaving-decoder")
        .unwrap()
        .failure
        .unwrap();
    assert!(failure.contains("out of fuel"), "{failure}");
}

#[test]
fn a_memory_hog_is_trapped_at_its_limit() {
    let plugin = strict_runtime()
        .load(&wasm_component("tonearm-test-plugin-misbehaving-component"))
        .unwrap();
    let registry = Registry::new(EventBus::new(16));
    registry.register(plugin).unwrap();
    let started = Instant::now();
    assert!(registry.pick_decoder(b"HOG", &hint("bad"), "x").is_err());
    assert!(started.elapsed() < Duration::from_secs(10));
    let failure = registry
        .info("misbehaving-decoder")
        .unwrap()
        .failure
        .unwrap();
    assert!(
        failure.contains("trapped") && failure.contains("memory"),
        "{failure}"
    );
}

/// Records every request; the tests expect none.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl HttpClient for Recorder {
    fn send(&self, request: HttpRequest) -> PluginResult<HttpResponse> {
        self.0.lock().unwrap().push(request.url);
        Ok(HttpResponse::default())
    }
}

#[test]
fn requests_to_undeclared_hosts_are_refused() {
    let plugin = runtime()
        .load(&wasm_component("tonearm-test-plugin-nosy-component"))
        .unwrap();
    let PluginHandle::StorageProvider(factory) = plugin.handle else {
        panic!("not a provider")
    };
    let recorder = Arc::new(Recorder::default());
    let ctx = base_context("nosy").with_http(recorder.clone());
    let provider = factory.create(&ctx).unwrap();
    let err = provider.list(None).unwrap_err();
    assert!(
        matches!(&err, PluginError::Unauthorized(m) if m.contains("exfiltrate.example")),
        "{err}"
    );
    assert!(recorder.0.lock().unwrap().is_empty(), "nothing was sent");
}

#[test]
fn components_for_another_contract_or_not_components_are_refused() {
    let err = match runtime().load(&wasm_component("tonearm-test-plugin-future-api-component")) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a component for contract 0.4.0 was accepted"),
    };
    assert!(
        err.contains("0.4.0") && err.contains(tonearm_plugin_api::API_VERSION),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let core_module = dir.path().join("core.wasm");
    std::fs::write(&core_module, b"\0asm\x01\0\0\0").unwrap();
    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"definitely not wasm").unwrap();
    let empty = dir.path().join("empty.wasm");
    std::fs::write(&empty, b"").unwrap();
    for path in [core_module, garbage, empty] {
        match runtime().load(&path) {
            Err(WasmLoadError::Invalid { .. }) => {}
            Err(other) => panic!("{}: unexpected {other}", path.display()),
            Ok(_) => panic!("{} was accepted", path.display()),
        }
    }
    assert!(matches!(
        runtime().load(&dir.path().join("missing.wasm")),
        Err(WasmLoadError::Read { .. })
    ));
}
