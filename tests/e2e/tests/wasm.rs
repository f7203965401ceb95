//! Sandboxed wasm component plugins: the builtin plugins as components, and components
//! that must be stopped, trapped or refused.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::sync::Arc;

use tonearm_conformance::fixtures::FixtureSet;
use tonearm_conformance::{decoder, provider};
use tonearm_e2e::wasm_component;
use tonearm_host::conformance::FolderHarness;
use tonearm_host::loader::wasm::{WasmLimits, WasmRuntime};
use tonearm_host::loader::{PluginHandle, load_builtin};
use tonearm_plugin_api::{Decoder, MemoryByteSource, ProbeHint};

/// One engine per test process, with the compile cache shared by every run.
fn runtime() -> WasmRuntime {
    static RUNTIME: std::sync::OnceLock<WasmRuntime> = std::sync::OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let cache_dir = Some(tonearm_e2e::workspace().join("target/wasm-cache"));
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

fn decode_all(decoder: &dyn Decoder, bytes: &Arc<[u8]>, ext: &str) -> Vec<f32> {
    let hint = ProbeHint {
        extension: Some(ext.into()),
        mime: None,
    };
    let mut session = decoder
        .open(Arc::new(MemoryByteSource(bytes.clone())), &hint)
        .unwrap();
    let (mut all, mut chunk) = (Vec::new(), Vec::new());
    while session.read(&mut chunk).unwrap() > 0 {
        all.extend_from_slice(&chunk);
    }
    all
}

/// Lossy decoders build tables with `sin`/`cos`, which natively come from the platform's
/// libm and in wasm from Rust's own: they may differ in the last bit. Lossless decoding
/// involves no such functions and must match bit for bit.
const LOSSY_MAX_DIFFERENCE: f32 = 1e-6;

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
            let worst = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f32::max);
            println!("{}: largest difference {worst:e}", fixture.file);
            assert!(
                worst <= LOSSY_MAX_DIFFERENCE,
                "{}: differs by up to {worst:e}",
                fixture.file
            );
        }
    }
}
