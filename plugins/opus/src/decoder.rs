//! Probing and decoding Ogg Opus streams.

use std::sync::Arc;

use opus_pure::ogg::{OggOpusReader, OggPacket, Trim};
use tonearm_plugin_api::{
    ByteSource, ByteSourceReader, DecodeSession, Decoder, PluginError, PluginResult, ProbeHint,
    StreamSpec,
};

/// Opus always decodes at 48 kHz.
const RATE: i32 = 48_000;
/// The longest Opus packet: 120 ms at 48 kHz.
const MAX_PACKET_FRAMES: usize = 5_760;

/// Decodes Ogg Opus.
#[derive(Debug, Default, Clone, Copy)]
pub struct OpusDecoder;

/// Whether `head` is the first page of an Ogg stream, and if so whether it carries Opus.
fn sniff(head: &[u8]) -> Option<bool> {
    if !head.starts_with(b"OggS") {
        return None;
    }
    let segments = *head.get(26)? as usize;
    let packet = head.get(27 + segments..)?;
    Some(packet.starts_with(b"OpusHead"))
}

impl Decoder for OpusDecoder {
    fn probe(&self, head: &[u8], hint: &ProbeHint) -> u8 {
        match sniff(head) {
            Some(true) => 100,
            // Ogg, but Vorbis or FLAC or Speex: not ours.
            Some(false) => 0,
            None => {
                let named = hint
                    .extension
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case("opus"));
                if named && head.iter().any(|&b| b != 0) {
                    20
                } else {
                    0
                }
            }
        }
    }

    fn open(
        &self,
        source: Arc<dyn ByteSource>,
        _hint: &ProbeHint,
    ) -> PluginResult<Box<dyn DecodeSession>> {
        OpusSession::open(source).map(|s| Box::new(s) as Box<dyn DecodeSession>)
    }
}

fn corrupt(e: opus_pure::Error) -> PluginError {
    PluginError::Corrupt(format!("Ogg Opus: {e}"))
}

struct OpusSession {
    source: Arc<dyn ByteSource>,
    reader: OggOpusReader<ByteSourceReader>,
    decoder: opus_pure::OpusDecoder,
    trim: Trim,
    spec: StreamSpec,
    channels: usize,
    packet: OggPacket,
    scratch: Vec<f32>,
    /// Frames still to drop after a seek.
    skip: u64,
    ended: bool,
}

impl OpusSession {
    fn open(source: Arc<dyn ByteSource>) -> PluginResult<Self> {
        let reader =
            OggOpusReader::new(ByteSourceReader::new(source.clone())?).map_err(|e| match e {
                opus_pure::Error::Io(io) => PluginError::Io(io.to_string()),
                other => PluginError::Unsupported(format!("not an Ogg Opus stream ({other})")),
            })?;
        let head = reader.head().clone();
        let channels = usize::from(head.channel_count);
        let decoder = head.decoder(RATE).map_err(|e| {
            PluginError::Unsupported(format!(
                "Opus stream with mapping family {}: {e}",
                head.mapping_family
            ))
        })?;
        let trim = Trim::new(&head, RATE, channels).map_err(corrupt)?;
        let total_frames =
            last_granule(source.as_ref()).map(|g| g.saturating_sub(u64::from(head.pre_skip)));
        let spec = StreamSpec {
            sample_rate: 48_000,
            channels: u16::from(head.channel_count),
            total_frames,
            codec: "opus".into(),
            bits_per_sample: None,
        };
        Ok(Self {
            source,
            reader,
            decoder,
            trim,
            spec,
            channels,
            packet: OggPacket::new(Vec::new(), 0, false),
            scratch: vec![0.0; MAX_PACKET_FRAMES * channels],
            skip: 0,
            ended: false,
        })
    }
}

/// The granule position of the stream's last page: its length in 48 kHz frames plus the
/// pre-skip. Read from the tail, as every player does.
fn last_granule(source: &dyn ByteSource) -> Option<u64> {
    let len = source.len().ok()?;
    let tail_len = len.min(64 * 1024);
    let mut tail = vec![0u8; usize::try_from(tail_len).ok()?];
    let n = source.read_at(len - tail_len, &mut tail).ok()?;
    tail.truncate(n);
    let at = tail.windows(4).rposition(|w| w == b"OggS")?;
    let granule = tail.get(at + 6..at + 14)?;
    let granule = i64::from_le_bytes(granule.try_into().ok()?);
    u64::try_from(granule).ok()
}

impl DecodeSession for OpusSession {
    fn spec(&self) -> StreamSpec {
        self.spec.clone()
    }

    fn read(&mut self, out: &mut Vec<f32>) -> PluginResult<usize> {
        out.clear();
        while !self.ended {
            if !self
                .reader
                .read_packet_into(&mut self.packet)
                .map_err(corrupt)?
            {
                self.ended = true;
                break;
            }
            let frames = self
                .decoder
                .decode(&self.packet.data, MAX_PACKET_FRAMES, &mut self.scratch)
                .map_err(corrupt)?;
            let kept = self
                .trim
                .keep(&self.packet, &self.scratch[..frames * self.channels]);
            let drop = usize::try_from(self.skip)
                .unwrap_or(usize::MAX)
                .min(kept.len() / self.channels);
            self.skip -= drop as u64;
            let kept = &kept[drop * self.channels..];
            if !kept.is_empty() {
                out.extend_from_slice(kept);
                return Ok(kept.len() / self.channels);
            }
        }
        Ok(0)
    }

    fn seek(&mut self, frame: u64) -> PluginResult<u64> {
        let frame = self
            .spec
            .total_frames
            .map_or(frame, |total| frame.min(total));
        // Sample-accurate by decoding forward from the start (see the README).
        let fresh = Self::open(self.source.clone())?;
        *self = fresh;
        self.skip = frame;
        Ok(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ogg_opus_is_claimed() {
        let mut page = b"OggS\0\x02".to_vec();
        page.extend_from_slice(&[0; 20]);
        page.extend_from_slice(&[1, 19]);
        let mut opus = page.clone();
        opus.extend_from_slice(b"OpusHead\x01\x02");
        let mut vorbis = page;
        vorbis.extend_from_slice(b"\x01vorbis");
        let hint = ProbeHint {
            extension: Some("ogg".into()),
            mime: None,
        };
        assert_eq!(OpusDecoder.probe(&opus, &hint), 100);
        assert_eq!(OpusDecoder.probe(&vorbis, &hint), 0);
        assert_eq!(OpusDecoder.probe(b"", &ProbeHint::default()), 0);
        assert_eq!(
            OpusDecoder.probe(
                &[0; 64],
                &ProbeHint {
                    extension: Some("opus".into()),
                    mime: None
                }
            ),
            0
        );
    }
}
