//! Probing and decoding Ogg Opus streams.

use std::ops::Range;
use std::sync::Arc;

use opus_pure::ogg::{OggOpusReader, OggPacket};
use tonearm_plugin_api::{
    ByteSource, ByteSourceReader, DecodeSession, Decoder, PluginError, PluginResult, ProbeHint,
    StreamSpec,
};

use crate::pages::{Pages, Resumed};

/// Opus always decodes at 48 kHz, the rate granule positions count in.
const RATE: i32 = 48_000;
/// The longest Opus packet: 120 ms at 48 kHz.
const MAX_PACKET_FRAMES: usize = 5_760;
/// Audio decoded and dropped before a seek target, so the decoder's state has converged
/// (RFC 7845 §4.6: at least 80 ms).
const PRE_ROLL: u64 = 3_840;

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
    fn probe(&self, head: &[u8], hint: &ProbeHint) -> PluginResult<u8> {
        Ok(match sniff(head) {
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
        })
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

/// Which decoded samples are audio, by granule position.
///
/// opus-pure's `Trim` does this for a stream decoded from its first packet only; after a
/// seek, decoding starts partway, so positions are tracked here from where it resumed.
#[derive(Debug, Clone, Copy)]
struct Cut {
    /// The granule position of the next decoded sample.
    next: u64,
    /// The first granule position to keep: the pre-skip, or a seek target after it.
    keep_from: u64,
}

impl Cut {
    /// The frames of a packet of `frames` that are kept, given the granule position of the
    /// page it completed on (which no sample goes past: that is the end trimming).
    fn keep(&mut self, frames: usize, page_granule: i64) -> Range<usize> {
        let start = self.next;
        let end = start + frames as u64;
        self.next = end;
        // A granule behind the packet's start (a broken file) keeps nothing of it.
        let end = u64::try_from(page_granule)
            .map_or(end, |g| end.min(g))
            .max(start);
        let first = start.max(self.keep_from).min(end);
        (first - start) as usize..(end - start) as usize
    }
}

struct OpusSession {
    source: Arc<dyn ByteSource>,
    reader: OggOpusReader<ByteSourceReader>,
    decoder: opus_pure::OpusDecoder,
    pre_skip: u64,
    cut: Cut,
    spec: StreamSpec,
    channels: usize,
    packet: OggPacket,
    scratch: Vec<f32>,
    ended: bool,
    /// Where the audio pages start and the stream's serial number, once a seek has looked.
    audio: Option<(u64, u32)>,
}

/// Reads the header pages of `source` and positions a reader at its first audio packet.
fn reader(source: Arc<dyn ByteSource>) -> PluginResult<OggOpusReader<ByteSourceReader>> {
    OggOpusReader::new(ByteSourceReader::new(source)?).map_err(|e| match e {
        opus_pure::Error::Io(io) => PluginError::Io(io.to_string()),
        other => PluginError::Unsupported(format!("not an Ogg Opus stream ({other})")),
    })
}

fn decoder_for(head: &opus_pure::OpusHead) -> PluginResult<opus_pure::OpusDecoder> {
    head.decoder(RATE).map_err(|e| {
        PluginError::Unsupported(format!(
            "Opus stream with mapping family {}: {e}",
            head.mapping_family
        ))
    })
}

impl OpusSession {
    fn open(source: Arc<dyn ByteSource>) -> PluginResult<Self> {
        let reader = reader(source.clone())?;
        let head = reader.head().clone();
        let channels = usize::from(head.channel_count);
        let decoder = decoder_for(&head)?;
        let pre_skip = u64::from(head.pre_skip);
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
            pre_skip,
            cut: Cut {
                next: 0,
                keep_from: pre_skip,
            },
            spec,
            channels,
            packet: OggPacket::new(Vec::new(), 0, false),
            scratch: vec![0.0; MAX_PACKET_FRAMES * channels],
            ended: false,
            audio: None,
        })
    }

    /// Continues decoding from the page at `offset`, whose first packet starts at granule
    /// position `granule`, with fresh decoder state.
    fn resume(&mut self, audio_start: u64, offset: u64, granule: u64) -> PluginResult<()> {
        let resumed = Resumed {
            source: self.source.clone(),
            head: audio_start,
            from: offset,
        };
        self.reader = reader(Arc::new(resumed))?;
        self.decoder = decoder_for(self.reader.head())?;
        self.cut.next = granule;
        self.ended = false;
        Ok(())
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
            let kept = self.cut.keep(frames, self.packet.page_granule);
            let kept = &self.scratch[kept.start * self.channels..kept.end * self.channels];
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
        let target = frame.saturating_add(self.pre_skip);
        let want = target.saturating_sub(PRE_ROLL);
        // The page to resume from: found by bisecting the file's pages by granule
        // position, so a seek reads a few blocks and decodes under a second of audio
        // wherever it lands. Near the start, or in a file with nothing to bisect, decoding
        // restarts from the first packet.
        let mut pages = Pages::new(self.source.as_ref())?;
        let audio = match self.audio {
            Some(known) => Some(known),
            None => pages.audio_start()?,
        };
        let end_granule = self
            .spec
            .total_frames
            .map(|frames| frames.saturating_add(self.pre_skip));
        let point = match audio {
            Some((audio_start, serial)) if want > 0 => pages
                .resume_point(audio_start, serial, want, end_granule)?
                .map(|(offset, granule)| (audio_start, offset, granule)),
            _ => None,
        };
        match point {
            Some((audio_start, offset, granule)) => self.resume(audio_start, offset, granule)?,
            None => *self = Self::open(self.source.clone())?,
        }
        self.audio = audio;
        self.cut.keep_from = target;
        Ok(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cut_keeps_audio_between_the_pre_skip_or_target_and_the_page_granule() {
        let mut cut = Cut {
            next: 0,
            keep_from: 312,
        };
        assert_eq!(cut.keep(960, -1), 312..960, "pre-skip");
        assert_eq!(cut.keep(960, 1_920), 0..960, "a whole packet");
        assert_eq!(cut.keep(960, 2_500), 0..580, "end trimming");
        let mut cut = Cut {
            next: 9_600,
            keep_from: 10_000,
        };
        assert_eq!(
            cut.keep(960, 10_560),
            400..960,
            "a seek target inside the packet"
        );
        assert_eq!(
            cut.keep(960, 5_000),
            0..0,
            "a granule going backwards keeps nothing"
        );
        assert_eq!(cut.next, 11_520, "positions follow the decoded packets");
    }

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
        assert_eq!(OpusDecoder.probe(&opus, &hint), Ok(100));
        assert_eq!(OpusDecoder.probe(&vorbis, &hint), Ok(0));
        assert_eq!(OpusDecoder.probe(b"", &ProbeHint::default()), Ok(0));
        assert_eq!(
            OpusDecoder.probe(
                &[0; 64],
                &ProbeHint {
                    extension: Some("opus".into()),
                    mime: None
                }
            ),
            Ok(0)
        );
    }
}
