//! A benchmark library of real encoded files, made with FFmpeg as a user's would be:
//! MP3 (CBR and VBR), FLAC, Ogg Vorbis, Opus, and AAC and ALAC in MP4 with the index at
//! the end (FFmpeg's default), 30 s each, tagged by FFmpeg.
//!
//! A few originals per format are encoded from a tone under pink noise (so lossless files
//! have realistic sizes), then every track is a stream copy of one of them with its own
//! tags. The library is made once under `target/bench-data/` and reused. The decode
//! benchmark's long files (one per format) are made the same way.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One kind of file in the library.
struct Format {
    name: &'static str,
    ext: &'static str,
    codec: &'static [&'static str],
    /// Files of this format among every ten.
    weight: usize,
}

const FORMATS: &[Format] = &[
    Format {
        name: "mp3-cbr",
        ext: "mp3",
        codec: &["-c:a", "libmp3lame", "-b:a", "192k"],
        weight: 2,
    },
    Format {
        name: "mp3-vbr",
        ext: "mp3",
        codec: &["-c:a", "libmp3lame", "-q:a", "2"],
        weight: 2,
    },
    Format {
        name: "flac",
        ext: "flac",
        codec: &["-c:a", "flac"],
        weight: 2,
    },
    Format {
        name: "vorbis",
        ext: "ogg",
        codec: &["-c:a", "libvorbis", "-q:a", "5"],
        weight: 1,
    },
    Format {
        name: "opus",
        ext: "opus",
        codec: &["-c:a", "libopus", "-b:a", "128k"],
        weight: 1,
    },
    Format {
        name: "aac",
        ext: "m4a",
        codec: &["-c:a", "aac", "-b:a", "192k"],
        weight: 1,
    },
    Format {
        name: "alac",
        ext: "m4a",
        codec: &["-c:a", "alac"],
        weight: 1,
    },
];

/// Originals encoded per format; tracks are copies of them with their own tags.
const ORIGINALS: usize = 6;

/// Runs FFmpeg quietly; `Err` with its message if it fails.
fn ffmpeg(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ffmpeg (scripts/setup --bench installs it): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ffmpeg {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Runs `job` for `0..count` on every core.
fn parallel(count: usize, job: impl Fn(usize) -> Result<(), String> + Sync) -> Result<(), String> {
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= count {
                            return Ok(());
                        }
                        job(i)?;
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().map_err(|_| "a worker panicked".to_owned())?)
    })
}

/// The format of track `i`: the weights repeat every ten tracks.
fn format_of(i: usize) -> &'static Format {
    let mut slot = i % 10;
    for format in FORMATS {
        if slot < format.weight {
            return format;
        }
        slot -= format.weight;
    }
    &FORMATS[0]
}

/// Encodes `seconds` of a tone under pink noise (tone and noise seed chosen by `k`) as
/// `format` to `out`, unless `out` exists; a partial file never takes its name.
fn encode(format: &Format, k: usize, seconds: u32, out: &Path) -> Result<(), String> {
    if out.exists() {
        return Ok(());
    }
    let tone = format!(
        "sine=frequency={}:duration={seconds}:sample_rate=44100",
        110 * (k + 2)
    );
    let noise = format!(
        "anoisesrc=color=pink:amplitude=0.08:duration={seconds}:seed={k}:sample_rate=44100"
    );
    let partial = out.with_extension(format!("part.{}", format.ext));
    let mut args = vec!["-f", "lavfi", "-i", &tone, "-f", "lavfi", "-i", &noise];
    args.extend([
        "-filter_complex",
        "[0][1]amix=inputs=2:normalize=0,aformat=channel_layouts=stereo",
    ]);
    args.extend(format.codec);
    let partial_s = partial.to_string_lossy().into_owned();
    args.push(&partial_s);
    ffmpeg(&args)?;
    std::fs::rename(&partial, out).map_err(|e| e.to_string())
}

/// One long file per format (MP3 CBR and VBR, FLAC, Vorbis, Opus, AAC, ALAC), `seconds`
/// long, under `dir`, made if missing; returns each format's name and file.
///
/// # Errors
///
/// If FFmpeg is missing or fails.
pub fn long_files(dir: &Path, seconds: u32) -> Result<Vec<(&'static str, PathBuf)>, String> {
    let folder = dir.join(format!("long-{seconds}s"));
    std::fs::create_dir_all(&folder).map_err(|e| e.to_string())?;
    let files: Vec<_> = FORMATS
        .iter()
        .map(|f| (f.name, folder.join(format!("{}.{}", f.name, f.ext))))
        .collect();
    parallel(FORMATS.len(), |i| {
        encode(&FORMATS[i], i, seconds, &files[i].1)
    })?;
    Ok(files)
}

/// The library of `files` tracks under `dir`, made if missing; returns its music folder.
///
/// # Errors
///
/// If FFmpeg is missing or fails.
pub fn real_library(dir: &Path, files: usize) -> Result<PathBuf, String> {
    let music = dir.join(format!("real-{files}"));
    let marker = music.join(".complete");
    if marker.exists() {
        return Ok(music);
    }
    let originals = dir.join("originals");
    std::fs::create_dir_all(&originals).map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    parallel(FORMATS.len() * ORIGINALS, |n| {
        let (format, k) = (&FORMATS[n / ORIGINALS], n % ORIGINALS);
        let out = originals.join(format!("{}-{k}.{}", format.name, format.ext));
        encode(format, k, 30, &out)
    })?;

    let _ = std::fs::remove_dir_all(&music);
    parallel(files, |i| {
        let format = format_of(i);
        let original = originals.join(format!(
            "{}-{}.{}",
            format.name,
            (i / 10) % ORIGINALS,
            format.ext
        ));
        let album = i / 12;
        let folder = music
            .join(format!("Artist {:03}", album % 400))
            .join(format!("Album {album:04}"));
        std::fs::create_dir_all(&folder).map_err(|e| e.to_string())?;
        let out = folder.join(format!("{:02} Track {i}.{}", i % 12 + 1, format.ext));
        let (original, out) = (
            original.to_string_lossy().into_owned(),
            out.to_string_lossy().into_owned(),
        );
        let meta = [
            format!("title=Track {i}"),
            format!("artist=Artist {:03}", album % 400),
            format!("album_artist=Artist {:03}", album % 400),
            format!("album=Album {album:04}"),
            format!("track={}/12", i % 12 + 1),
            format!("date={}", 1960 + album % 60),
            format!(
                "genre={}",
                ["Jazz", "Rock", "Classical", "Electronic"][album % 4]
            ),
        ];
        let mut args = vec![
            "-i",
            &original,
            "-map",
            "0:a",
            "-c",
            "copy",
            "-map_metadata",
            "-1",
        ];
        for m in &meta {
            args.extend(["-metadata", m.as_str()]);
        }
        args.push(&out);
        ffmpeg(&args)
    })?;
    std::fs::write(&marker, files.to_string()).map_err(|e| e.to_string())?;
    eprintln!(
        "made a library of {files} real encoded files in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(music)
}
