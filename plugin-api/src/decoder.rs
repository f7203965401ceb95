//! Decoders: how encoded bytes become PCM.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::PluginResult;
use crate::host::ByteSource;

/// What is known about an input besides its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProbeHint {
    /// The file extension, without the dot.
    pub extension: Option<String>,
    /// The MIME type.
    pub mime: Option<String>,
}

/// The shape of a decoded stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSpec {
    /// Frames per second.
    pub sample_rate: u32,
    /// Interleaved channels per frame.
    pub channels: u16,
    /// Total frames, if the container states it.
    pub total_frames: Option<u64>,
    /// A short codec name (`flac`, `mp3`, `aac`, …).
    pub codec: String,
    /// Bits per sample of the source, for lossless formats.
    pub bits_per_sample: Option<u32>,
}

/// Decodes one kind of audio or many, chosen by [`probe`](Decoder::probe) score.
pub trait Decoder: Send + Sync {
    /// How sure the decoder is that it can decode an input starting with `head`: 0 means
    /// it cannot, 100 that it certainly can. Never fails; garbage scores 0.
    fn probe(&self, head: &[u8], hint: &ProbeHint) -> u8;

    /// Opens a decode session over `source`.
    fn open(
        &self,
        source: Arc<dyn ByteSource>,
        hint: &ProbeHint,
    ) -> PluginResult<Box<dyn DecodeSession>>;
}

/// One open stream being decoded.
pub trait DecodeSession: Send {
    /// The stream's shape.
    fn spec(&self) -> StreamSpec;

    /// Decodes the next chunk of interleaved `f32` samples into `out` (which is cleared
    /// first) and returns the number of frames; 0 means the stream has ended.
    fn read(&mut self, out: &mut Vec<f32>) -> PluginResult<usize>;

    /// Moves to `frame` and returns the frame the next [`read`](DecodeSession::read)
    /// starts at.
    fn seek(&mut self, frame: u64) -> PluginResult<u64>;
}
