//! The Opus plugin against the conformance suite and against a reference decoder.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use tonearm_conformance::decoder;
use tonearm_conformance::fixtures::FixtureSet;
use tonearm_plugin_api::{Decoder, MemoryByteSource, ProbeHint};
use tonearm_plugin_opus::{OpusDecoder, manifest};

/// Agreement with `opusdec` required on every fixture (measured: about 140 dB).
const MIN_SNR_DB: f64 = 60.0;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[test]
fn passes_the_decoder_suite() {
    let fixtures = FixtureSet::load(&fixtures_dir()).unwrap();
    let report = decoder::check(Arc::new(OpusDecoder), &manifest(), &fixtures);
    assert!(report.is_success() && report.skipped() == 0, "{report}");
}

fn decode(bytes: Vec<u8>) -> (Vec<f32>, u16) {
    let mut session = OpusDecoder
        .open(
            Arc::new(MemoryByteSource::new(bytes)),
            &ProbeHint::default(),
        )
        .unwrap();
    let channels = session.spec().channels;
    let (mut all, mut chunk) = (Vec::new(), Vec::new());
    while session.read(&mut chunk).unwrap() > 0 {
        all.extend_from_slice(&chunk);
    }
    (all, channels)
}

/// `opusdec --float`'s output as interleaved samples.
fn reference(file: &Path) -> Vec<f32> {
    let out = tempfile_path(file);
    let status = Command::new("opusdec")
        .args(["--quiet", "--float"])
        .arg(file)
        .arg(&out)
        .status()
        .unwrap_or_else(|e| {
            panic!("opusdec is needed as the reference decoder; ./scripts/setup installs it ({e})")
        });
    assert!(status.success(), "opusdec failed on {}", file.display());
    let wav = std::fs::read(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    let mut at = 12;
    while &wav[at..at + 4] != b"data" {
        at += 8 + u32::from_le_bytes(wav[at + 4..at + 8].try_into().unwrap()) as usize;
    }
    wav[at + 8..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn tempfile_path(file: &Path) -> PathBuf {
    std::env::temp_dir().join(format!(
        "tonearm-opus-ref-{}-{}.wav",
        std::process::id(),
        file.file_stem()
            .unwrap()
            .to_string_lossy()
            .replace(' ', "_")
    ))
}

#[test]
fn matches_opusdec_in_length_and_signal() {
    let fixtures = FixtureSet::load(&fixtures_dir()).unwrap();
    for fixture in &fixtures.audio {
        let path = fixtures_dir().join("audio").join(&fixture.file);
        let (ours, channels) = decode(fixture.bytes.to_vec());
        let theirs = reference(&path);
        assert_eq!(
            ours.len(),
            theirs.len(),
            "{}: length differs from opusdec's",
            fixture.file
        );
        assert_eq!(
            ours.len() as u64,
            fixture.frames * u64::from(channels),
            "{}",
            fixture.file
        );
        let signal: f64 = theirs.iter().map(|&s| f64::from(s).powi(2)).sum();
        let noise: f64 = theirs
            .iter()
            .zip(&ours)
            .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
            .sum();
        let snr = 10.0 * (signal / noise.max(1e-30)).log10();
        assert!(
            snr >= MIN_SNR_DB,
            "{}: {snr:.1} dB against opusdec, need {MIN_SNR_DB}",
            fixture.file
        );
    }
}
