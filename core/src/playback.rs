//! Opening a track for decoding: one rule for every platform. The head a decoder is chosen
//! by, the blocks a remote file is read in, and the checks on what the decoder opened live
//! here, so the native host and the browser worker choose and open alike.

use std::sync::Arc;

use tonearm_plugin_api::{
    ByteSource, DecodeSession, PluginError, ProbeHint, StorageProvider, StreamSpec,
};

use crate::bytes::ProviderByteSource;
use crate::registry::{Registry, RegistryError};

/// Bytes of the input handed to decoders' `probe`, as the contract states.
pub use tonearm_plugin_api::PROBE_HEAD_LEN as PROBE_HEAD;

/// Block size of reads from a storage provider during playback: large enough that a
/// network source keeps up, small enough that a seek fetches little.
pub const PLAY_BLOCK: u64 = 256 * 1024;

/// Blocks of a track kept in memory while it plays (4 MiB with [`PLAY_BLOCK`]).
pub const PLAY_BLOCKS_KEPT: usize = 16;

/// Why a stream cannot be opened or decoded.
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
}

/// An open stream and the decoder decoding it.
pub struct Stream {
    /// What is being decoded, for messages.
    pub what: String,
    /// The decoder's id.
    pub decoder: String,
    /// Its probe score for this input (0 when the decoder was named, not chosen).
    pub score: u8,
    /// The stream's shape.
    pub spec: StreamSpec,
    /// The session.
    pub session: Box<dyn DecodeSession>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("what", &self.what)
            .field("decoder", &self.decoder)
            .field("score", &self.score)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

/// The bytes of one entry of `provider`, read in playback-sized blocks.
pub fn provider_source(
    provider: Arc<dyn StorageProvider>,
    remote_id: &str,
    size: u64,
) -> ProviderByteSource {
    ProviderByteSource::new(provider, remote_id, size, PLAY_BLOCK, PLAY_BLOCKS_KEPT)
}

/// The first [`PROBE_HEAD`] bytes of `source` (fewer if it is shorter).
pub fn read_head(source: &dyn ByteSource) -> Result<Vec<u8>, PluginError> {
    let len = source.len()?;
    let mut head = vec![0u8; usize::try_from(len).unwrap_or(PROBE_HEAD).min(PROBE_HEAD)];
    let mut filled = 0;
    // A source may answer in parts (a block boundary); the head is read whole.
    while filled < head.len() {
        let n = source.read_at(filled as u64, &mut head[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    head.truncate(filled);
    Ok(head)
}

/// Opens `source`, the file at `path` (which gives the probe hint and names it in
/// messages), with the best decoder for it, or with `decoder_id` if given.
pub fn open(
    registry: &Registry,
    source: Arc<dyn ByteSource>,
    path: &str,
    decoder_id: Option<&str>,
) -> Result<Stream, PlaybackError> {
    let what = path;
    let hint = ProbeHint::for_path(path);
    let head = read_head(source.as_ref()).map_err(|error| PlaybackError::Input {
        what: what.to_owned(),
        error,
    })?;
    let (id, score, decoder) = match decoder_id {
        Some(id) => (id.to_owned(), 0, registry.decoder(id)?),
        None => {
            let choice = registry.pick_decoder(&head, &hint, what)?;
            (choice.id, choice.score, choice.decoder)
        }
    };
    tracing::debug!(decoder = %id, score, what, "decoder chosen");
    let decode_error = |error| PlaybackError::Decode {
        decoder: id.clone(),
        what: what.to_owned(),
        error,
    };
    let session = decoder.open(source, &hint).map_err(decode_error)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use tonearm_plugin_api::{MemoryByteSource, PluginResult};

    /// Answers at most 1,000 bytes a read, as a block-aligned source may.
    struct Dribble(MemoryByteSource);

    impl ByteSource for Dribble {
        fn len(&self) -> PluginResult<u64> {
            self.0.len()
        }

        fn read_at(&self, offset: u64, buf: &mut [u8]) -> PluginResult<usize> {
            let n = buf.len().min(1000);
            self.0.read_at(offset, &mut buf[..n])
        }
    }

    #[test]
    fn the_head_is_read_whole_and_never_past_the_end() {
        let bytes: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let head = read_head(&Dribble(MemoryByteSource::new(bytes.clone()))).unwrap();
        assert_eq!(head, bytes[..PROBE_HEAD]);
        let short = read_head(&Dribble(MemoryByteSource::new(bytes[..2500].to_vec()))).unwrap();
        assert_eq!(short, bytes[..2500]);
    }
}
