//! Native plugin libraries: the builtin plugins as dylibs, and libraries that must be
//! refused or contained.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::sync::Arc;

use tonearm_conformance::fixtures::FixtureSet;
use tonearm_conformance::{decoder, provider};
use tonearm_e2e::{decode_all, native_library};
use tonearm_host::conformance::FolderHarness;
use tonearm_host::events::{CoreEvent, PluginEvent};
use tonearm_host::registry::RegistryError;
use tonearm_host::{EventBus, Received, Registry};
use tonearm_loader::native::NativeLoadError;
use tonearm_loader::native::load_native;
use tonearm_loader::{PluginHandle, load_builtin};
use tonearm_plugin_api::{Decoder, MemoryByteSource, PluginError, ProbeHint};

fn native_decoder(package: &str) -> (Arc<dyn Decoder>, tonearm_plugin_api::PluginManifest) {
    let mut plugins = load_native(&native_library(package)).unwrap();
    let plugin = plugins.remove(0);
    let PluginHandle::Decoder(d) = plugin.handle else {
        panic!("not a decoder")
    };
    (d, plugin.manifest)
}

#[test]
fn symphonia_as_a_dylib_passes_the_decoder_suite() {
    let (decoder, manifest) = native_decoder("tonearm-plugin-symphonia-dylib");
    let report = decoder::check(decoder, &manifest, &FixtureSet::bundled());
    assert!(report.is_success() && report.skipped() == 0, "{report}");
}

#[test]
fn local_as_a_dylib_passes_the_provider_suite() {
    let plugin = load_native(&native_library("tonearm-plugin-local-dylib"))
        .unwrap()
        .remove(0);
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
fn builtin_and_dylib_symphonia_produce_bit_identical_pcm() {
    let PluginHandle::Decoder(builtin) = load_builtin(&tonearm_plugin_symphonia::DESCRIPTOR)
        .unwrap()
        .handle
    else {
        unreachable!()
    };
    let (native, _) = native_decoder("tonearm-plugin-symphonia-dylib");
    for fixture in &FixtureSet::bundled().audio {
        let ext = fixture.extension();
        let a = decode_all(builtin.as_ref(), &fixture.bytes, &ext);
        let b = decode_all(native.as_ref(), &fixture.bytes, &ext);
        assert!(!a.is_empty(), "{}", fixture.file);
        assert!(
            a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
            "{}: the PCM differs",
            fixture.file
        );
    }
}

#[test]
fn libraries_for_other_api_versions_are_refused_naming_both_versions() {
    for (package, stated, why) in [
        (
            "tonearm-test-plugin-wrong-major",
            "1.0.0",
            "major versions differ",
        ),
        (
            "tonearm-test-plugin-newer-minor",
            "0.4.0",
            "needs a newer host",
        ),
    ] {
        let err = match load_native(&native_library(package)) {
            Err(e) => e,
            Ok(_) => panic!("{package} was accepted"),
        };
        assert!(
            matches!(err, NativeLoadError::Version { .. }),
            "{package}: {err}"
        );
        let text = err.to_string();
        assert!(
            text.contains(stated) && text.contains(tonearm_plugin_api::API_VERSION),
            "{text}"
        );
        assert!(text.contains(why), "{text}");
    }
    // A library genuinely built against an older API: see `legacy.rs`.
}

#[test]
fn libraries_that_are_not_plugins_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let symphonia = std::fs::read(native_library("tonearm-plugin-symphonia-dylib")).unwrap();
    let truncated = dir.path().join("truncated.so");
    std::fs::write(&truncated, &symphonia[..symphonia.len() / 3]).unwrap();
    let text = dir.path().join("text.so");
    std::fs::write(&text, "not a library").unwrap();
    let empty = dir.path().join("empty.so");
    std::fs::write(&empty, "").unwrap();
    let cases = [
        (
            native_library("tonearm-test-plugin-not-a-plugin"),
            "exports no Tonearm root module",
        ),
        (
            native_library("tonearm-test-plugin-other-layout"),
            "type layouts differ",
        ),
        (truncated, "truncated"),
        (text, "cannot load it as a shared library"),
        (empty, "cannot load it as a shared library"),
        (dir.path().join("missing.so"), "cannot"),
    ];
    for (path, reason) in cases {
        let err = match load_native(&path) {
            Err(e) => e,
            Ok(_) => panic!("{} was accepted", path.display()),
        };
        assert!(
            matches!(err, NativeLoadError::Library { .. }),
            "{}: {err}",
            path.display()
        );
        assert!(
            err.to_string().contains(reason),
            "{}: {err}",
            path.display()
        );
    }
}

#[test]
fn a_panicking_native_plugin_is_contained_disabled_and_announced() {
    let registry = Registry::new(EventBus::new(64));
    registry
        .register(load_builtin(&tonearm_plugin_symphonia::DESCRIPTOR).unwrap())
        .unwrap();
    let mut events = registry.bus().subscribe();
    let loaded = registry
        .register_all(load_native(&native_library("tonearm-test-plugin-misbehaving")).unwrap())
        .unwrap();
    let ids: Vec<&str> = loaded.iter().map(|p| p.manifest.id.as_str()).collect();
    assert_eq!(ids, ["panicky-decoder", "panicky-provider"]);

    // A panic in read: an error, and the plugin is disabled.
    let decoder = registry.decoder("panicky-decoder").unwrap();
    let hint = ProbeHint {
        extension: Some("panic".into()),
        mime: None,
    };
    let mut session = decoder
        .open(Arc::new(MemoryByteSource::new(b"x".to_vec())), &hint)
        .unwrap();
    let err = session.read(&mut Vec::new()).unwrap_err();
    assert!(
        matches!(&err, PluginError::Internal(m) if m.contains("read exploded")),
        "{err}"
    );
    assert!(registry.info("panicky-decoder").unwrap().failure.is_some());
    assert!(matches!(
        registry.decoder("panicky-decoder"),
        Err(RegistryError::Failed { .. })
    ));

    // A panic in the provider: contained too; everything else still works.
    let factory = registry.provider("panicky-provider").unwrap();
    let provider = factory.create(&tonearm_loader::base_context("t")).unwrap();
    let err = provider.list(None).unwrap_err();
    assert!(
        matches!(&err, PluginError::Internal(m) if m.contains("list exploded")),
        "{err}"
    );
    let flac = FixtureSet::bundled()
        .audio("01 chord.flac")
        .unwrap()
        .bytes
        .clone();
    let choice = registry
        .pick_decoder(&flac[..64], &ProbeHint::default(), "flac")
        .unwrap();
    assert_eq!(choice.id, "symphonia");

    let mut failed = Vec::new();
    while let Some(Received::Event(event)) = events.try_recv() {
        if let CoreEvent::Plugin(PluginEvent::Failed { id, .. }) = event {
            failed.push(id);
        }
    }
    assert_eq!(failed, ["panicky-decoder", "panicky-provider"]);
}

#[test]
fn a_panic_inside_probe_disables_the_plugin_without_failing_the_choice() {
    let registry = Registry::new(EventBus::new(64));
    registry
        .register(load_builtin(&tonearm_plugin_symphonia::DESCRIPTOR).unwrap())
        .unwrap();
    registry
        .register_all(load_native(&native_library("tonearm-test-plugin-misbehaving")).unwrap())
        .unwrap();
    let choice = registry.pick_decoder(
        b"PANIC and then some",
        &ProbeHint {
            extension: Some("mp3".into()),
            mime: None,
        },
        "x",
    );
    assert_eq!(
        choice.unwrap().id,
        "symphonia",
        "the extension still finds a decoder"
    );
    assert!(
        registry
            .info("panicky-decoder")
            .unwrap()
            .failure
            .unwrap()
            .contains("probe exploded")
    );
}
