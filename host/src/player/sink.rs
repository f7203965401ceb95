//! Where the player's output goes: a WAV file, or a clock that plays into nothing.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tonearm_core::player::Output;

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
}

impl OutputTarget {
    /// Parses `wav:FILE` or `null`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.split_once(':') {
            Some(("wav", path)) if !path.is_empty() => Ok(Self::Wav(PathBuf::from(path))),
            None if text == "null" => Ok(Self::Null),
            _ => Err(format!("unknown output {text:?}: give wav:FILE or null")),
        }
    }
}

impl std::fmt::Display for OutputTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Wav(path) => write!(f, "wav:{}", path.display()),
            Self::Null => f.write_str("null"),
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

pub(super) fn start(
    target: OutputTarget,
    output: Output,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<Result<SinkSummary, NativePlayerError>>, NativePlayerError> {
    let name = target.to_string();
    let error = |reason: String| NativePlayerError::Output {
        target: name.clone(),
        reason,
    };
    let job: Box<dyn FnOnce() -> Result<SinkSummary, NativePlayerError> + Send> = match target {
        OutputTarget::Wav(path) => {
            let format = output.format();
            let mut tmp = path.as_os_str().to_owned();
            tmp.push(".tmp");
            let tmp = PathBuf::from(tmp);
            let writer = WavWriter::create(&tmp, format.sample_rate, format.channels)
                .map_err(|e| error(format!("cannot create {}: {e}", tmp.display())))?;
            let name = name.clone();
            Box::new(move || wav(output, writer, &tmp, &path, &stop, &name))
        }
        OutputTarget::Null => Box::new(move || Ok(null(output, &stop))),
    };
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
    name: &str,
) -> Result<SinkSummary, NativePlayerError> {
    let channels = usize::from(output.format().channels);
    let mut buf = vec![0.0f32; PERIOD * 16 * channels];
    let mut frames = 0u64;
    let error = |e: std::io::Error| NativePlayerError::Output {
        target: name.to_owned(),
        reason: e.to_string(),
    };
    loop {
        let n = output.read(&mut buf);
        if n > 0 {
            writer.write(&buf[..n * channels]).map_err(error)?;
            frames += n as u64;
            continue;
        }
        if stop.load(Ordering::Acquire) {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    writer.finish().map_err(error)?;
    std::fs::rename(tmp, path).map_err(error)?;
    Ok(SinkSummary { frames })
}

/// Takes a device period's worth every period, as a sound card would, and drops it.
fn null(mut output: Output, stop: &AtomicBool) -> SinkSummary {
    let format = output.format();
    let channels = usize::from(format.channels);
    let mut buf = vec![0.0f32; PERIOD * channels];
    let period = Duration::from_secs_f64(PERIOD as f64 / f64::from(format.sample_rate));
    let started = Instant::now();
    let mut rendered = 0u64;
    let mut frames = 0u64;
    while !stop.load(Ordering::Acquire) {
        frames += output.render(&mut buf) as u64;
        rendered += PERIOD as u64;
        // Paced by the clock, not by the sleeps, so the rate does not drift.
        let due = started + period.mul_f64(rendered as f64 / PERIOD as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    SinkSummary { frames }
}
