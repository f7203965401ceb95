//! Decoders: how encoded bytes become PCM.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::PluginResult;
use crate::host::ByteSource;
use crate::metadata::TrackTags;

/// The most bytes of a file's head a host hands [`Decoder::probe`]: enough to see past a
/// large ID3v2 tag's start or an MP4's first boxes. A shorter file comes whole.
pub const PROBE_HEAD_LEN: usize = 64 * 1024;

/// What is known about an input besides its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProbeHint {
    /// The file extension, lower case, without the dot.
    pub extension: Option<String>,
    /// The MIME type.
    pub mime: Option<String>,
}

impl ProbeHint {
    /// The hint for a file at `path`: its extension, no MIME type. The one rule every
    /// host uses, so a decoder sees the same hint however the file was found.
    pub fn for_path(path: &str) -> Self {
        Self {
            extension: crate::storage::extension_of(path),
            mime: None,
        }
    }
}

/// The shape of a decoded stream, as a [`DecodeSession`] reports it when it opens.
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

/// What a decoder can tell about a file without decoding it: the stream and its tags.
///
/// The host reads tags itself for the formats its tag reader knows; for any other file a
/// decoder claims, and for files whose tags the host cannot parse, this is where the
/// library's duration, stream details and tags come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaInfo {
    /// The decoded stream's shape, with its length when it is known.
    pub stream: StreamSpec,
    /// The tags the file carries; empty when the format has none or the decoder reads none.
    pub tags: TrackTags,
}

/// Decodes one kind of audio or many, chosen by [`probe`](Decoder::probe) score.
///
/// The host calls a decoder from several threads at once: [`probe`](Decoder::probe) and
/// [`describe`](Decoder::describe) take `&self`, and every decode runs in its own
/// [`DecodeSession`].
pub trait Decoder: Send + Sync {
    /// How sure the decoder is that it can decode an input starting with `head` (the first
    /// bytes of the file, as many as the host read): 0 means it cannot, 100 that it
    /// certainly can. Garbage scores `Ok(0)`; an `Err` means the decoder itself failed.
    fn probe(&self, head: &[u8], hint: &ProbeHint) -> PluginResult<u8>;

    /// Opens a decode session over `source`.
    fn open(
        &self,
        source: Arc<dyn ByteSource>,
        hint: &ProbeHint,
    ) -> PluginResult<Box<dyn DecodeSession>>;

    /// The stream and tags of the file in `source`, which this decoder claims.
    ///
    /// The default opens a session and reports its [`spec`](DecodeSession::spec) with no
    /// tags; a decoder that knows its format's tags (or can tell the length without opening
    /// a session) overrides it.
    fn describe(&self, source: Arc<dyn ByteSource>, hint: &ProbeHint) -> PluginResult<MediaInfo> {
        let session = self.open(source, hint)?;
        Ok(MediaInfo {
            stream: session.spec(),
            tags: TrackTags::default(),
        })
    }
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
