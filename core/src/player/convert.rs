//! One track's samples made into the output's: gain, channel mapping, sample rate.
//!
//! The output keeps one format for a whole session (a device is not reopened between
//! tracks), so a track of another rate is resampled (rubato's synchronous FFT resampler,
//! as its authors advise for a fixed ratio) and one of another channel count is mapped.

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler};

/// The output's format: what every track is converted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct OutputFormat {
    /// Frames per second.
    pub sample_rate: u32,
    /// Interleaved channels per frame.
    pub channels: u16,
}

/// Why a track cannot be converted to the output's format.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The resampler refused the rates.
    #[error("cannot resample {from} Hz to {to} Hz: {reason}")]
    Rates {
        /// The track's rate.
        from: u32,
        /// The output's.
        to: u32,
        /// What rubato said.
        reason: String,
    },
}

/// Frames the resampler takes per call: about 20 ms at 48 kHz.
const RESAMPLE_CHUNK: usize = 1024;

/// Converts one track, chunk by chunk; [`finish`](Converter::finish) at its end.
pub(crate) struct Converter {
    in_channels: usize,
    out_channels: usize,
    gain: f32,
    resampler: Option<Resample>,
    mapped: Vec<f32>,
}

impl Converter {
    /// A converter from `in_rate` × `in_channels` to `out`, scaling by `gain` (linear).
    pub(crate) fn new(
        in_rate: u32,
        in_channels: u16,
        out: OutputFormat,
        gain: f32,
    ) -> Result<Self, ConvertError> {
        let resampler = if in_rate == out.sample_rate {
            None
        } else {
            Some(Resample::new(
                in_rate,
                out.sample_rate,
                usize::from(out.channels),
            )?)
        };
        Ok(Self {
            in_channels: usize::from(in_channels),
            out_channels: usize::from(out.channels),
            gain,
            resampler,
            mapped: Vec::new(),
        })
    }

    /// Output frames that `frames` input frames become (for positions and lengths).
    pub(crate) fn out_frames(&self, frames: u64) -> u64 {
        match &self.resampler {
            Some(r) => (frames as f64 * r.ratio).round() as u64,
            None => frames,
        }
    }

    /// Appends `input` (interleaved, the track's format) to `out`, converted.
    pub(crate) fn push(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<(), ConvertError> {
        if self.resampler.is_none() {
            map_channels(input, self.in_channels, self.out_channels, self.gain, out);
            return Ok(());
        }
        self.mapped.clear();
        map_channels(
            input,
            self.in_channels,
            self.out_channels,
            self.gain,
            &mut self.mapped,
        );
        match &mut self.resampler {
            Some(r) => r.push(&self.mapped, out),
            None => Ok(()),
        }
    }

    /// Appends what the resampler still holds at the end of the track.
    pub(crate) fn finish(&mut self, out: &mut Vec<f32>) -> Result<(), ConvertError> {
        match &mut self.resampler {
            Some(r) => r.finish(out),
            None => Ok(()),
        }
    }

    /// Forgets buffered samples (after a seek).
    pub(crate) fn reset(&mut self) {
        if let Some(r) = &mut self.resampler {
            r.reset();
        }
    }
}

/// Copies `input` into `out` with `to` channels and `gain` applied.
///
/// Mono goes to every channel; more channels going to stereo are folded down with the
/// ITU-R BS.775 coefficients (centre and surrounds at −3 dB, LFE dropped) for 5.1 layouts
/// and by dropping the extra channels otherwise; fewer channels than the output leave the
/// extra output channels silent.
fn map_channels(input: &[f32], from: usize, to: usize, gain: f32, out: &mut Vec<f32>) {
    if from == 0 || to == 0 {
        return;
    }
    let frames = input.len() / from;
    out.reserve(frames * to);
    if from == to {
        out.extend(input[..frames * from].iter().map(|s| s * gain));
        return;
    }
    const MINUS_3_DB: f32 = std::f32::consts::FRAC_1_SQRT_2;
    for frame in input.chunks_exact(from) {
        match (from, to) {
            (1, _) => out.extend(std::iter::repeat_n(frame[0] * gain, to)),
            (_, 1) => out.push(frame.iter().sum::<f32>() / from as f32 * gain),
            // L R C LFE Ls Rs, as FLAC, Vorbis and WAV order 5.1.
            (6, 2) => {
                let (l, r, c, ls, rs) = (frame[0], frame[1], frame[2], frame[4], frame[5]);
                let norm = 1.0 / (1.0 + 2.0 * MINUS_3_DB);
                out.push((l + MINUS_3_DB * (c + ls)) * norm * gain);
                out.push((r + MINUS_3_DB * (c + rs)) * norm * gain);
            }
            _ => {
                for ch in 0..to {
                    out.push(frame.get(ch).map_or(0.0, |s| s * gain));
                }
            }
        }
    }
}

/// A streaming resampler that trims its own delay, so a resampled track starts and ends
/// on the same sample as the original (gapless across a change of rate).
struct Resample {
    fft: Fft<f32>,
    from: u32,
    to: u32,
    channels: usize,
    ratio: f64,
    /// Input frames waiting for a whole chunk (interleaved).
    input: Vec<f32>,
    /// One call's output (interleaved), sized for the largest.
    scratch: Vec<f32>,
    /// Output frames still to drop: the resampler's delay.
    to_trim: usize,
    frames_in: u64,
    frames_out: u64,
}

impl Resample {
    fn new(from: u32, to: u32, channels: usize) -> Result<Self, ConvertError> {
        let fft = Fft::<f32>::new(
            from as usize,
            to as usize,
            RESAMPLE_CHUNK,
            channels,
            FixedSync::Input,
        )
        .map_err(|e| ConvertError::Rates {
            from,
            to,
            reason: e.to_string(),
        })?;
        let scratch = vec![0.0; fft.output_frames_max() * channels];
        Ok(Self {
            to_trim: fft.output_delay(),
            fft,
            from,
            to,
            channels,
            ratio: f64::from(to) / f64::from(from),
            input: Vec::new(),
            scratch,
            frames_in: 0,
            frames_out: 0,
        })
    }

    fn push(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<(), ConvertError> {
        self.frames_in += (input.len() / self.channels) as u64;
        self.input.extend_from_slice(input);
        while self.input.len() / self.channels >= self.fft.input_frames_next() {
            let used = self.process(None, out)?;
            self.input.drain(..used * self.channels);
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<f32>) -> Result<(), ConvertError> {
        let expected = (self.frames_in as f64 * self.ratio).round() as u64;
        let held = self.input.len() / self.channels;
        if held > 0 {
            self.process(Some(held), out)?;
            self.input.clear();
        }
        // The last input is still inside the filter: pump silence through until every
        // frame it is owed has come out.
        while self.frames_out < expected {
            let before = self.frames_out;
            self.process(Some(0), out)?;
            if self.frames_out == before {
                break;
            }
        }
        let extra = self.frames_out.saturating_sub(expected) as usize;
        out.truncate(out.len() - extra.min(out.len() / self.channels) * self.channels);
        self.frames_out -= extra as u64;
        Ok(())
    }

    /// One resampler call over the buffered input (`partial`: only that many frames are
    /// real, the rest silence); returns the input frames used.
    fn process(
        &mut self,
        partial: Option<usize>,
        out: &mut Vec<f32>,
    ) -> Result<usize, ConvertError> {
        let need = self.fft.input_frames_next();
        let frames = self.input.len() / self.channels;
        let (from, to) = (self.from, self.to);
        let error = |e: &dyn std::fmt::Display| ConvertError::Rates {
            from,
            to,
            reason: e.to_string(),
        };
        // A partial chunk's input buffer still has to be `need` frames long.
        if frames < need {
            self.input.resize(need * self.channels, 0.0);
        }
        let input = InterleavedSlice::new(&self.input[..need * self.channels], self.channels, need)
            .map_err(|e| error(&e))?;
        let out_frames = self.scratch.len() / self.channels;
        let mut output = InterleavedSlice::new_mut(&mut self.scratch, self.channels, out_frames)
            .map_err(|e| error(&e))?;
        let indexing = partial.map(|len| Indexing::new().partial_len(len));
        let (used, made) = self
            .fft
            .process_into_buffer(&input, &mut output, indexing.as_ref())
            .map_err(|e| error(&e))?;
        let trim = self.to_trim.min(made);
        self.to_trim -= trim;
        out.extend_from_slice(&self.scratch[trim * self.channels..made * self.channels]);
        self.frames_out += (made - trim) as u64;
        if frames < need {
            self.input.truncate(frames * self.channels);
        }
        Ok(used.min(frames))
    }

    fn reset(&mut self) {
        self.fft.reset();
        self.input.clear();
        self.to_trim = self.fft.output_delay();
        self.frames_in = 0;
        self.frames_out = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, hz: f32, frames: usize) -> Vec<f32> {
        (0..frames)
            .map(|i| (i as f32 / rate as f32 * hz * std::f32::consts::TAU).sin() * 0.5)
            .collect()
    }

    #[test]
    fn same_format_is_copied_with_the_gain() {
        let out_format = OutputFormat {
            sample_rate: 44_100,
            channels: 2,
        };
        let mut c = Converter::new(44_100, 2, out_format, 0.5).expect("converter");
        let mut out = Vec::new();
        c.push(&[1.0, -1.0, 0.5, 0.25], &mut out).expect("push");
        c.finish(&mut out).expect("finish");
        assert_eq!(out, [0.5, -0.5, 0.25, 0.125]);
    }

    #[test]
    fn channels_are_mapped() {
        let mut out = Vec::new();
        map_channels(&[0.25, 0.5], 1, 2, 1.0, &mut out);
        assert_eq!(out, [0.25, 0.25, 0.5, 0.5]);
        out.clear();
        map_channels(&[0.5, 0.25], 2, 1, 1.0, &mut out);
        assert_eq!(out, [0.375]);
        out.clear();
        map_channels(&[1.0, 0.0, 0.0, 1.0, 0.0, 0.0], 6, 2, 1.0, &mut out);
        assert!(
            out[0] > 0.4 && out[1] == 0.0,
            "front left stays left: {out:?}"
        );
    }

    #[test]
    fn a_resampled_track_keeps_its_length_and_its_start() {
        let input = sine(44_100, 441.0, 44_100);
        let out_format = OutputFormat {
            sample_rate: 48_000,
            channels: 1,
        };
        let mut c = Converter::new(44_100, 1, out_format, 1.0).expect("converter");
        let mut out = Vec::new();
        // In odd pieces, as a decoder hands them out.
        for piece in input.chunks(777) {
            c.push(piece, &mut out).expect("push");
        }
        c.finish(&mut out).expect("finish");
        assert_eq!(out.len(), 48_000, "one second stays one second");
        // The delay is trimmed: the sine starts at 0 and rises, as the input does.
        let expected = sine(48_000, 441.0, 48_000);
        let worst = out[1_000..47_000]
            .iter()
            .zip(&expected[1_000..47_000])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst < 0.01,
            "the resampled sine is in phase: worst {worst}"
        );
    }
}
