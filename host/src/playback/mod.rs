//! Decoding for playback: choose a decoder for an input, stream its PCM, write WAV.

mod wav;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tonearm_plugin_api::{ByteSource, DecodeSession, PluginError, ProbeHint, StreamSpec};

use crate::events::{CoreEvent, EventBus, PlaybackEvent};
use crate::registry::{Registry, RegistryError};

pub use wav::WavWriter;

/// Bytes of the input handed to decoders' `probe`.
const PROBE_HEAD: usize = 16 * 1024;

/// Why a stream cannot be decoded.
#[derive(Debug, thiserror::Error)]
pub enum PlaybackError {
    /// No decoder, or the chosen one is unavailable.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The decoder failed.
    #[error("decoder `{decoder}` failed on {what}: {error}")]
    Decode {
        /// The decoder's id.
        decoder: String,
        /// The input.
        what: String,
        /// What it said.
        error: PluginError,
    },
    /// Reading the input failed.
    #[error("cannot read {what}: {error}")]
    Input {
        /// The input.
        what: String,
        /// What happened.
        error: PluginError,
    },
    /// Writing the output failed.
    #[error("cannot write {path}: {source}")]
    Output {
        /// The output file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// An open stream and the decoder decoding it.
pub struct Stream {
    /// What is being decoded, for messages.
    pub what: String,
    /// The decoder's id.
    pub decoder: String,
    /// Its probe score for this input.
    pub score: u8,
    /// The stream's shape.
    pub spec: StreamSpec,
    /// The session.
    pub session: Box<dyn DecodeSession>,
}

/// Opens `source` with the best decoder for it, or with `decoder_id` if given.
pub fn open(
    registry: &Registry,
    source: Arc<dyn ByteSource>,
    hint: &ProbeHint,
    what: &str,
    decoder_id: Option<&str>,
) -> Result<Stream, PlaybackError> {
    let input_error = |error| PlaybackError::Input {
        what: what.to_owned(),
        error,
    };
    let len = source.len().map_err(input_error)?;
    let mut head = vec![0u8; usize::try_from(len).unwrap_or(PROBE_HEAD).min(PROBE_HEAD)];
    let n = source.read_at(0, &mut head).map_err(input_error)?;
    head.truncate(n);
    let (id, score, decoder) = match decoder_id {
        Some(id) => (id.to_owned(), 0, registry.decoder(id)?),
        None => {
            let choice = registry.pick_decoder(&head, hint, what)?;
            (choice.id, choice.score, choice.decoder)
        }
    };
    tracing::debug!(decoder = %id, score, what, "decoder chosen");
    let decode_error = |error| PlaybackError::Decode {
        decoder: id.clone(),
        what: what.to_owned(),
        error,
    };
    let session = decoder.open(source, hint).map_err(decode_error)?;
    let spec = session.spec();
    if spec.channels == 0 || spec.sample_rate == 0 {
        return Err(decode_error(PluginError::Corrupt(format!(
            "the decoder reported {} Hz × {} channels",
            spec.sample_rate, spec.channels
        ))));
    }
    Ok(Stream {
        what: what.to_owned(),
        decoder: id,
        score,
        spec,
        session,
    })
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
) -> Result<DecodeSummary, PlaybackError> {
    let output_error = |source| PlaybackError::Output {
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
    let result: Result<u64, PlaybackError> = (|| {
        let mut writer = WavWriter::create(&tmp, stream.spec.sample_rate, stream.spec.channels)
            .map_err(output_error)?;
        let mut chunk = Vec::new();
        let mut frames = 0u64;
        loop {
            let n = stream
                .session
                .read(&mut chunk)
                .map_err(|error| PlaybackError::Decode {
                    decoder: stream.decoder.clone(),
                    what: stream.what.clone(),
                    error,
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
