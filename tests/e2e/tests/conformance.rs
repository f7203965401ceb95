//! The conformance suite on the builtin plugins, and proof that it fails bad plugins.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::sync::Arc;

use tonearm_conformance::fixtures::FixtureSet;
use tonearm_conformance::{decoder, provider};
use tonearm_host::conformance::FolderHarness;
use tonearm_loader::{PluginHandle, load_builtin};
use tonearm_plugin_api::{ByteSource, DecodeSession, Decoder, PluginResult, ProbeHint, StreamSpec};

fn symphonia() -> (Arc<dyn Decoder>, tonearm_plugin_api::PluginManifest) {
    let loaded = load_builtin(&tonearm_plugin_symphonia::DESCRIPTOR).unwrap();
    let PluginHandle::Decoder(d) = loaded.handle else {
        panic!("not a decoder")
    };
    (d, loaded.manifest)
}

#[test]
fn symphonia_passes_the_decoder_suite() {
    let (decoder, manifest) = symphonia();
    let report = decoder::check(decoder, &manifest, &FixtureSet::bundled());
    println!("{report}");
    assert!(report.is_success(), "{:#?}", report.failures());
    // Every bundled format is claimed, so nothing was skipped.
    assert_eq!(report.skipped(), 0, "{report}");
}

#[test]
fn local_passes_the_provider_suite() {
    let loaded = load_builtin(&tonearm_plugin_local::DESCRIPTOR).unwrap();
    let PluginHandle::StorageProvider(factory) = loaded.handle else {
        panic!("not a provider")
    };
    let harness = FolderHarness::new("local", factory).unwrap();
    let report = provider::check("local", Arc::new(harness));
    println!("{report}");
    assert!(report.is_success(), "{:#?}", report.failures());
}

/// Claims everything, decodes silence of the wrong length, and panics on seek.
struct Liar;

struct LiarSession(u32);

impl Decoder for Liar {
    fn probe(&self, _: &[u8], _: &ProbeHint) -> PluginResult<u8> {
        Ok(100)
    }
    fn open(&self, _: Arc<dyn ByteSource>, _: &ProbeHint) -> PluginResult<Box<dyn DecodeSession>> {
        Ok(Box::new(LiarSession(0)))
    }
}

impl DecodeSession for LiarSession {
    fn spec(&self) -> StreamSpec {
        StreamSpec {
            sample_rate: 44100,
            channels: 2,
            total_frames: None,
            codec: "lie".into(),
            bits_per_sample: None,
        }
    }
    fn read(&mut self, out: &mut Vec<f32>) -> PluginResult<usize> {
        out.clear();
        if self.0 == 10 {
            return Ok(0);
        }
        self.0 += 1;
        out.resize(2048, 0.0);
        Ok(1024)
    }
    fn seek(&mut self, _: u64) -> PluginResult<u64> {
        panic!("seek is not implemented")
    }
}

#[test]
fn the_suite_fails_a_lying_decoder_without_crashing() {
    let (_, mut manifest) = symphonia();
    manifest.id = "liar".into();
    let report = decoder::check(Arc::new(Liar), &manifest, &FixtureSet::bundled());
    let failures = report.failures().join("\n");
    assert!(!report.is_success());
    assert!(
        failures.contains("probe scores empty input and garbage 0"),
        "{failures}"
    );
    assert!(failures.contains("decoded 10240 frames"), "{failures}");
    assert!(
        failures.contains("spec says 44100 Hz × 2 channels"),
        "{failures}"
    );
}

/// Symphonia's decoder with its samples changed by `f`: right rate, length and seeks,
/// wrong sound.
struct Tampered(Arc<dyn Decoder>, fn(&mut [f32]));

struct TamperedSession(Box<dyn DecodeSession>, fn(&mut [f32]));

impl Decoder for Tampered {
    fn probe(&self, head: &[u8], hint: &ProbeHint) -> PluginResult<u8> {
        self.0.probe(head, hint)
    }
    fn open(
        &self,
        source: Arc<dyn ByteSource>,
        hint: &ProbeHint,
    ) -> PluginResult<Box<dyn DecodeSession>> {
        Ok(Box::new(TamperedSession(
            self.0.open(source, hint)?,
            self.1,
        )))
    }
}

impl DecodeSession for TamperedSession {
    fn spec(&self) -> StreamSpec {
        self.0.spec()
    }
    fn read(&mut self, out: &mut Vec<f32>) -> PluginResult<usize> {
        let frames = self.0.read(out)?;
        (self.1)(out);
        Ok(frames)
    }
    fn seek(&mut self, frame: u64) -> PluginResult<u64> {
        self.0.seek(frame)
    }
}

#[test]
fn the_suite_fails_a_silent_or_wrong_decoder_of_the_right_length() {
    let (symphonia, manifest) = symphonia();
    let silence: fn(&mut [f32]) = |pcm| pcm.fill(0.0);
    // Half the level: sounds like the file, is not what it holds.
    let quieter: fn(&mut [f32]) = |pcm| pcm.iter_mut().for_each(|s| *s *= 0.5);
    for (what, tamper) in [("silent", silence), ("halved", quieter)] {
        let report = decoder::check(
            Arc::new(Tampered(symphonia.clone(), tamper)),
            &manifest,
            &FixtureSet::bundled(),
        );
        let failures = report.failures();
        let wrong: Vec<_> = failures
            .iter()
            .filter(|f| f.contains("samples match the reference"))
            .collect();
        assert_eq!(
            wrong.len(),
            FixtureSet::bundled().audio.len(),
            "a {what} decoder fails every fixture's reference: {failures:#?}"
        );
        assert!(
            failures.iter().all(|f| !f.contains(": decode:")),
            "and only that: its length is right"
        );
    }
}
