//! Plugins genuinely built against older plugin APIs (`tests/plugins/legacy`, rebuilt by its
//! `build.sh` from the last commit of each) under today's host: the rule for each form, as
//! `docs/versioning.md` states it.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::path::PathBuf;
use std::sync::Arc;

use tonearm_conformance::decoder;
use tonearm_conformance::fixtures::FixtureSet;
use tonearm_e2e::{assert_same_pcm, decode_all};
use tonearm_loader::PluginHandle;
use tonearm_loader::wasm::{WasmLimits, WasmRuntime};
use tonearm_plugin_api::{Decoder as _, MemoryByteSource, ProbeHint};

fn legacy(file: &str) -> PathBuf {
    tonearm_e2e::workspace()
        .join("tests/plugins/legacy")
        .join(file)
}

fn runtime() -> WasmRuntime {
    WasmRuntime::new(WasmLimits {
        cache_dir: Some(tonearm_e2e::component_cache()),
        ..WasmLimits::default()
    })
    .unwrap()
}

#[test]
fn a_component_built_against_api_0_1_0_loads_and_passes_the_decoder_suite() {
    let runtime = runtime();
    let plugin = runtime.load(&legacy("opus-api-0.1.0.wasm")).unwrap();
    assert_eq!(plugin.manifest.id, "opus");
    assert_eq!(plugin.manifest.api_version.to_string(), "0.1.0");
    let PluginHandle::Decoder(legacy) = plugin.handle else {
        panic!("not a decoder")
    };

    let fixtures_dir = tonearm_e2e::workspace().join("plugins/opus/tests/fixtures");
    let fixtures = FixtureSet::load(&fixtures_dir).unwrap();
    let report = decoder::check(legacy.clone(), &plugin.manifest, &fixtures);
    assert!(report.is_success() && report.skipped() == 0, "{report}");

    // It decodes what today's Opus plugin decodes, and is described through a session
    // (0.1.0 has no `describe`).
    let today = tonearm_plugin_opus::OpusDecoder;
    for fixture in &fixtures.audio {
        let a = decode_all(&today, &fixture.bytes, "opus");
        let b = decode_all(legacy.as_ref(), &fixture.bytes, "opus");
        assert_same_pcm(&a, &b, &fixture.file);
        let hint = ProbeHint {
            extension: Some("opus".into()),
            mime: None,
        };
        let info = legacy
            .describe(Arc::new(MemoryByteSource(fixture.bytes.clone())), &hint)
            .unwrap();
        assert_eq!(
            (info.stream.sample_rate, info.stream.channels),
            (fixture.sample_rate, fixture.channels),
            "{}",
            fixture.file
        );
        assert_eq!(info.stream.codec, "opus");
    }
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[test]
fn a_native_library_built_against_api_0_1_0_is_refused_naming_both_versions() {
    use tonearm_loader::native::{NativeLoadError, load_native};

    let err = match load_native(&legacy("local-api-0.1.0-x86_64-linux.so")) {
        Ok(_) => panic!("a library built against tonearm-plugin-native 0.1 was loaded"),
        Err(e) => e,
    };
    let NativeLoadError::AbiVersion { library, host, .. } = &err else {
        panic!("refused for another reason: {err}");
    };
    assert_eq!(library, "0.1.0");
    assert_eq!(host, env!("CARGO_PKG_VERSION"));
    let text = err.to_string();
    assert!(
        text.contains("0.1.0") && text.contains(host) && text.contains("rebuild"),
        "{text}"
    );
}

#[test]
fn a_decoder_component_built_against_api_0_2_0_decodes_and_describes_as_today() {
    let plugin = runtime().load(&legacy("opus-api-0.2.0.wasm")).unwrap();
    assert_eq!(plugin.manifest.api_version.to_string(), "0.2.0");
    let PluginHandle::Decoder(legacy) = plugin.handle else {
        panic!("not a decoder")
    };
    let fixtures_dir = tonearm_e2e::workspace().join("plugins/opus/tests/fixtures");
    let fixtures = FixtureSet::load(&fixtures_dir).unwrap();
    let report = decoder::check(legacy.clone(), &plugin.manifest, &fixtures);
    assert!(report.is_success() && report.skipped() == 0, "{report}");
    let today = tonearm_plugin_opus::OpusDecoder;
    let hint = ProbeHint {
        extension: Some("opus".into()),
        mime: None,
    };
    for fixture in &fixtures.audio {
        let a = decode_all(&today, &fixture.bytes, "opus");
        let b = decode_all(legacy.as_ref(), &fixture.bytes, "opus");
        assert_same_pcm(&a, &b, &fixture.file);
        // 0.2.0 has `describe`: the component's own answer, as today's plugin gives it.
        let source = || Arc::new(MemoryByteSource(fixture.bytes.clone()));
        let old = legacy.describe(source(), &hint).unwrap();
        let new = today.describe(source(), &hint).unwrap();
        assert_eq!(old, new, "{}", fixture.file);
    }
}

#[test]
fn a_provider_component_built_against_api_0_2_0_passes_the_provider_suite() {
    use tonearm_conformance::provider;
    use tonearm_host::conformance::FolderHarness;

    let plugin = runtime().load(&legacy("local-api-0.2.0.wasm")).unwrap();
    assert_eq!(plugin.manifest.api_version.to_string(), "0.2.0");
    let PluginHandle::StorageProvider(factory) = plugin.handle else {
        panic!("not a provider")
    };
    let report = provider::check(
        "local",
        Arc::new(FolderHarness::new("local", factory).unwrap()),
    );
    assert!(report.is_success(), "{report}");
}
