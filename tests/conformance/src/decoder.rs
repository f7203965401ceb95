//! Checks for decoders.
//!
//! For every fixture whose extension the decoder's manifest claims: it probes above zero,
//! opens with the right rate and channels, decodes the expected number of frames (within
//! the fixture's stated codec tolerance) of finite samples, states a total that agrees,
//! and seeks to within the stated tolerance — landing exactly, sample for sample, for
//! lossless formats. The samples themselves must match the fixture's reference: a
//! checksum for lossless formats, a reference decode and an SNR floor for lossy ones, so
//! a decoder that outputs silence of the right length fails. Empty input and garbage score zero and fail to open; truncated and
//! corrupt files end in an error or a shorter decode, never a panic or a hang.

use std::sync::Arc;
use std::time::Duration;

use tonearm_plugin_api::{Decoder, MemoryByteSource, PluginManifest, ProbeHint};

use crate::fixtures::{AudioFixture, CorruptFixture, Damage, FixtureSet};
use crate::{Report, guarded};

/// How long one decode check may take.
const DEADLINE: Duration = Duration::from_secs(60);
/// Reads per stream at most: a decoder that never ends fails instead of spinning.
const MAX_READS: usize = 1_000_000;
/// Bytes of head handed to `probe`, as hosts hand them.
const PROBE_HEAD: usize = tonearm_plugin_api::PROBE_HEAD_LEN;
/// Frames after a lossy seek excluded from the comparison: encoders' and decoders' state
/// may differ slightly in the first packet.
const LOSSY_SETTLE_FRAMES: u64 = 1024;
/// Agreement required between a lossy decode after a seek and the straight decode…
const LOSSY_SEEK_MIN_SNR_DB: f64 = 20.0;
/// …unless the difference is inaudible anyway (RMS below -60 dBFS), as in a fade to silence.
const LOSSY_SEEK_MAX_RMS_ERROR: f64 = 1e-3;

/// Runs the decoder checks with `fixtures` on `decoder`, whose manifest is `manifest`.
pub fn check(
    decoder: Arc<dyn Decoder>,
    manifest: &PluginManifest,
    fixtures: &FixtureSet,
) -> Report {
    let mut report = Report::new(&manifest.id);
    let claims = |ext: &str| manifest.formats.claims_extension(ext);

    let d = decoder.clone();
    report.record(
        "probe scores empty input and garbage 0",
        guarded(DEADLINE, move || {
            let garbage = pseudo_random(8192, 0x5eed);
            let text = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(40);
            for (what, head, hint) in [
                ("empty input", &[][..], ProbeHint::default()),
                ("random bytes", &garbage[..], ProbeHint::default()),
                ("text named .txt", &text[..], hint("txt")),
            ] {
                match d.probe(head, &hint) {
                    Ok(0) => {}
                    Ok(score) => return Err(format!("{what} scored {score}")),
                    Err(e) => return Err(format!("probing {what} failed: {e}")),
                }
            }
            Ok(())
        }),
    );
    let d = decoder.clone();
    report.record(
        "open refuses garbage",
        guarded(DEADLINE, move || {
            let garbage: Arc<[u8]> = pseudo_random(64 * 1024, 0xbad).into();
            match d.open(Arc::new(MemoryByteSource(garbage)), &ProbeHint::default()) {
                Ok(mut session) => drain(session.as_mut()).map_or(Ok(()), |frames| {
                    if frames == 0 {
                        Ok(())
                    } else {
                        Err(format!("decoded {frames} frames of random bytes"))
                    }
                }),
                Err(_) => Ok(()),
            }
        }),
    );

    for fixture in &fixtures.audio {
        let ext = fixture.extension();
        if !claims(&ext) {
            report.skip(
                fixture.file.clone(),
                format!("the manifest does not claim .{ext}"),
            );
            continue;
        }
        let (d, f) = (decoder.clone(), fixture.clone());
        report.record(
            format!("{}: probe", fixture.file),
            guarded(DEADLINE, move || probe(d.as_ref(), &f)),
        );
        let (d, f) = (decoder.clone(), fixture.clone());
        let reference = guarded(DEADLINE, move || decode_all(d.as_ref(), &f));
        report.record(
            format!("{}: decode", fixture.file),
            reference.as_ref().map(|_| ()).map_err(Clone::clone),
        );
        match (&reference, &fixture.reference) {
            (Ok(pcm), Some(expected)) => report.record(
                format!("{}: samples match the reference", fixture.file),
                crate::reference::check(fixture, expected, pcm),
            ),
            (Ok(_), None) => report.skip(
                format!("{}: samples match the reference", fixture.file),
                "the fixture has no reference decode",
            ),
            (Err(_), _) => report.skip(
                format!("{}: samples match the reference", fixture.file),
                "decoding failed",
            ),
        }
        match reference {
            Ok(reference) => {
                let (d, f) = (decoder.clone(), fixture.clone());
                report.record(
                    format!("{}: seek", fixture.file),
                    guarded(DEADLINE, move || seek(d.as_ref(), &f, &reference)),
                );
            }
            Err(_) => report.skip(format!("{}: seek", fixture.file), "decoding failed"),
        }
    }

    for corrupt in &fixtures.corrupt {
        let ext = corrupt.extension();
        if !claims(&ext) {
            report.skip(
                format!("{} (damaged)", corrupt.file),
                format!("the manifest does not claim .{ext}"),
            );
            continue;
        }
        let original = corrupt
            .of
            .as_ref()
            .and_then(|of| fixtures.audio(of))
            .map(|f| f.frames);
        let (d, c) = (decoder.clone(), corrupt.clone());
        report.record(
            format!(
                "{} (damaged): error or shorter, no panic or hang",
                corrupt.file
            ),
            guarded(DEADLINE, move || damaged(d.as_ref(), &c, original)),
        );
    }
    report
}

fn hint(ext: &str) -> ProbeHint {
    ProbeHint {
        extension: Some(ext.to_owned()),
        mime: None,
    }
}

fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    // xorshift: deterministic noise with no dependency.
    let mut x = seed.max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn probe(decoder: &dyn Decoder, f: &AudioFixture) -> Result<(), String> {
    let head = &f.bytes[..f.bytes.len().min(PROBE_HEAD)];
    match decoder.probe(head, &hint(&f.extension())) {
        Ok(0) => Err("scored 0 for a file it claims".into()),
        Ok(_) => Ok(()),
        Err(e) => Err(format!("probe failed: {e}")),
    }
}

/// Decodes a whole stream, returning interleaved samples.
fn decode_all(decoder: &dyn Decoder, f: &AudioFixture) -> Result<Vec<f32>, String> {
    let mut session = decoder
        .open(
            Arc::new(MemoryByteSource(f.bytes.clone())),
            &hint(&f.extension()),
        )
        .map_err(|e| format!("open failed: {e}"))?;
    let spec = session.spec();
    if (spec.sample_rate, spec.channels) != (f.sample_rate, f.channels) {
        return Err(format!(
            "spec says {} Hz × {} channels, the file is {} Hz × {}",
            spec.sample_rate, spec.channels, f.sample_rate, f.channels
        ));
    }
    let mut all: Vec<f32> = Vec::new();
    let mut chunk = Vec::new();
    for _ in 0..MAX_READS {
        let frames = session.read(&mut chunk).map_err(|e| {
            format!(
                "read failed after {} frames: {e}",
                all.len() / usize::from(f.channels)
            )
        })?;
        if frames == 0 {
            let decoded = (all.len() / usize::from(f.channels)) as u64;
            if decoded.abs_diff(f.frames) > f.frame_tolerance {
                return Err(format!(
                    "decoded {decoded} frames, expected {} ± {}",
                    f.frames, f.frame_tolerance
                ));
            }
            if let Some(total) = spec
                .total_frames
                .filter(|t| t.abs_diff(f.frames) > f.frame_tolerance)
            {
                return Err(format!(
                    "spec states {total} frames, expected {} ± {}",
                    f.frames, f.frame_tolerance
                ));
            }
            if let Some(bad) = all.iter().find(|s| !s.is_finite() || s.abs() > 2.0) {
                return Err(format!("sample {bad} is not a plausible PCM value"));
            }
            return Ok(all);
        }
        if chunk.len() != frames * usize::from(f.channels) {
            return Err(format!(
                "read returned {frames} frames but {} samples",
                chunk.len()
            ));
        }
        all.extend_from_slice(&chunk);
    }
    Err(format!("still decoding after {MAX_READS} reads"))
}

fn rms_error(reference: &[f32], actual: &[f32]) -> f64 {
    let noise: f64 = reference
        .iter()
        .zip(actual)
        .map(|(&r, &a)| (f64::from(r) - f64::from(a)).powi(2))
        .sum();
    (noise / reference.len().max(1) as f64).sqrt()
}

fn snr_db(reference: &[f32], actual: &[f32]) -> f64 {
    let signal: f64 = reference.iter().map(|&s| f64::from(s).powi(2)).sum();
    let noise: f64 = reference
        .iter()
        .zip(actual)
        .map(|(&r, &a)| (f64::from(r) - f64::from(a)).powi(2))
        .sum();
    if noise == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (signal / noise).log10()
    }
}

fn seek(decoder: &dyn Decoder, f: &AudioFixture, reference: &[f32]) -> Result<(), String> {
    let channels = usize::from(f.channels);
    let total = (reference.len() / channels) as u64;
    let mut session = decoder
        .open(
            Arc::new(MemoryByteSource(f.bytes.clone())),
            &hint(&f.extension()),
        )
        .map_err(|e| format!("open failed: {e}"))?;
    let mut chunk = Vec::new();
    for target in [total / 2, total / 4, total * 9 / 10, 0] {
        let landed = session
            .seek(target)
            .map_err(|e| format!("seek to {target} failed: {e}"))?;
        if landed.abs_diff(target) > f.seek_tolerance {
            return Err(format!(
                "seek to {target} landed at {landed}, tolerance {}",
                f.seek_tolerance
            ));
        }
        // Collect enough output after the seek to compare.
        let settle = if f.lossless { 0 } else { LOSSY_SETTLE_FRAMES };
        let want = ((settle + 2048).min(total.saturating_sub(landed))) as usize * channels;
        let mut after = Vec::with_capacity(want);
        while after.len() < want {
            let frames = session
                .read(&mut chunk)
                .map_err(|e| format!("read after seek to {target} failed: {e}"))?;
            if frames == 0 {
                break;
            }
            after.extend_from_slice(&chunk);
        }
        after.truncate(want);
        let start = landed as usize * channels;
        let expected =
            &reference[start.min(reference.len())..(start + after.len()).min(reference.len())];
        if after.len() != expected.len() {
            return Err(format!(
                "after seeking to {target}: {} samples, reference has {}",
                after.len(),
                expected.len()
            ));
        }
        if f.lossless {
            if let Some(i) = after
                .iter()
                .zip(expected)
                .position(|(a, b)| a.to_bits() != b.to_bits())
            {
                return Err(format!(
                    "after seeking to {target} (landed {landed}) sample {i} differs from a straight decode"
                ));
            }
        } else {
            let skip = (settle as usize * channels).min(after.len());
            let snr = snr_db(&expected[skip..], &after[skip..]);
            if snr < LOSSY_SEEK_MIN_SNR_DB
                && rms_error(&expected[skip..], &after[skip..]) > LOSSY_SEEK_MAX_RMS_ERROR
            {
                return Err(format!(
                    "after seeking to {target} (landed {landed}) output agrees with a straight decode at only {snr:.1} dB SNR (need {LOSSY_SEEK_MIN_SNR_DB})"
                ));
            }
        }
    }
    // Past the end: no error needed, but no panic and nothing more to read.
    let landed = session.seek(total + 10_000).unwrap_or(total);
    if landed > total + f.frame_tolerance {
        return Err(format!(
            "seeking past the end landed at {landed}, beyond the {total} frames"
        ));
    }
    // Played to the end, then back to the start (replay): the stream starts over.
    for _ in 0..MAX_READS {
        if session
            .read(&mut chunk)
            .map_err(|e| format!("reading to the end: {e}"))?
            == 0
        {
            break;
        }
    }
    let landed = session
        .seek(0)
        .map_err(|e| format!("seeking back to the start after the end failed: {e}"))?;
    if landed > f.seek_tolerance {
        return Err(format!(
            "seeking back to the start after the end landed at {landed}"
        ));
    }
    session
        .read(&mut chunk)
        .map_err(|e| format!("reading after seeking back to the start: {e}"))?;
    let start = landed as usize * channels;
    let expected =
        &reference[start.min(reference.len())..(start + chunk.len()).min(reference.len())];
    if f.lossless
        && chunk
            .iter()
            .zip(expected)
            .any(|(a, b)| a.to_bits() != b.to_bits())
    {
        return Err(
            "after the end and a seek back to the start, the output differs from a straight decode"
                .into(),
        );
    }
    Ok(())
}

/// Decodes what it can; returns the frames decoded, or `None` if it ended in an error.
fn drain(session: &mut dyn tonearm_plugin_api::DecodeSession) -> Option<u64> {
    let mut chunk = Vec::new();
    let mut frames = 0u64;
    for _ in 0..MAX_READS {
        match session.read(&mut chunk) {
            Ok(0) => return Some(frames),
            Ok(n) => frames += n as u64,
            Err(_) => return None,
        }
    }
    Some(u64::MAX)
}

fn damaged(
    decoder: &dyn Decoder,
    c: &CorruptFixture,
    original_frames: Option<u64>,
) -> Result<(), String> {
    let session = decoder.open(
        Arc::new(MemoryByteSource(c.bytes.clone())),
        &hint(&c.extension()),
    );
    let mut session = match session {
        Err(_) => return Ok(()),
        Ok(s) => s,
    };
    let frames = match drain(session.as_mut()) {
        None => return Ok(()),
        Some(u64::MAX) => return Err(format!("still decoding after {MAX_READS} reads")),
        Some(frames) => frames,
    };
    match (c.kind, original_frames) {
        (Damage::Damaged, _) => Ok(()),
        (Damage::NotAudio, _) if frames == 0 => Ok(()),
        (Damage::NotAudio, _) => Err(format!(
            "decoded {frames} frames from something that is not audio"
        )),
        (Damage::Truncated, Some(original)) if frames < original => Ok(()),
        (Damage::Truncated, Some(original)) => Err(format!(
            "decoded {frames} frames without an error, as many as the intact file's {original}"
        )),
        (Damage::Truncated, None) => Ok(()),
    }
}
