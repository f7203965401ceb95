//! One WAV stream being decoded: frames read in blocks, converted to `f32`.

use std::sync::Arc;

use tonearm_plugin_api::{ByteSource, DecodeSession, PluginError, PluginResult, StreamSpec};

use crate::header::{Encoding, Layout};

/// Frames per `read`: large enough to keep calls few, small enough to start playing soon.
const BLOCK_FRAMES: u64 = 4096;

/// A WAV stream being decoded.
pub struct WavSession {
    source: Arc<dyn ByteSource>,
    layout: Layout,
    /// The next frame `read` decodes.
    frame: u64,
    bytes: Vec<u8>,
}

impl WavSession {
    /// A session at the first frame of `layout`'s samples in `source`.
    pub fn new(source: Arc<dyn ByteSource>, layout: Layout) -> Self {
        Self {
            source,
            layout,
            frame: 0,
            bytes: Vec::new(),
        }
    }
}

impl DecodeSession for WavSession {
    fn spec(&self) -> StreamSpec {
        self.layout.spec.clone()
    }

    fn read(&mut self, out: &mut Vec<f32>) -> PluginResult<usize> {
        out.clear();
        let frames = BLOCK_FRAMES.min(self.layout.frames - self.frame);
        if frames == 0 {
            return Ok(0);
        }
        let len = usize::try_from(frames * self.layout.frame_bytes)
            .map_err(|_| PluginError::Corrupt("a block larger than memory".into()))?;
        self.bytes.resize(len, 0);
        let at = self.layout.data_start + self.frame * self.layout.frame_bytes;
        let read = self.source.read_at(at, &mut self.bytes)?;
        // The file shrank since it was opened: stop at what is there.
        let whole = read / self.layout.frame_bytes as usize;
        let bytes = &self.bytes[..whole * self.layout.frame_bytes as usize];
        match self.layout.encoding {
            Encoding::Int(1) => out.extend(bytes.iter().map(|&b| (f32::from(b) - 128.0) / 128.0)),
            Encoding::Int(n) => out.extend(bytes.chunks_exact(n).map(|s| {
                // Sign-extend from the top: the sample's bytes go high in an i32.
                let mut word = [0u8; 4];
                word[4 - n..].copy_from_slice(s);
                (i32::from_le_bytes(word) as f64 / 2_147_483_648.0) as f32
            })),
            Encoding::Float(4) => out.extend(
                bytes
                    .chunks_exact(4)
                    .map(|s| f32::from_le_bytes([s[0], s[1], s[2], s[3]])),
            ),
            Encoding::Float(_) => out.extend(bytes.chunks_exact(8).map(|s| {
                let mut word = [0u8; 8];
                word.copy_from_slice(s);
                f64::from_le_bytes(word) as f32
            })),
        }
        self.frame += whole as u64;
        Ok(whole)
    }

    fn seek(&mut self, frame: u64) -> PluginResult<u64> {
        // PCM is sample-exact: every frame is where its number says.
        self.frame = frame.min(self.layout.frames);
        Ok(self.frame)
    }
}
