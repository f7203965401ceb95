//! Whole-process decoding of long files: `tonearm decode FILE -o OUT.wav` against
//! `ffmpeg -threads 1 -i FILE -f f32le OUT` (the peer) and the simplest program that does
//! the same job (the floor: Symphonia, or for Opus the Opus plugin linked in, decoding to
//! a raw `f32` file in large writes).
//!
//! ```sh
//! cargo bench -p tonearm --bench decode_file
//! TONEARM_BENCH_SECONDS=120 TONEARM_BENCH_ROUNDS=3 cargo bench -p tonearm --bench decode_file
//! ```
//!
//! One file per format (MP3 CBR and VBR, FLAC, Vorbis, Opus, AAC and ALAC in MP4), 10
//! minutes each, made once by FFmpeg under `target/bench-data/`. Every figure is the wall
//! time of a whole process, output on a RAM disk when there is one so that the disk's
//! write-back does not decide the result; rounds rotate the programs, and ratios are of
//! medians. Every program must decode the same number of frames as the floor (FFmpeg may
//! differ by the encoder delay it does not trim for AAC), or the benchmark stops.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A benchmark fails loudly.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tonearm_plugin_api::{Decoder as _, MemoryByteSource, ProbeHint};

/// Bytes gathered before one write, as `tonearm decode` does.
const BLOCK: usize = 512 * 1024;

/// The floor: decodes `input` to raw interleaved `f32` at `output`; returns frames.
fn floor(input: &Path, output: &Path) -> u64 {
    let mut out = File::create(output).unwrap();
    let mut bytes = Vec::with_capacity(BLOCK + 64 * 1024);
    let mut samples: Vec<f32> = Vec::new();
    let mut frames = 0u64;
    let mut emit = |samples: &[f32], channels: usize| {
        for s in samples {
            bytes.extend_from_slice(&s.to_le_bytes());
        }
        if bytes.len() >= BLOCK {
            out.write_all(&bytes).unwrap();
            bytes.clear();
        }
        (samples.len() / channels) as u64
    };
    let ext = input.extension().and_then(|e| e.to_str()).unwrap_or("");
    if ext == "opus" {
        // Symphonia has no Opus decoder: the plugin's own, linked in, is the floor.
        let data: Arc<[u8]> = std::fs::read(input).unwrap().into();
        let hint = ProbeHint {
            extension: Some(ext.into()),
            mime: None,
        };
        let mut session = tonearm_plugin_opus::OpusDecoder
            .open(Arc::new(MemoryByteSource(data)), &hint)
            .unwrap();
        let channels = usize::from(session.spec().channels);
        while session.read(&mut samples).unwrap() > 0 {
            frames += emit(&samples, channels);
        }
    } else {
        tonearm_e2e::symphonia_direct::decode(
            Box::new(File::open(input).unwrap()),
            ext,
            |samples, channels| frames += emit(samples, channels),
        );
    }
    out.write_all(&bytes).unwrap();
    frames
}

/// Runs `command` to completion; its wall time.
fn timed(command: &mut Command) -> Duration {
    let started = Instant::now();
    let out = command.output().unwrap();
    let elapsed = started.elapsed();
    assert!(
        out.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

/// Frames in a raw interleaved `f32` file of `channels`.
fn raw_frames(path: &Path, channels: u64) -> u64 {
    std::fs::metadata(path).unwrap().len() / (4 * channels)
}

/// Frames in a WAV file as `tonearm decode` writes it (the `fact` chunk's count).
fn wav_frames(path: &Path) -> u64 {
    let mut head = [0u8; 58];
    std::io::Read::read_exact(&mut File::open(path).unwrap(), &mut head).unwrap();
    u64::from(u32::from_le_bytes(head[46..50].try_into().unwrap()))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

/// Where outputs go: a RAM disk if the machine has one.
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    match tempfile::tempdir_in(shm) {
        Ok(dir) if shm.is_dir() => dir,
        _ => tempfile::tempdir().unwrap(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, mode, input, output] = args.as_slice()
        && mode == "floor"
    {
        println!("{}", floor(Path::new(input), Path::new(output)));
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` runs us with no arguments and
    // expects a quick smoke run (with the debug `tonearm`, so its figures mean nothing).
    let smoke = !args.iter().any(|a| a == "--bench");
    let env = |name: &str, default: u32| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let seconds = env("TONEARM_BENCH_SECONDS", if smoke { 2 } else { 600 });
    let rounds = env("TONEARM_BENCH_ROUNDS", if smoke { 1 } else { 5 });
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data");
    let files = tonearm_e2e::bench_library::long_files(&data, seconds).unwrap();
    let out = scratch();
    let home = tempfile::tempdir().unwrap();
    let me = std::env::current_exe().unwrap();
    let tonearm = env!("CARGO_BIN_EXE_tonearm");
    let outputs = ["floor.raw", "ffmpeg.raw", "tonearm.wav"].map(|f| out.path().join(f));
    let clear = || outputs.iter().for_each(|o| drop(std::fs::remove_file(o)));

    println!(
        "whole-process decode of {seconds} s files, median of {rounds}; output in {}",
        out.path().display()
    );
    println!(
        "| input | size | floor | ffmpeg -threads 1 | tonearm | tonearm / ffmpeg | tonearm / floor |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (name, file) in &files {
        let run = |which: usize| -> Duration {
            clear();
            match which {
                0 => timed(Command::new(&me).arg("floor").arg(file).arg(&outputs[0])),
                1 => timed(
                    Command::new("ffmpeg")
                        .args(["-nostdin", "-v", "error", "-threads", "1", "-y", "-i"])
                        .arg(file)
                        .args(["-f", "f32le"])
                        .arg(&outputs[1]),
                ),
                _ => timed(
                    Command::new(tonearm)
                        .env("XDG_CONFIG_HOME", home.path().join("config"))
                        .env("XDG_DATA_HOME", home.path().join("data"))
                        .env("XDG_CACHE_HOME", home.path().join("cache"))
                        .arg("decode")
                        .arg(file)
                        .arg("-o")
                        .arg(&outputs[2]),
                ),
            }
        };
        // A first pass warms the page cache and compiles a component once; it also
        // checks that every program decodes the same stream.
        let mut frames = [0u64; 3];
        for (which, count) in frames.iter_mut().enumerate() {
            run(which);
            *count = match which {
                0 => raw_frames(&outputs[0], 2),
                1 => raw_frames(&outputs[1], 2),
                _ => wav_frames(&outputs[2]),
            };
        }
        // The floor (Symphonia alone) does not trim MP4's encoder delay and padding;
        // tonearm does, so an AAC file may come out up to a few packets shorter.
        assert!(
            frames[2] == frames[0] || (frames[2] < frames[0] && frames[0] - frames[2] <= 4096),
            "{name}: tonearm decodes {} frames, the floor {}",
            frames[2],
            frames[0]
        );
        let priming = frames[1].abs_diff(frames[0]);
        assert!(
            priming <= 4096,
            "{name}: ffmpeg decodes {} frames, the floor {}",
            frames[1],
            frames[0]
        );
        let mut times = [vec![], vec![], vec![]];
        for round in 0..rounds as usize {
            for k in 0..3 {
                let which = (round + k) % 3;
                times[which].push(run(which));
            }
        }
        let [floor_t, ffmpeg_t, tonearm_t] = times.map(median);
        let size = std::fs::metadata(file).unwrap().len() as f64 / 1e6;
        println!(
            "| {name} | {size:.1} MB | {:.3} s | {:.3} s | {:.3} s | **{:.2}** | {:.2} |",
            floor_t.as_secs_f64(),
            ffmpeg_t.as_secs_f64(),
            tonearm_t.as_secs_f64(),
            tonearm_t.as_secs_f64() / ffmpeg_t.as_secs_f64(),
            tonearm_t.as_secs_f64() / floor_t.as_secs_f64(),
        );
    }
    clear();
}
