//! Where the player's output goes: a WAV file, a clock that plays into nothing, or the
//! sound card.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tonearm_core::player::{Output, OutputFormat};

use super::NativePlayerError;
use crate::playback::WavWriter;

/// Where a player plays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputTarget {
    /// Into a 32-bit float WAV file, as fast as the engine decodes, with nothing between
    /// tracks: what a test compares sample by sample.
    Wav(PathBuf),
    /// Into nothing, at the pace of a sound card: for machines without one.
    Null,
    /// The sound card: the system's default output, or the first whose name contains
    /// this (PulseAudio where a server runs, else ALSA, on Linux).
    Device(Option<String>),
}

impl OutputTarget {
    /// Parses `wav:FILE`, `null`, `device` or `device:NAME`.
    pub fn parse(text: &str) -> Result<Self, UnknownOutput> {
        match text.split_once(':') {
            Some(("wav", path)) if !path.is_empty() => Ok(Self::Wav(PathBuf::from(path))),
            Some(("device", name)) if !name.is_empty() => Ok(Self::Device(Some(name.to_owned()))),
            None if text == "null" => Ok(Self::Null),
            None if text == "device" => Ok(Self::Device(None)),
            _ => Err(UnknownOutput(text.to_owned())),
        }
    }
}

/// An output name [`OutputTarget::parse`] does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown output {0:?}: give device, device:NAME, wav:FILE or null")]
pub struct UnknownOutput(pub String);

impl std::fmt::Display for OutputTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Wav(path) => write!(f, "wav:{}", path.display()),
            Self::Null => f.write_str("null"),
            Self::Device(None) => f.write_str("device"),
            Self::Device(Some(name)) => write!(f, "device:{name}"),
        }
    }
}

/// What a sink played.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkSummary {
    /// Frames of audio written or played.
    pub frames: u64,
}

/// Frames a sink takes per read: 10 ms at 48 kHz, a common device period.
const PERIOD: usize = 480;

/// The sink thread's result.
pub(super) type SinkThread = JoinHandle<Result<SinkSummary, NativePlayerError>>;

/// Starts a sink on an output, once the player exists.
pub(super) type StartSink =
    Box<dyn FnOnce(Output, Arc<AtomicBool>) -> Result<SinkThread, NativePlayerError> + Send>;

/// An output opened, and the format it plays.
pub(super) struct Opened {
    pub(super) format: OutputFormat,
    pub(super) start: StartSink,
}

/// Opens `target`, playing `preferred` where the output can (a file or the null output
/// always; a device if it supports it, else its own default).
pub(super) fn open(
    target: OutputTarget,
    preferred: OutputFormat,
) -> Result<Opened, NativePlayerError> {
    let name = target.to_string();
    let error = move |reason: String| NativePlayerError::Output {
        target: name.clone(),
        reason,
    };
    match target {
        OutputTarget::Wav(path) => {
            let mut tmp = path.as_os_str().to_owned();
            tmp.push(".tmp");
            let tmp = PathBuf::from(tmp);
            let writer = WavWriter::create(&tmp, preferred.sample_rate, preferred.channels)
                .map_err(|e| error(format!("cannot create {}: {e}", tmp.display())))?;
            Ok(Opened {
                format: preferred,
                start: Box::new(move |output, stop| {
                    let thread_error = error.clone();
                    spawn(&error, move || {
                        wav(output, writer, &tmp, &path, &stop, &thread_error)
                    })
                }),
            })
        }
        OutputTarget::Null => Ok(Opened {
            format: preferred,
            start: Box::new(move |output, stop| spawn(&error, move || Ok(null(output, &stop)))),
        }),
        #[cfg(feature = "device")]
        OutputTarget::Device(name) => super::device::open(name, preferred, error),
        #[cfg(not(feature = "device"))]
        OutputTarget::Device(_) => Err(error(
            "this build has no sound-card output (the host's `device` feature)".into(),
        )),
    }
}

pub(super) fn spawn(
    error: &(impl Fn(String) -> NativePlayerError + ?Sized),
    job: impl FnOnce() -> Result<SinkSummary, NativePlayerError> + Send + 'static,
) -> Result<SinkThread, NativePlayerError> {
    std::thread::Builder::new()
        .name("tonearm-output".into())
        .spawn(job)
        .map_err(|e| error(e.to_string()))
}

/// Writes everything the player plays until told to stop; the file appears complete.
fn wav(
    mut output: Output,
    mut writer: WavWriter,
    tmp: &std::path::Path,
    path: &std::path::Path,
    stop: &AtomicBool,
    error: &dyn Fn(String) -> NativePlayerError,
) -> Result<SinkSummary, NativePlayerError> {
    let channels = usize::from(output.format().channels);
    let mut buf = vec![0.0f32; PERIOD * 16 * channels];
    let mut frames = 0u64;
    let io = |e: std::io::Error| error(e.to_string());
    loop {
        let n = output.read(&mut buf);
        if n > 0 {
            writer.write(&buf[..n * channels]).map_err(io)?;
            frames += n as u64;
            continue;
        }
        if stop.load(Ordering::Acquire) {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    writer.finish().map_err(io)?;
    std::fs::rename(tmp, path).map_err(io)?;
    Ok(SinkSummary { frames })
}

/// Takes a device period's worth every period, as a sound card would, and drops it.
fn null(mut output: Output, stop: &AtomicBool) -> SinkSummary {
    let format = output.format();
    let channels = usize::from(format.channels);
    let mut buf = vec![0.0f32; PERIOD * channels];
    let period = Duration::from_secs_f64(PERIOD as f64 / f64::from(format.sample_rate));
    let started = Instant::now();
    let mut periods = 0u32;
    let mut frames = 0u64;
    while !stop.load(Ordering::Acquire) {
        frames += output.render(&mut buf) as u64;
        periods += 1;
        // Paced by the clock, not by the sleeps, so the rate does not drift.
        let due = started + period * periods;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    SinkSummary { frames }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_named_as_the_command_line_names_them() {
        assert_eq!(OutputTarget::parse("null"), Ok(OutputTarget::Null));
        assert_eq!(
            OutputTarget::parse("device"),
            Ok(OutputTarget::Device(None))
        );
        assert_eq!(
            OutputTarget::parse("device:USB DAC"),
            Ok(OutputTarget::Device(Some("USB DAC".into())))
        );
        assert_eq!(
            OutputTarget::parse("wav:out/a.wav"),
            Ok(OutputTarget::Wav(PathBuf::from("out/a.wav")))
        );
        for bad in ["speaker", "wav:", "device:", ""] {
            assert!(OutputTarget::parse(bad).is_err(), "{bad:?}");
        }
        let target = OutputTarget::parse("device:USB DAC").unwrap_or(OutputTarget::Null);
        assert_eq!(OutputTarget::parse(&target.to_string()), Ok(target));
    }
}
