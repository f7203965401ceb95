//! The [`DecodeSession`] half: packets in, interleaved `f32` out, sample-accurate seeks.

use std::sync::Arc;
use symphonia::core::codecs::audio::AudioDecoder;
use symphonia::core::errors::Error;
use symphonia::core::formats::{FormatReader, SeekMode, SeekTo, TrackType};
use symphonia::core::units::{TimeBase, Timestamp};

use tonearm_plugin_api::{
    ByteSource, DecodeSession, PluginError, PluginResult, ProbeHint, StreamSpec,
};

use crate::decoder::open_stream;
use crate::error::map;

/// Packets decoded before a seek target and discarded. MP3's bit reservoir and the MDCT
/// overlap of AAC and Vorbis need earlier packets to reconstruct the target exactly; without
/// them the first frames after a seek come out silent or wrong.
const PREROLL_PACKETS: u64 = 4;
/// Frames per packet assumed when the codec does not say.
const DEFAULT_PACKET_FRAMES: u64 = 1152;

/// Consecutive undecodable packets tolerated before the stream counts as corrupt. Isolated
/// bad packets are skipped, as every player does, so one damaged frame does not stop a song.
const MAX_CONSECUTIVE_BAD_PACKETS: u32 = 16;

/// An open stream.
pub(crate) struct SymphoniaSession {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    /// The input and its hint, to reopen the stream when a reader cannot seek any more.
    source: Arc<dyn ByteSource>,
    hint: ProbeHint,
    track_id: u32,
    time_base: Option<TimeBase>,
    spec: StreamSpec,
    /// Frames the reader delivers (before trimming), if known.
    raw_total: Option<u64>,
    /// Encoder delay the reader does not trim (MP4): raw frames dropped at the start.
    skip: u64,
    /// Raw frame the audio ends at, where the reader does not trim the padding (MP4).
    end: Option<u64>,
    /// Frames to decode and discard before a seek target.
    preroll: u64,
    /// The frame the next returned sample belongs to, once known.
    position: Option<u64>,
    /// After a seek: the frame output must start at; earlier frames are dropped.
    seek_target: Option<u64>,
    /// Samples decoded by `seek` that `read` hands out first.
    pending: Vec<f32>,
    ended: bool,
}

impl SymphoniaSession {
    pub(crate) fn new(
        format: Box<dyn FormatReader>,
        decoder: Box<dyn AudioDecoder>,
        source: Arc<dyn ByteSource>,
        hint: ProbeHint,
    ) -> PluginResult<Self> {
        let track = format
            .default_track(TrackType::Audio)
            .ok_or_else(|| PluginError::Unsupported("the file has no audio track".into()))?;
        let params = decoder.codec_params();
        let sample_rate = params
            .sample_rate
            .filter(|&r| r > 0)
            .ok_or_else(|| PluginError::Corrupt("the stream states no sample rate".into()))?;
        let channels = params
            .channels
            .as_ref()
            .map(|c| c.count())
            .filter(|&c| c > 0)
            .ok_or_else(|| PluginError::Corrupt("the stream states no channel layout".into()))?;
        // Symphonia trims what MP3's LAME tag, Ogg's granules and FLAC state; MP4's edit
        // list it reads but does not apply, so that trim is done here.
        let trim = (format.format_info().short_name == "isomp4")
            .then(|| crate::mp4::trim(source.as_ref(), sample_rate))
            .flatten()
            // A delay past the end is a damaged file: play it untrimmed.
            .filter(|t| track.num_frames.is_none_or(|total| t.delay < total));
        let raw_total = track.num_frames;
        let skip = trim.map_or(0, |t| t.delay);
        let end = trim
            .and_then(|t| t.length)
            .and_then(|length| skip.checked_add(length));
        let total_frames = match (raw_total, end) {
            (Some(raw), Some(end)) => Some(raw.min(end).saturating_sub(skip)),
            (Some(raw), None) => Some(raw.saturating_sub(skip)),
            (None, Some(end)) => Some(end - skip),
            (None, None) => None,
        };
        let spec = StreamSpec {
            sample_rate,
            channels: u16::try_from(channels)
                .map_err(|_| PluginError::Unsupported(format!("{channels} channels")))?,
            total_frames,
            codec: decoder.codec_info().short_name.to_owned(),
            bits_per_sample: params.bits_per_sample,
        };
        let preroll = PREROLL_PACKETS
            * params
                .max_frames_per_packet
                .unwrap_or(DEFAULT_PACKET_FRAMES);
        Ok(Self {
            preroll,
            source,
            hint,
            track_id: track.id,
            time_base: track.time_base,
            format,
            decoder,
            spec,
            raw_total,
            skip,
            end,
            position: Some(0),
            seek_target: None,
            pending: Vec::new(),
            ended: false,
        })
    }

    fn ts_to_frame(&self, ts: Timestamp) -> u64 {
        let ts = u128::try_from(ts.get()).unwrap_or(0);
        match self.time_base {
            Some(tb) => {
                let num = ts * u128::from(tb.numer.get()) * u128::from(self.spec.sample_rate);
                u64::try_from(num / u128::from(tb.denom.get())).unwrap_or(u64::MAX)
            }
            None => u64::try_from(ts).unwrap_or(u64::MAX),
        }
    }

    fn frame_to_ts(&self, frame: u64) -> Timestamp {
        let ts = match self.time_base {
            Some(tb) => {
                u128::from(frame) * u128::from(tb.denom.get())
                    / (u128::from(tb.numer.get()) * u128::from(self.spec.sample_rate))
            }
            None => u128::from(frame),
        };
        Timestamp::new(i64::try_from(ts).unwrap_or(i64::MAX))
    }

    /// Replaces the reader and decoder with fresh ones over the same input.
    fn reopen(&mut self) -> PluginResult<()> {
        (self.format, self.decoder) = open_stream(self.source.clone(), &self.hint)?;
        self.ended = false;
        Ok(())
    }

    /// Decodes packets until one yields output after any seek trimming; fills `out`.
    fn decode_next(&mut self, out: &mut Vec<f32>) -> PluginResult<usize> {
        let channels = usize::from(self.spec.channels);
        let mut bad_packets = 0;
        loop {
            let packet = match self.format.next_packet() {
                Ok(Some(packet)) => packet,
                // A chained stream changing its tracks: what we can play has ended.
                Ok(None) | Err(Error::ResetRequired) => {
                    self.ended = true;
                    return Ok(0);
                }
                Err(e) => return Err(map(e)),
            };
            if packet.track_id != self.track_id {
                continue;
            }
            let packet_start = self.ts_to_frame(packet.pts);
            let decoded = match self.decoder.decode(&packet) {
                Ok(buf) => buf,
                Err(Error::DecodeError(what)) => {
                    bad_packets += 1;
                    if bad_packets > MAX_CONSECUTIVE_BAD_PACKETS {
                        return Err(PluginError::Corrupt(format!(
                            "{bad_packets} consecutive undecodable packets: {what}"
                        )));
                    }
                    continue;
                }
                Err(e) => return Err(map(e)),
            };
            bad_packets = 0;
            if decoded.frames() == 0 {
                continue;
            }
            decoded.copy_to_vec_interleaved(out);
            let mut frames = out.len() / channels;
            let mut start = self.position.unwrap_or(packet_start);
            if let Some(target) = self.seek_target {
                start = packet_start;
                let end = packet_start + frames as u64;
                if end <= target {
                    continue;
                }
                let drop = target.saturating_sub(packet_start) as usize;
                out.drain(..drop * channels);
                frames -= drop;
                start += drop as u64;
                self.seek_target = None;
            }
            self.position = Some(start + frames as u64);
            return Ok(frames);
        }
    }
}

impl DecodeSession for SymphoniaSession {
    fn spec(&self) -> StreamSpec {
        self.spec.clone()
    }

    fn read(&mut self, out: &mut Vec<f32>) -> PluginResult<usize> {
        let channels = usize::from(self.spec.channels);
        loop {
            let frames = self.read_raw(out)? as u64;
            if frames == 0 {
                return Ok(0);
            }
            // The raw frames this chunk holds, from the position after it.
            let stop = self.position.unwrap_or(frames);
            let start = stop.saturating_sub(frames);
            let keep_from = self.skip.max(start);
            let keep_to = self.end.map_or(stop, |end| end.min(stop));
            if keep_to <= keep_from {
                if self.end.is_some_and(|end| start >= end) {
                    self.ended = true;
                    self.pending.clear();
                    out.clear();
                    return Ok(0);
                }
                continue;
            }
            if keep_from > start || keep_to < stop {
                let (from, to) = ((keep_from - start) as usize, (keep_to - start) as usize);
                out.truncate(to * channels);
                out.drain(..from * channels);
            }
            return Ok((keep_to - keep_from) as usize);
        }
    }

    fn seek(&mut self, frame: u64) -> PluginResult<u64> {
        let frame = self
            .spec
            .total_frames
            .map_or(frame, |total| frame.min(total));
        let landed = self.seek_raw(frame.saturating_add(self.skip))?;
        Ok(landed.saturating_sub(self.skip))
    }
}

impl SymphoniaSession {
    /// The next chunk as the reader delivers it, before any trim of this crate's.
    fn read_raw(&mut self, out: &mut Vec<f32>) -> PluginResult<usize> {
        out.clear();
        if !self.pending.is_empty() {
            std::mem::swap(out, &mut self.pending);
            return Ok(out.len() / usize::from(self.spec.channels));
        }
        if self.ended {
            return Ok(0);
        }
        self.decode_next(out)
    }

    /// Moves to raw frame `frame`; returns the raw frame the next chunk starts at.
    fn seek_raw(&mut self, frame: u64) -> PluginResult<u64> {
        let frame = self.raw_total.map_or(frame, |total| frame.min(total));
        let start = frame.saturating_sub(self.preroll);
        let (ts, track_id) = (self.frame_to_ts(start), self.track_id);
        let to = || SeekTo::Timestamp { ts, track_id };
        self.pending.clear();
        // Some readers (MP4) accept a seek once they have read to the end but fail on the
        // next packet; a fresh reader over the same bytes works. Likewise if a seek fails.
        let mut fresh = false;
        if self.ended {
            self.reopen()?;
            fresh = true;
        }
        let mut sought = self.format.seek(SeekMode::Accurate, to());
        if sought.is_err() && !fresh {
            self.reopen()?;
            sought = self.format.seek(SeekMode::Accurate, to());
        }
        match sought {
            Ok(_) => {}
            // Seeking to the very end: nothing left to play.
            Err(Error::SeekError(_)) if Some(frame) == self.raw_total => {
                self.ended = true;
                self.position = Some(frame);
                return Ok(frame);
            }
            Err(e) => return Err(map(e)),
        }
        self.decoder.reset();
        self.ended = false;
        self.position = None;
        self.seek_target = Some(frame);
        // Decode up to the first output now, so we can say exactly where we landed.
        let mut first = Vec::new();
        let frames = self.decode_next(&mut first)?;
        let landed = match (frames, self.position) {
            (0, _) | (_, None) => {
                self.seek_target = None;
                self.position = Some(frame);
                frame
            }
            (n, Some(end)) => end - n as u64,
        };
        self.pending = first;
        Ok(landed)
    }
}
