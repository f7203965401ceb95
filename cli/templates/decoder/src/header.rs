//! The RIFF/WAVE header: where the samples are and how they are stored.

use tonearm_plugin_api::{ByteSource, PluginError, PluginResult, StreamSpec};

/// How the samples are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Signed little-endian integers (unsigned for 8 bits), of this many bytes.
    Int(usize),
    /// IEEE floats of this many bytes (4 or 8).
    Float(usize),
}

/// Where a file's samples are, and their shape.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The stream, as the session reports it.
    pub spec: StreamSpec,
    /// The sample encoding.
    pub encoding: Encoding,
    /// Bytes per frame (all channels).
    pub frame_bytes: u64,
    /// Where the first frame starts.
    pub data_start: u64,
    /// Whole frames present: what the `data` chunk says, or fewer if the file is cut.
    pub frames: u64,
}

/// A header longer than this is not a WAV file's: give up rather than scan forever.
const MAX_CHUNKS: usize = 64;

fn corrupt(why: &str) -> PluginError {
    PluginError::Corrupt(format!("not a usable WAV file: {why}"))
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl Layout {
    /// Reads the chunks before the samples.
    pub fn read(source: &dyn ByteSource) -> PluginResult<Self> {
        let len = source.len()?;
        let mut riff = [0u8; 12];
        if source.read_at(0, &mut riff)? < 12 || &riff[..4] != b"RIFF" || &riff[8..] != b"WAVE" {
            return Err(corrupt("no RIFF/WAVE header"));
        }
        let mut format: Option<(Encoding, u16, u32)> = None;
        let mut at = 12u64;
        for _ in 0..MAX_CHUNKS {
            let mut chunk = [0u8; 8];
            if source.read_at(at, &mut chunk)? < 8 {
                return Err(corrupt("no data chunk"));
            }
            let size = u64::from(u32_at(&chunk, 4));
            let body = at + 8;
            match &chunk[..4] {
                b"fmt " => format = Some(read_format(source, body, size)?),
                b"data" => {
                    let (encoding, channels, sample_rate) =
                        format.ok_or_else(|| corrupt("the data chunk comes before fmt"))?;
                    let bytes = match encoding {
                        Encoding::Int(n) | Encoding::Float(n) => n,
                    };
                    let frame_bytes = bytes as u64 * u64::from(channels);
                    // A cut file holds fewer frames than its header says: decode those.
                    let present = size.min(len.saturating_sub(body));
                    let frames = present / frame_bytes;
                    return Ok(Self {
                        spec: StreamSpec {
                            sample_rate,
                            channels,
                            total_frames: Some(frames),
                            codec: "pcm".into(),
                            bits_per_sample: Some(8 * bytes as u32),
                        },
                        encoding,
                        frame_bytes,
                        data_start: body,
                        frames,
                    });
                }
                _ => {}
            }
            // Chunks are padded to an even length.
            at = body + size + (size & 1);
        }
        Err(corrupt("too many chunks before the samples"))
    }
}

/// The `fmt ` chunk: the encoding, channels and rate.
fn read_format(source: &dyn ByteSource, at: u64, size: u64) -> PluginResult<(Encoding, u16, u32)> {
    let mut fmt = [0u8; 40];
    let want = usize::try_from(size.min(40)).unwrap_or(40);
    if size < 16 || source.read_at(at, &mut fmt[..want])? < want {
        return Err(corrupt("a short fmt chunk"));
    }
    let mut tag = u16_at(&fmt, 0);
    let channels = u16_at(&fmt, 2);
    let sample_rate = u32_at(&fmt, 4);
    let bits = u16_at(&fmt, 14);
    // WAVE_FORMAT_EXTENSIBLE: the real format is the sub-format GUID's first two bytes.
    if tag == 0xFFFE && want >= 26 {
        tag = u16_at(&fmt, 24);
    }
    let encoding = match (tag, bits) {
        (1, 8 | 16 | 24 | 32) => Encoding::Int(usize::from(bits / 8)),
        (3, 32 | 64) => Encoding::Float(usize::from(bits / 8)),
        _ => {
            return Err(PluginError::Unsupported(format!(
                "WAV format {tag:#06x} with {bits}-bit samples"
            )));
        }
    };
    if channels == 0 || sample_rate == 0 {
        return Err(corrupt("no channels or no sample rate"));
    }
    Ok((encoding, channels, sample_rate))
}
