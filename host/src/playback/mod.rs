//! Decoding to a file: a stream opened by the core (`tonearm_core::playback`, through the
//! facade) written out as WAV.

mod wav;

use std::path::Path;
use std::time::{Duration, Instant};

use tonearm_plugin_api::StreamSpec;

use crate::events::{CoreEvent, EventBus, PlaybackEvent};

pub use tonearm_core::playback::{PlaybackError, Stream};
pub use wav::WavWriter;

/// Why a stream could not be decoded to a file.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Opening or decoding failed.
    #[error(transparent)]
    Playback(#[from] PlaybackError),
    /// Writing the output failed.
    #[error("cannot write {path}: {source}")]
    Output {
        /// The output file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// What a finished decode did.
#[derive(Debug, Clone)]
pub struct DecodeSummary {
    /// The decoder's id.
    pub decoder: String,
    /// The stream's shape.
    pub spec: StreamSpec,
    /// Frames decoded.
    pub frames: u64,
    /// Wall time spent.
    pub elapsed: Duration,
}

impl DecodeSummary {
    /// Seconds of audio decoded per second of wall time.
    pub fn realtime_factor(&self) -> f64 {
        let audio = self.frames as f64 / f64::from(self.spec.sample_rate.max(1));
        audio / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Decodes `stream` to a 32-bit float WAV file at `out`. The file appears only once it is
/// complete.
pub fn decode_to_wav(
    mut stream: Stream,
    out: &Path,
    bus: &EventBus,
) -> Result<DecodeSummary, DecodeError> {
    let output_error = |source| DecodeError::Output {
        path: out.display().to_string(),
        source,
    };
    let mut tmp_name = out.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp_name);
    bus.emit(CoreEvent::Playback(PlaybackEvent::Started {
        what: stream.what.clone(),
        decoder: stream.decoder.clone(),
        sample_rate: stream.spec.sample_rate,
        channels: stream.spec.channels,
    }));
    let started = Instant::now();
    let result: Result<u64, DecodeError> = (|| {
        let mut writer = WavWriter::create(&tmp, stream.spec.sample_rate, stream.spec.channels)
            .map_err(output_error)?;
        let mut chunk = Vec::new();
        let mut frames = 0u64;
        loop {
            let n = stream.session.read(&mut chunk).map_err(|error| {
                DecodeError::Playback(PlaybackError::Decode {
                    decoder: stream.decoder.clone(),
                    what: stream.what.clone(),
                    error,
                })
            })?;
            if n == 0 {
                break;
            }
            frames += n as u64;
            writer.write(&chunk).map_err(output_error)?;
        }
        writer.finish().map_err(output_error)?;
        std::fs::rename(&tmp, out).map_err(output_error)?;
        Ok(frames)
    })();
    match result {
        Ok(frames) => {
            bus.emit(CoreEvent::Playback(PlaybackEvent::Completed {
                what: stream.what.clone(),
                frames,
            }));
            Ok(DecodeSummary {
                decoder: stream.decoder,
                spec: stream.spec,
                frames,
                elapsed: started.elapsed(),
            })
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            bus.emit(CoreEvent::Playback(PlaybackEvent::Error {
                what: stream.what,
                error: e.to_string(),
            }));
            Err(e)
        }
    }
}
