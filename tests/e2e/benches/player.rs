//! The player: time to first audio (a local file, and a Drive track from the fake), the
//! CPU the decoding side spends per second of audio, and the memory the ring and a track
//! opened ahead hold; each next to the simplest program doing the same job (Symphonia
//! called directly) and to FFmpeg, in one run.
//!
//! ```sh
//! cargo bench -p tonearm-e2e --bench player
//! ```
//!
//! Files: three minutes of each format, made once by FFmpeg under `target/bench-data/`.

#![allow(clippy::unwrap_used)] // A benchmark fails loudly.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;
use tonearm_e2e::cloud::{DriveCloud, SOURCE};
use tonearm_host::player::{OutputFormat, Player, PlayerError, PlayerSettings};
use tonearm_host::{EventBus, HostCapabilities, Registry, SqliteStore, SyncRequest, Tonearm};
use tonearm_loader::load_builtin;

const FORMAT: OutputFormat = OutputFormat {
    sample_rate: 44_100,
    channels: 2,
};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

/// Process CPU time so far (own, and waited-for children's), from /proc.
fn cpu() -> (Duration, Duration) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name (which may hold spaces, inside parentheses).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    // From the state (field 3) on; utime, stime, cutime, cstime are fields 14–17.
    let fields: Vec<i64> = rest.split(' ').map(|f| f.parse().unwrap_or(0)).collect();
    let tick = |n: i64| Duration::from_millis(u64::try_from(n).unwrap_or(0) * 10);
    (tick(fields[11] + fields[12]), tick(fields[13] + fields[14]))
}

fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    statm.split(' ').nth(1).unwrap().parse::<u64>().unwrap() * 4096
}

async fn library(music: &Path, dir: &Path) -> Tonearm {
    let registry = Registry::new(EventBus::new(1 << 14));
    for d in [
        &tonearm_plugin_local::DESCRIPTOR,
        &tonearm_plugin_symphonia::DESCRIPTOR,
        &tonearm_plugin_opus::DESCRIPTOR,
    ] {
        registry.register(load_builtin(d).unwrap()).unwrap();
    }
    let store = SqliteStore::open(&dir.join("library.db")).await.unwrap();
    let tonearm = Tonearm::new(Arc::new(registry), store, HostCapabilities::offline());
    let settings = [("root".to_owned(), music.display().to_string())].into();
    tonearm
        .add_source("music", "local", settings)
        .await
        .unwrap();
    tonearm.sync(SyncRequest::all()).await.unwrap();
    tonearm
}

/// From `play` to the first frames the output can take, through the facade and engine.
async fn first_audio(tonearm: &Tonearm, track: i64) -> Duration {
    let (player, mut engine, mut output) =
        Player::new(FORMAT, PlayerSettings::default(), tonearm.bus().clone());
    player.append(&[track]);
    let mut buf = vec![0.0f32; 1024];
    let started = Instant::now();
    player.play();
    loop {
        engine.pump();
        for request in engine.take_requests() {
            let asked = Instant::now();
            let opened = tonearm
                .open_for_player(request.entry.track_id)
                .await
                .map_err(|e| PlayerError::Open {
                    track_id: track,
                    reason: e.to_string(),
                });
            engine.opened(request.id, opened, asked.elapsed());
        }
        if output.read(&mut buf) > 0 {
            return started.elapsed();
        }
    }
}

/// Symphonia alone: open the file, probe, make the decoder, decode the first packet.
fn floor_first_audio(path: &Path) -> Duration {
    let started = Instant::now();
    let file = std::fs::File::open(path).unwrap();
    let mss = MediaSourceStream::new(Box::new(file), MediaSourceStreamOptions::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension() {
        hint.with_extension(&ext.to_string_lossy());
    }
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .unwrap();
    let track = format.default_track(TrackType::Audio).unwrap();
    let id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .unwrap()
        .clone();
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .unwrap();
    while let Some(packet) = format.next_packet().unwrap() {
        if packet.track_id == id && decoder.decode(&packet).is_ok_and(|b| b.frames() > 0) {
            break;
        }
    }
    started.elapsed()
}

/// FFmpeg, as a user would start playing a file with it: the process launched until its
/// first decoded bytes arrive.
fn ffmpeg_first_audio(path: &Path) -> Duration {
    let started = Instant::now();
    let mut child = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-threads", "1", "-i"])
        .arg(path)
        .args(["-f", "f32le", "-"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("ffmpeg (scripts/setup --bench)");
    let mut byte = [0u8; 1];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut byte)
        .unwrap();
    let took = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    took
}

/// CPU spent decoding `track` whole through the engine, per second of audio.
async fn engine_cpu(tonearm: &Tonearm, track: i64) -> f64 {
    let (player, mut engine, mut output) =
        Player::new(FORMAT, PlayerSettings::default(), tonearm.bus().clone());
    player.append(&[track]);
    let mut buf = vec![0.0f32; 8192];
    let (mut frames, before) = (0u64, cpu().0);
    player.play();
    loop {
        engine.pump();
        for request in engine.take_requests() {
            let opened = tonearm
                .open_for_player(request.entry.track_id)
                .await
                .map_err(|e| PlayerError::Open {
                    track_id: track,
                    reason: e.to_string(),
                });
            engine.opened(request.id, opened, Duration::ZERO);
        }
        let n = output.read(&mut buf);
        frames += n as u64;
        if n == 0 && output.finished() {
            break;
        }
    }
    (cpu().0 - before).as_secs_f64() / (frames as f64 / f64::from(FORMAT.sample_rate))
}

fn floor_cpu(path: &Path) -> f64 {
    let (mut frames, before) = (0u64, cpu().0);
    let ext = path.extension().unwrap().to_string_lossy().into_owned();
    let mut rate = 44_100;
    tonearm_e2e::symphonia_direct::decode(
        Box::new(std::fs::File::open(path).unwrap()),
        &ext,
        |chunk, channels| frames += (chunk.len() / channels.max(1)) as u64,
    );
    if ext == "opus" {
        rate = 48_000;
    }
    (cpu().0 - before).as_secs_f64() / (frames as f64 / f64::from(rate))
}

fn ffmpeg_cpu(path: &Path, seconds: u32) -> f64 {
    let before = cpu().1;
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-threads", "1", "-i"])
        .arg(path)
        .args(["-f", "f32le", "-y", "/dev/null"])
        .status()
        .unwrap();
    assert!(status.success());
    (cpu().1 - before).as_secs_f64() / f64::from(seconds)
}

fn main() {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let seconds = if smoke { 3 } else { 180 };
    let rounds = if smoke { 1 } else { 15 };
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data");
    let files = tonearm_e2e::bench_library::long_files(&data, seconds).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir(&music).unwrap();
    for (name, file) in &files {
        let ext = file.extension().unwrap().to_string_lossy();
        std::fs::copy(file, music.join(format!("{name}.{ext}"))).unwrap();
    }
    let tonearm = runtime.block_on(library(&music, dir.path()));
    let rows = runtime.block_on(tonearm.tracks(100, 0)).unwrap();
    let id_of = |name: &str| {
        rows.iter()
            .find(|r| r.path.starts_with(&format!("{name}.")))
            .unwrap()
            .id
    };

    println!("time to first audio, median of {rounds} (page cache warm)");
    println!("| input | floor (Symphonia alone) | ffmpeg (process) | tonearm | tonearm / floor |");
    println!("| --- | --- | --- | --- | --- |");
    for (name, file) in files
        .iter()
        .filter(|(n, _)| ["flac", "mp3-vbr", "aac", "alac"].contains(n))
    {
        let track = id_of(name);
        let (mut floor, mut peer, mut ours) = (vec![], vec![], vec![]);
        for _ in 0..rounds {
            floor.push(floor_first_audio(file));
            peer.push(ffmpeg_first_audio(file));
            ours.push(runtime.block_on(first_audio(&tonearm, track)));
        }
        let (floor, peer, ours) = (median(floor), median(peer), median(ours));
        println!(
            "| {name} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} |",
            floor.as_secs_f64() * 1e3,
            peer.as_secs_f64() * 1e3,
            ours.as_secs_f64() * 1e3,
            ours.as_secs_f64() / floor.as_secs_f64()
        );
    }

    // A Drive track from the fake, over loopback HTTP with a signed-in source.
    let cloud = DriveCloud::start();
    let (_, flac) = files.iter().find(|(n, _)| *n == "flac").unwrap();
    cloud
        .service
        .add_file_at("Music/drive.flac", &std::fs::read(flac).unwrap());
    let drive_ms = cloud.runtime.block_on(async {
        let registry = Registry::new(cloud.bus.clone());
        for d in [
            &tonearm_plugin_gdrive::DESCRIPTOR,
            &tonearm_plugin_symphonia::DESCRIPTOR,
        ] {
            registry.register(load_builtin(d).unwrap()).unwrap();
        }
        let store = SqliteStore::open(&dir.path().join("drive.db"))
            .await
            .unwrap();
        let network = tonearm_net::Network {
            http: cloud.http.clone(),
            tokens: cloud.tokens.clone(),
        };
        let tonearm = Tonearm::new(
            Arc::new(registry),
            store,
            HostCapabilities::with_network(network),
        );
        tonearm
            .add_source(SOURCE, "gdrive", cloud.settings())
            .await
            .unwrap();
        tonearm.sync(SyncRequest::all()).await.unwrap();
        let track = tonearm.tracks(10, 0).await.unwrap()[0].id;
        let mut times = vec![];
        for _ in 0..rounds {
            times.push(first_audio(&tonearm, track).await);
        }
        median(times).as_secs_f64() * 1e3
    });
    println!("| flac from the fake Drive | | | {drive_ms:.2} ms | |");

    println!();
    println!("CPU per second of audio, decoding a whole {seconds} s file");
    println!(
        "| input | floor (Symphonia alone) | ffmpeg -threads 1 | tonearm engine | tonearm / ffmpeg |"
    );
    println!("| --- | --- | --- | --- | --- |");
    for (name, file) in files
        .iter()
        .filter(|(n, _)| ["flac", "mp3-vbr", "aac"].contains(n))
    {
        let floor = floor_cpu(file);
        let peer = ffmpeg_cpu(file, seconds);
        let ours = runtime.block_on(engine_cpu(&tonearm, id_of(name)));
        println!(
            "| {name} | {:.2} ms/s | {:.2} ms/s | {:.2} ms/s | {:.2} |",
            floor * 1e3,
            peer * 1e3,
            ours * 1e3,
            ours / peer.max(1e-9)
        );
    }

    // Memory: the ring is sized by its settings; a track opened ahead is measured.
    let settings = PlayerSettings::default();
    let ring = (f64::from(FORMAT.sample_rate) * f64::from(settings.ring_seconds)) as u64
        * u64::from(FORMAT.channels)
        * 4;
    let before = rss();
    let held = runtime.block_on(async {
        let mut held = Vec::new();
        for name in ["flac", "mp3-vbr", "aac"] {
            let mut opened = tonearm.open_for_player(id_of(name)).await.unwrap();
            let mut chunk = Vec::new();
            opened.stream.session.read(&mut chunk).unwrap();
            held.push(opened);
        }
        held
    });
    let per_track = rss().saturating_sub(before) / held.len() as u64;
    println!();
    println!(
        "memory: the ring {} KiB ({} s at {} Hz × {} ch, f32); a track opened ahead about {} KiB (RSS, the mean of 3)",
        ring / 1024,
        settings.ring_seconds,
        FORMAT.sample_rate,
        FORMAT.channels,
        per_track / 1024
    );
    drop(held);
}
