//! Streaming decode for playback: PCM in chunks whose buffers JavaScript can transfer to
//! the main thread without a copy.

use std::sync::Arc;

use tonearm_core::Registry;
use tonearm_core::playback;
use tonearm_plugin_api::{DecodeSession, MemoryByteSource, StreamSpec};
use wasm_bindgen::prelude::*;

/// One track being decoded.
#[wasm_bindgen]
pub struct Stream {
    session: Box<dyn DecodeSession>,
    spec: StreamSpec,
    decoder: String,
    /// Decoded samples not handed out yet.
    pending: Vec<f32>,
    ended: bool,
}

impl Stream {
    /// Opens a whole file held in memory; `name` gives its extension.
    pub(crate) fn open(registry: &Registry, bytes: Vec<u8>, name: &str) -> Result<Self, String> {
        let source = Arc::new(MemoryByteSource::new(bytes));
        playback::open(registry, source, name, None)
            .map(Self::from)
            .map_err(|e| e.to_string())
    }
}

impl From<playback::Stream> for Stream {
    fn from(stream: playback::Stream) -> Self {
        Self {
            session: stream.session,
            spec: stream.spec,
            decoder: stream.decoder,
            pending: Vec::new(),
            ended: false,
        }
    }
}

#[wasm_bindgen]
impl Stream {
    /// Frames per second.
    #[wasm_bindgen(js_name = sampleRate)]
    pub fn sample_rate(&self) -> u32 {
        self.spec.sample_rate
    }

    /// Interleaved channels.
    pub fn channels(&self) -> u32 {
        u32::from(self.spec.channels)
    }

    /// Total frames, if the container says.
    #[wasm_bindgen(js_name = totalFrames)]
    pub fn total_frames(&self) -> Option<f64> {
        self.spec.total_frames.map(|f| f as f64)
    }

    /// The decoder plugin's id.
    pub fn decoder(&self) -> String {
        self.decoder.clone()
    }

    /// Up to `max_frames` interleaved frames in a new `Float32Array` (its buffer is the
    /// caller's, to transfer); `None` at the end.
    #[wasm_bindgen(js_name = nextChunk)]
    pub fn next_chunk(&mut self, max_frames: u32) -> Result<Option<js_sys::Float32Array>, JsError> {
        let channels = usize::from(self.spec.channels.max(1));
        let want = (max_frames.max(1) as usize) * channels;
        let mut scratch = Vec::new();
        while self.pending.len() < want && !self.ended {
            let frames = self
                .session
                .read(&mut scratch)
                .map_err(|e| JsError::new(&format!("{}: {e}", self.decoder)))?;
            if frames == 0 {
                self.ended = true;
            }
            self.pending.extend_from_slice(&scratch);
        }
        if self.pending.is_empty() {
            return Ok(None);
        }
        let take = want.min(self.pending.len());
        let chunk = js_sys::Float32Array::new_with_length(take as u32);
        chunk.copy_from(&self.pending[..take]);
        self.pending.drain(..take);
        Ok(Some(chunk))
    }

    /// Moves to `frame`; returns the frame it landed on.
    pub fn seek(&mut self, frame: f64) -> Result<f64, JsError> {
        self.seek_to(frame.max(0.0) as u64)
            .map(|f| f as f64)
            .map_err(|e| JsError::new(&e))
    }
}

impl Stream {
    /// Moves to `frame`; returns the frame it landed on.
    pub(crate) fn seek_to(&mut self, frame: u64) -> Result<u64, String> {
        let landed = self
            .session
            .seek(frame)
            .map_err(|e| format!("{}: {e}", self.decoder))?;
        self.pending.clear();
        self.ended = false;
        Ok(landed)
    }
}
