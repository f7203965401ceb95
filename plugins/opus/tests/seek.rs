//! Seeking by bisection: where it lands, what it decodes, and how little it reads.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tonearm_plugin_api::{
    ByteSource, DecodeSession, Decoder, MemoryByteSource, PluginResult, ProbeHint,
};
use tonearm_plugin_opus::OpusDecoder;

/// Agreement with a straight decode from the first sample after a seek: the pre-roll
/// brings the decoder's state to what it would have been (measured: above 100 dB).
const MIN_SNR_DB: f64 = 60.0;

/// A source that counts the bytes read from it.
struct Counting {
    inner: MemoryByteSource,
    read: AtomicU64,
}

impl ByteSource for Counting {
    fn len(&self) -> PluginResult<u64> {
        self.inner.len()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> PluginResult<usize> {
        let n = self.inner.read_at(offset, buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn long() -> Arc<Counting> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio/03 long.opus");
    Arc::new(Counting {
        inner: MemoryByteSource::new(std::fs::read(path).unwrap()),
        read: AtomicU64::new(0),
    })
}

fn open(source: Arc<Counting>) -> Box<dyn DecodeSession> {
    OpusDecoder.open(source, &ProbeHint::default()).unwrap()
}

fn read_to_end(session: &mut dyn DecodeSession) -> Vec<f32> {
    let (mut all, mut chunk) = (Vec::new(), Vec::new());
    while session.read(&mut chunk).unwrap() > 0 {
        all.extend_from_slice(&chunk);
    }
    all
}

fn snr_db(reference: &[f32], other: &[f32]) -> f64 {
    let signal: f64 = reference.iter().map(|&s| f64::from(s).powi(2)).sum();
    let noise: f64 = reference
        .iter()
        .zip(other)
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
        .sum();
    10.0 * (signal / noise.max(1e-30)).log10()
}

#[test]
fn a_seek_lands_on_the_frame_and_decodes_what_a_straight_decode_does() {
    let straight = read_to_end(open(long()).as_mut());
    let total = straight.len() as u64;
    assert_eq!(total, 960_000, "mono, 20 s at 48 kHz");
    let mut session = open(long());
    // Forwards, backwards, onto page boundaries (every 48 000 frames here) and next to them,
    // inside the pre-roll of the start, and the very end.
    for target in [
        700_001, 130_000, 47_688, 48_000, 1_000, 959_999, 3_000, 480_000, 0,
    ] {
        assert_eq!(session.seek(target).unwrap(), target);
        let after = read_to_end(session.as_mut());
        assert_eq!(after.len() as u64, total - target, "seek to {target}");
        let snr = snr_db(&straight[target as usize..], &after);
        assert!(snr >= MIN_SNR_DB, "seek to {target}: {snr:.1} dB");
    }
}

#[test]
fn a_seek_near_the_end_does_not_read_its_way_there() {
    let source = long();
    let len = source.len().unwrap();
    let total = 960_000u64;
    let mut session = open(source.clone());
    for target in [900_000, 800_000, 950_000] {
        let before = source.read.load(Ordering::Relaxed);
        session.seek(target).unwrap();
        let mut chunk = Vec::new();
        assert!(session.read(&mut chunk).unwrap() > 0);
        let read = source.read.load(Ordering::Relaxed) - before;
        // Decoding forward would read every page before the target. The page search
        // reads 16 KiB blocks, a few per seek whatever the file's length, so on this
        // 120 KB file the saving is modest; on a file of megabytes it is nearly all.
        let before_target = len * target / total;
        assert!(
            read * 4 < before_target * 3,
            "seek to {target} read {read} bytes; {before_target} lie before it"
        );
    }
}

/// A 4 s stereo stream at 400 kbit/s muxed into full pages (255 segments), so packets run
/// across page boundaries, as some muxers write them (opusenc and ffmpeg do not).
fn with_continued_pages() -> Vec<u8> {
    use opus_pure::{Application, OggOpusWriter, OpusEncoder, OpusHead};
    let mut encoder = OpusEncoder::new(48_000, 2, Application::Audio).unwrap();
    encoder.bitrate_bps = 400_000;
    let mut writer =
        OggOpusWriter::new(Vec::new(), OpusHead::for_encoder(&encoder, 48_000)).unwrap();
    writer.set_page_target(usize::MAX);
    let mut packet = vec![0u8; 4_000];
    // A sweep with noise in it, so packets are large and vary in size.
    let mut noise = 0x2545_f491_u32;
    for frame in 0..200 {
        let pcm: Vec<f32> = (0..960)
            .flat_map(|i| {
                let t = (frame * 960 + i) as f32 / 48_000.0;
                noise ^= noise << 13;
                noise ^= noise >> 17;
                noise ^= noise << 5;
                let n = (noise as f32 / u32::MAX as f32 - 0.5) * 0.2;
                let s = (std::f32::consts::TAU * t * (300.0 + 150.0 * t)).sin() * 0.3 + n;
                [s, s * (0.5 + 0.5 * (t * 3.0).sin())]
            })
            .collect();
        let n = encoder.encode(&pcm, 960, &mut packet).unwrap();
        writer.write_packet(&packet[..n]).unwrap();
    }
    writer.finish().unwrap()
}

/// How many pages of `bytes` continue a packet from the page before, and how many there are.
fn continued_pages(bytes: &[u8]) -> (usize, usize) {
    let (mut at, mut continued, mut pages) = (0, 0, 0);
    while at + 27 <= bytes.len() {
        let segments = usize::from(bytes[at + 26]);
        let body: usize = bytes[at + 27..at + 27 + segments]
            .iter()
            .map(|&l| usize::from(l))
            .sum();
        continued += usize::from(bytes[at + 5] & 1);
        pages += 1;
        at += 27 + segments + body;
    }
    (continued, pages)
}

#[test]
fn seeks_in_a_stream_whose_packets_cross_pages_land_exactly() {
    let bytes = with_continued_pages();
    let (continued, pages) = continued_pages(&bytes);
    assert!(
        continued >= 2,
        "{continued} of {pages} pages continue a packet"
    );
    let source = Arc::new(Counting {
        inner: MemoryByteSource::new(bytes),
        read: AtomicU64::new(0),
    });
    let straight = read_to_end(open(source.clone()).as_mut());
    let total = straight.len() as u64 / 2;
    let mut session = open(source);
    for target in [total * 3 / 4, total / 3, total - 1, 5_000, total / 2] {
        assert_eq!(session.seek(target).unwrap(), target);
        let after = read_to_end(session.as_mut());
        assert_eq!(after.len() as u64, (total - target) * 2, "seek to {target}");
        let snr = snr_db(&straight[target as usize * 2..], &after);
        assert!(snr >= MIN_SNR_DB, "seek to {target}: {snr:.1} dB");
    }
}
