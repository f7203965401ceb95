//! Gapless playback of real encoded files: a signal split in two at a frame that is no
//! codec's frame boundary, each half encoded by FFmpeg, queued as two tracks and played
//! into the WAV output. Lossless formats must give back the unsplit decode sample for
//! sample; lossy ones must have the same length and no gap or step at the joint.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use tonearm_host::events::PlaybackEvent;
use tonearm_host::player::{NativePlayer, OutputFormat, OutputTarget, PlayerSettings};
use tonearm_host::{
    CoreEvent, EventBus, HostCapabilities, Received, Registry, SqliteStore, SyncRequest, Tonearm,
};
use tonearm_loader::load_builtin;

/// A format: its name, file extension, sample rate, FFmpeg codec arguments, lossless.
struct Format {
    name: &'static str,
    ext: &'static str,
    rate: u32,
    codec: &'static [&'static str],
    lossless: bool,
}

const FORMATS: &[Format] = &[
    Format {
        name: "flac",
        ext: "flac",
        rate: 44_100,
        codec: &["-c:a", "flac"],
        lossless: true,
    },
    Format {
        name: "wav",
        ext: "wav",
        rate: 44_100,
        codec: &["-c:a", "pcm_s16le"],
        lossless: true,
    },
    Format {
        name: "aiff",
        ext: "aiff",
        rate: 44_100,
        codec: &["-c:a", "pcm_s16be"],
        lossless: true,
    },
    Format {
        name: "alac",
        ext: "m4a",
        rate: 44_100,
        codec: &["-c:a", "alac"],
        lossless: true,
    },
    Format {
        name: "mp3",
        ext: "mp3",
        rate: 44_100,
        codec: &["-c:a", "libmp3lame", "-b:a", "192k"],
        lossless: false,
    },
    Format {
        name: "vorbis",
        ext: "ogg",
        rate: 44_100,
        codec: &["-c:a", "libvorbis", "-q:a", "5"],
        lossless: false,
    },
    Format {
        name: "opus",
        ext: "opus",
        rate: 48_000,
        codec: &["-c:a", "libopus", "-b:a", "160k"],
        lossless: false,
    },
    Format {
        name: "aac",
        ext: "m4a",
        rate: 44_100,
        codec: &["-c:a", "aac", "-b:a", "192k"],
        lossless: false,
    },
];

/// Seconds of signal.
const SECONDS: u32 = 4;

/// Where the signal is split: a prime number of frames in, so on no codec's frame edge.
fn split_at(rate: u32) -> u32 {
    if rate == 48_000 { 76_207 } else { 70_001 }
}

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg (scripts/setup --test installs it)");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes `whole`, `a` and `b` of `format` into `dir`, from a signal made in `work`.
fn make(format: &Format, dir: &Path, work: &Path) {
    let rate = format.rate.to_string();
    let raw = work.join(format!("{}-signal.wav", format.name));
    // Two partials per channel, never silent: a gap or a step shows.
    let expr = "0.35*sin(2*PI*440*t)+0.25*sin(2*PI*663*t)|0.3*sin(2*PI*550*t)+0.2*sin(2*PI*827*t)";
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &format!("aevalsrc={expr}:s={rate}:d={SECONDS}"),
        "-c:a",
        "pcm_s16le",
        raw.to_str().unwrap(),
    ]);
    let split = split_at(format.rate);
    let parts = [
        ("whole", String::from("anull")),
        ("a", format!("atrim=end_sample={split}")),
        (
            "b",
            format!("atrim=start_sample={split},asetpts=PTS-STARTPTS"),
        ),
    ];
    for (track, (part, filter)) in parts.iter().enumerate() {
        let out = dir.join(format!("{}-{part}.{}", format.name, format.ext));
        let mut args = vec!["-i", raw.to_str().unwrap(), "-af", filter.as_str()];
        args.extend_from_slice(format.codec);
        let title = format!("title={} {part}", format.name);
        let number = format!("track={}", track + 1);
        args.extend_from_slice(&[
            "-metadata",
            &title,
            "-metadata",
            &number,
            "-map_metadata",
            "-1",
        ]);
        args.push(out.to_str().unwrap());
        ffmpeg(&args);
    }
    std::fs::remove_file(raw).unwrap();
}

/// FFmpeg's decode of `path`, as interleaved stereo `f32`.
fn ffmpeg_decode(path: &Path) -> Vec<f32> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-i"])
        .arg(path)
        .args(["-f", "f32le", "-ac", "2", "-"])
        .output()
        .expect("ffmpeg");
    assert!(out.status.success(), "ffmpeg decoding {}", path.display());
    out.stdout
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// The samples of a 32-bit float WAV file as the WAV output writes them.
fn read_wav(path: &Path) -> (u16, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    let channels = u16::from_le_bytes([bytes[22], bytes[23]]);
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        if &bytes[at..at + 4] == b"data" {
            let data = &bytes[at + 8..(at + 8 + len).min(bytes.len())];
            let samples = data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect();
            return (channels, samples);
        }
        at += 8 + len + (len & 1);
    }
    panic!("{} has no data chunk", path.display());
}

async fn tonearm(dir: &Path) -> (Tonearm, EventBus) {
    let bus = EventBus::new(4096);
    let registry = Registry::new(bus.clone());
    for d in [
        &tonearm_plugin_local::DESCRIPTOR,
        &tonearm_plugin_symphonia::DESCRIPTOR,
        &tonearm_plugin_opus::DESCRIPTOR,
    ] {
        registry.register(load_builtin(d).unwrap()).unwrap();
    }
    let library = SqliteStore::open(&dir.join("library.db")).await.unwrap();
    let tonearm = Tonearm::new(Arc::new(registry), library, HostCapabilities::offline());
    (tonearm, bus)
}

/// Plays `tracks` in order into a WAV file; returns its samples.
async fn play(
    tonearm: &Tonearm,
    bus: &EventBus,
    tracks: &[i64],
    rate: u32,
    out: PathBuf,
) -> Vec<f32> {
    let mut events = bus.subscribe();
    let format = OutputFormat {
        sample_rate: rate,
        channels: 2,
    };
    let native = NativePlayer::start(
        tonearm.clone(),
        tokio::runtime::Handle::current(),
        OutputTarget::Wav(out.clone()),
        format,
        PlayerSettings::default(),
        bus.clone(),
    )
    .unwrap();
    native.player().append(tracks);
    native.player().play();
    let ended = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Some(received) = events.recv().await {
            match received {
                Received::Event(CoreEvent::Playback(PlaybackEvent::Ended {})) => return,
                Received::Event(CoreEvent::Playback(PlaybackEvent::TrackError {
                    error, ..
                })) => {
                    panic!("a track failed: {error}")
                }
                _ => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the queue did not end");
    native.finish().unwrap();
    read_wav(&out).1
}

/// The largest change between neighbouring samples of one channel in `range` (frames).
fn largest_step(samples: &[f32], range: std::ops::Range<usize>) -> f32 {
    let mut worst = 0.0f32;
    for frame in range.start.max(1)..range.end.min(samples.len() / 2) {
        for c in 0..2 {
            worst = worst.max((samples[frame * 2 + c] - samples[(frame - 1) * 2 + c]).abs());
        }
    }
    worst
}

/// The longest run of frames near silence in `range`.
fn longest_silence(samples: &[f32], range: std::ops::Range<usize>) -> usize {
    let (mut run, mut longest) = (0, 0);
    for frame in range.start..range.end.min(samples.len() / 2) {
        if samples[frame * 2].abs() < 1e-3 && samples[frame * 2 + 1].abs() < 1e-3 {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

/// The files of every format, made once for the tests of this file.
fn music() -> &'static Path {
    static MUSIC: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    MUSIC
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let work = tempfile::tempdir().unwrap();
            for format in FORMATS {
                make(format, dir.path(), work.path());
            }
            dir
        })
        .path()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_tracks_play_back_as_the_unsplit_one_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let music = music().to_owned();
    let (tonearm, bus) = tonearm(dir.path()).await;
    let settings = BTreeMap::from([("root".to_owned(), music.display().to_string())]);
    tonearm
        .add_source("music", "local", settings)
        .await
        .unwrap();
    for outcome in tonearm.sync(SyncRequest::all()).await.unwrap() {
        outcome.result.unwrap();
    }
    let rows = tonearm.tracks(1000, 0).await.unwrap();
    let id_of = |path: &str| {
        rows.iter()
            .find(|r| r.path == path)
            .unwrap_or_else(|| panic!("{path} is not in the library"))
            .id
    };
    let mut failures = Vec::new();
    for format in FORMATS {
        let file = |part: &str| format!("{}-{part}.{}", format.name, format.ext);
        let whole = play(
            &tonearm,
            &bus,
            &[id_of(&file("whole"))],
            format.rate,
            dir.path().join(format!("{}-whole-out.wav", format.name)),
        )
        .await;
        let joined = play(
            &tonearm,
            &bus,
            &[id_of(&file("a")), id_of(&file("b"))],
            format.rate,
            dir.path().join(format!("{}-joined-out.wav", format.name)),
        )
        .await;
        let frames = (format.rate * SECONDS) as usize;
        let (whole_frames, joined_frames) = (whole.len() / 2, joined.len() / 2);
        if whole_frames != frames || joined_frames != frames {
            failures.push(format!(
                "{}: {frames} frames encoded, {whole_frames} played unsplit, {joined_frames} split \
                 (the encoder's delay or padding is not trimmed)",
                format.name
            ));
            continue;
        }
        if format.lossless {
            if let Some(at) = whole.iter().zip(&joined).position(|(a, b)| a != b) {
                failures.push(format!(
                    "{}: the joined decode differs from the unsplit one at sample {at}",
                    format.name
                ));
            }
            continue;
        }
        let joint = split_at(format.rate) as usize;
        let near = joint - 2_048..joint + 2_048;
        let music = &music;
        let natural = largest_step(&whole, 2_048..frames - 2_048);
        let step = largest_step(&joined, near.clone());
        let silence = longest_silence(&joined, near.clone());
        let natural_silence = longest_silence(&whole, near.clone());
        // Each half was encoded on its own, so a lossy codec rings a little at its edges:
        // the joint is held to the signal's own steps, or to those of FFmpeg's decode of
        // the same two files cut to their encoded lengths, whichever is larger.
        let a = ffmpeg_decode(&music.join(file("a")));
        let b = ffmpeg_decode(&music.join(file("b")));
        let reference: Vec<f32> = a[..joint * 2]
            .iter()
            .chain(&b[..(frames - joint) * 2])
            .copied()
            .collect();
        let peer = largest_step(&reference, near.clone());
        let allowed = (natural * 1.5).max(peer * 1.25) + 0.01;
        if step > allowed || silence > natural_silence + 2 {
            failures.push(format!(
                "{}: at the joint a step of {step:.4} (the signal's largest: {natural:.4}, \
                 FFmpeg's at the same joint: {peer:.4}) and {silence} silent frames \
                 (unsplit: {natural_silence})",
                format.name
            ));
        }
    }
    assert!(failures.is_empty(), "not gapless:\n{}", failures.join("\n"));
}

/// Every frame of the file at `path` in `format`, decoded from the start, and the decoder
/// session, opened by the registry's choice of decoder.
async fn open(tonearm: &Tonearm, path: &Path) -> tonearm_host::playback::Stream {
    let bytes = tonearm_host::capabilities::FileByteSource::open(path).unwrap();
    tonearm
        .open_bytes(Arc::new(bytes), &path.display().to_string(), None)
        .await
        .unwrap()
}

fn read_all(stream: &mut tonearm_host::playback::Stream, limit: usize) -> Vec<f32> {
    let (mut all, mut chunk) = (Vec::new(), Vec::new());
    while all.len() < limit {
        let n = stream.session.read(&mut chunk).unwrap();
        if n == 0 {
            break;
        }
        all.extend_from_slice(&chunk);
    }
    all.truncate(limit);
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeks_land_on_the_frame_asked_for_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let (tonearm, _bus) = tonearm(dir.path()).await;
    let mut failures = Vec::new();
    for format in FORMATS {
        let path = music().join(format!("{}-whole.{}", format.name, format.ext));
        let mut reference = open(&tonearm, &path).await;
        let whole = read_all(&mut reference, usize::MAX);
        let mut stream = open(&tonearm, &path).await;
        // Not on any codec's frame or packet edge; forwards, backwards, near the end.
        let frames = (format.rate * SECONDS) as u64;
        for target in [
            u64::from(format.rate) * 5 / 2 + 17,
            12_345,
            frames - 1_001,
            0,
        ] {
            let landed = stream.session.seek(target).unwrap();
            let got = read_all(&mut stream, 2_000);
            let at = target as usize * 2;
            let want = &whole[at..(at + 2_000).min(whole.len())];
            let worst = got
                .iter()
                .zip(want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            // Lossy decoders rebuild the target from packets decoded before it (MP3's bit
            // reservoir, the MDCT overlap, Opus' 80 ms pre-roll): alike, not always equal.
            // AAC's noise substitution draws from a generator a seek does not rewind.
            let tolerance = match format {
                f if f.lossless => 0.0,
                f if f.name == "aac" => 5e-3,
                _ => 1e-3,
            };
            if landed != target || got.len() != want.len() || worst > tolerance {
                failures.push(format!(
                    "{}: seek to {target} landed on {landed}; {} samples read, up to {worst} \
                     from the continuous decode",
                    format.name,
                    got.len()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "seeks missed:\n{}",
        failures.join("\n")
    );
}
