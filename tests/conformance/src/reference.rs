//! Whether a decode is correct: its samples against the fixture's reference.

use sha2::{Digest, Sha256};

use crate::fixtures::{AudioFixture, Reference};

/// Frames of the window the alignment search compares: enough to be unambiguous, few
/// enough that searching a codec's whole delay tolerance stays quick.
const ALIGN_WINDOW: usize = 4096;

/// Checks `pcm`, a whole interleaved decode of `f`, against `reference`.
pub(crate) fn check(f: &AudioFixture, reference: &Reference, pcm: &[f32]) -> Result<(), String> {
    let silent = pcm.iter().all(|&s| s == 0.0);
    if let Some(expected) = &reference.sha256_s16le {
        let found = sha256_s16le(pcm);
        if &found != expected {
            return Err(format!(
                "the samples differ from the reference{} (SHA-256 of the 16-bit samples {found}, \
                 expected {expected})",
                if silent { ": the decode is silent" } else { "" }
            ));
        }
    }
    if let Some(floor) = reference.min_snr_db {
        if reference.samples.is_empty() {
            return Err("the fixture states an SNR floor but no reference decode".into());
        }
        let channels = usize::from(f.channels.max(1));
        let tolerance = i64::try_from(f.frame_tolerance).unwrap_or(i64::MAX);
        let (snr, offset) = aligned_snr(pcm, &reference.samples, channels, tolerance);
        if snr < floor {
            return Err(format!(
                "the decode matches the reference at {snr:.1} dB SNR (best alignment: {offset} \
                 frames), below the floor of {floor} dB{}",
                if silent { ": the decode is silent" } else { "" }
            ));
        }
    }
    Ok(())
}

/// SHA-256, in hex, of `pcm` as signed 16-bit little-endian samples.
pub(crate) fn sha256_s16le(pcm: &[f32]) -> String {
    let bytes: Vec<u8> = pcm
        .iter()
        .flat_map(|&s| {
            let v = (f64::from(s) * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
            v.to_le_bytes()
        })
        .collect();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The best SNR of `pcm` against `reference` over the offsets within `tolerance` frames
/// (`pcm` frame `n + offset` against reference frame `n`), and that offset.
fn aligned_snr(pcm: &[f32], reference: &[i16], channels: usize, tolerance: i64) -> (f64, i64) {
    let at_zero = snr(pcm, reference, channels, 0, None);
    if tolerance == 0 {
        return (at_zero, 0);
    }
    // Find the offset on a window in the signal's body, then measure the whole overlap.
    let frames = reference.len() / channels;
    let start = frames / 3;
    let window = Some((start, ALIGN_WINDOW.min(frames - start)));
    let best = (-tolerance..=tolerance)
        .map(|offset| (snr(pcm, reference, channels, offset, window), offset))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map_or(0, |(_, offset)| offset);
    let aligned = snr(pcm, reference, channels, best, None);
    if aligned > at_zero {
        (aligned, best)
    } else {
        (at_zero, 0)
    }
}

/// SNR in dB of `pcm` against `reference` at `offset`, over `window` (first frame, frames)
/// of the reference or all of it. Reference frames the decode does not have count as
/// silence, so a short decode scores low.
fn snr(
    pcm: &[f32],
    reference: &[i16],
    channels: usize,
    offset: i64,
    window: Option<(usize, usize)>,
) -> f64 {
    let frames = reference.len() / channels;
    let (first, count) = window.unwrap_or((0, frames));
    let (mut signal, mut noise) = (0.0f64, 0.0f64);
    for n in first..(first + count).min(frames) {
        let decoded = i64::try_from(n).unwrap_or(i64::MAX).saturating_add(offset);
        for c in 0..channels {
            let r = f64::from(reference[n * channels + c]) / 32768.0;
            let p = usize::try_from(decoded)
                .ok()
                .and_then(|d| pcm.get(d * channels + c))
                .map_or(0.0, |&s| f64::from(s));
            signal += r * r;
            noise += (p - r) * (p - r);
        }
    }
    if noise == 0.0 {
        return f64::INFINITY;
    }
    10.0 * (signal / noise).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(frames: usize, delay: usize) -> Vec<f32> {
        (0..frames + delay)
            .map(|n| {
                if n < delay {
                    0.0
                } else {
                    ((n - delay) as f32 * 0.07).sin() * 0.5
                }
            })
            .collect()
    }

    #[test]
    fn a_delayed_decode_is_aligned_and_a_silent_or_wrong_one_is_not() {
        let reference: Vec<i16> = tone(20_000, 0)
            .iter()
            .map(|s| (s * 32768.0).round() as i16)
            .collect();
        let (snr, offset) = aligned_snr(&tone(20_000, 1024), &reference, 1, 2048);
        assert_eq!(offset, 1024);
        assert!(snr > 60.0, "{snr}");
        let (silent, _) = aligned_snr(&vec![0.0; 21_024], &reference, 1, 2048);
        assert!(silent < 1.0, "{silent}");
        let noise: Vec<f32> = (0..21_024)
            .map(|n| ((n * 7919) % 101) as f32 / 200.0)
            .collect();
        assert!(aligned_snr(&noise, &reference, 1, 2048).0 < 3.0);
    }

    #[test]
    fn checksums_see_the_16_bit_samples() {
        assert_eq!(
            sha256_s16le(&[0.0, 0.5, -1.0]),
            sha256_s16le(&[0.0, 16384.0 / 32768.0, -1.0])
        );
        assert_ne!(sha256_s16le(&[0.0]), sha256_s16le(&[1.0 / 32768.0]));
    }
}
