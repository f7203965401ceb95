//! A minimal writer of 32-bit IEEE float WAV files: lossless for decoded `f32` PCM.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;

/// Writes interleaved `f32` samples as a WAV file.
pub struct WavWriter {
    out: File,
    /// Encoded samples not yet written: converted in bulk and written in large blocks,
    /// because a write per sample (or per small buffer) cost more than the decode of a
    /// FLAC frame.
    pending: Vec<u8>,
    channels: u16,
    data_bytes: u64,
}

const HEADER_LEN: u64 = 58;

/// How much encoded PCM is gathered before one `write`: about 1.5 s of 44.1 kHz stereo.
const BLOCK: usize = 512 * 1024;

impl WavWriter {
    /// Creates `path` for a stream of `sample_rate` × `channels`.
    pub fn create(path: &Path, sample_rate: u32, channels: u16) -> io::Result<Self> {
        let mut pending = Vec::with_capacity(BLOCK + 64 * 1024);
        write_header(&mut pending, sample_rate, channels, 0)?;
        Ok(Self {
            out: File::create(path)?,
            pending,
            channels,
            data_bytes: 0,
        })
    }

    /// Appends interleaved samples.
    pub fn write(&mut self, samples: &[f32]) -> io::Result<()> {
        // A plain loop over fixed-size byte arrays: the compiler turns it into vector
        // stores, and no `unsafe` cast of the slice is needed.
        self.pending.reserve(samples.len() * 4);
        for s in samples {
            self.pending.extend_from_slice(&s.to_le_bytes());
        }
        self.data_bytes += samples.len() as u64 * 4;
        if self.pending.len() >= BLOCK {
            self.out.write_all(&self.pending)?;
            self.pending.clear();
        }
        Ok(())
    }

    /// Writes what is pending and fixes up the sizes in the header.
    ///
    /// It does not `fsync`: like `ffmpeg` or `cp`, it leaves durability to the file system,
    /// because the output can always be made again, and forcing a 10-minute decode's
    /// 230 MB to disk took a tenth of its time.
    pub fn finish(mut self) -> io::Result<()> {
        let too_big =
            || io::Error::new(io::ErrorKind::InvalidData, "WAV files cannot exceed 4 GiB");
        let data = u32::try_from(self.data_bytes).map_err(|_| too_big())?;
        let riff = u32::try_from(self.data_bytes + HEADER_LEN - 8).map_err(|_| too_big())?;
        let frames = u32::try_from(self.data_bytes / (4 * u64::from(self.channels.max(1))))
            .map_err(|_| too_big())?;
        self.out.write_all(&self.pending)?;
        self.out.seek(SeekFrom::Start(4))?;
        self.out.write_all(&riff.to_le_bytes())?;
        self.out.seek(SeekFrom::Start(46))?;
        self.out.write_all(&frames.to_le_bytes())?;
        self.out.seek(SeekFrom::Start(54))?;
        self.out.write_all(&data.to_le_bytes())
    }
}

fn write_header(
    out: &mut impl Write,
    sample_rate: u32,
    channels: u16,
    frames: u32,
) -> io::Result<()> {
    let block_align = channels * 4;
    out.write_all(b"RIFF")?;
    out.write_all(&0u32.to_le_bytes())?;
    out.write_all(b"WAVE")?;
    // Non-PCM formats carry an 18-byte fmt chunk and a fact chunk.
    out.write_all(b"fmt ")?;
    out.write_all(&18u32.to_le_bytes())?;
    out.write_all(&3u16.to_le_bytes())?; // WAVE_FORMAT_IEEE_FLOAT
    out.write_all(&channels.to_le_bytes())?;
    out.write_all(&sample_rate.to_le_bytes())?;
    out.write_all(&(sample_rate * u32::from(block_align)).to_le_bytes())?;
    out.write_all(&block_align.to_le_bytes())?;
    out.write_all(&32u16.to_le_bytes())?;
    out.write_all(&0u16.to_le_bytes())?;
    out.write_all(b"fact")?;
    out.write_all(&4u32.to_le_bytes())?;
    out.write_all(&frames.to_le_bytes())?;
    out.write_all(b"data")?;
    out.write_all(&0u32.to_le_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_sizes_are_fixed_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.wav");
        let mut w = WavWriter::create(&path, 48000, 2).unwrap();
        w.write(&[0.5, -0.5, 0.25, -0.25]).unwrap();
        w.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len() as u64, HEADER_LEN + 16);
        assert_eq!(&bytes[0..4], b"RIFF");
        assert_eq!(
            u32::from_le_bytes(bytes[4..8].try_into().unwrap()),
            (HEADER_LEN - 8 + 16) as u32
        );
        assert_eq!(
            u32::from_le_bytes(bytes[46..50].try_into().unwrap()),
            2,
            "fact: frames"
        );
        assert_eq!(
            u32::from_le_bytes(bytes[54..58].try_into().unwrap()),
            16,
            "data size"
        );
        assert_eq!(f32::from_le_bytes(bytes[58..62].try_into().unwrap()), 0.5);
    }
}
