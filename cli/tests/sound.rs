//! A real sound server: `tonearm play` through the sound card output into a PulseAudio
//! server's null sink, whose monitor is recorded and compared with the file played.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{isolated, ok};

const RATE: u32 = 48_000;

/// A PulseAudio server of this test's own, with a float null sink; killed when dropped.
struct SoundServer {
    child: Child,
    runtime: tempfile::TempDir,
}

impl SoundServer {
    fn start() -> Self {
        let runtime = tempfile::tempdir().unwrap();
        let sink = format!(
            "module-null-sink sink_name=tonearm_test format=float32le rate={RATE} channels=2"
        );
        let child = Command::new("pulseaudio")
            .args([
                "-n",
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--disallow-exit",
            ])
            .arg(format!("--load={sink}"))
            .arg("--load=module-native-protocol-unix")
            .env("XDG_RUNTIME_DIR", runtime.path())
            .env("HOME", runtime.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pulseaudio (scripts/setup --test installs it)");
        let server = Self { child, runtime };
        // Its socket appears before it answers: wait until a client gets an answer.
        let started = Instant::now();
        loop {
            let answered = server
                .client(&mut Command::new("pactl"))
                .arg("info")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("pactl (pulseaudio-utils; scripts/setup --test installs it)")
                .success();
            if answered {
                break server;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "pulseaudio did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `command` pointed at this server, and this server only.
    fn client<'a>(&self, command: &'a mut Command) -> &'a mut Command {
        command.env("XDG_RUNTIME_DIR", self.runtime.path()).env(
            "PULSE_SERVER",
            format!(
                "unix:{}",
                self.runtime.path().join("pulse/native").display()
            ),
        )
    }
}

impl Drop for SoundServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits up to 20 s for `done`, then fails the test saying what it waited for.
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "waited 20 s for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A 16-bit stereo WAV file of two tones, starting from silence.
fn tones(path: &Path, frames: u32) -> Vec<f32> {
    let mut samples = Vec::new();
    for i in 0..frames {
        let t = f64::from(i) / f64::from(RATE);
        let left = (t * 440.0 * std::f64::consts::TAU).sin() * 0.4;
        let right = (t * 660.0 * std::f64::consts::TAU).sin() * 0.3;
        samples.push((left * 32767.0) as i16);
        samples.push((right * 32767.0) as i16);
    }
    let data_len = samples.len() as u32 * 2;
    let mut file = b"RIFF".to_vec();
    file.extend_from_slice(&(36 + data_len).to_le_bytes());
    file.extend_from_slice(b"WAVEfmt ");
    for word in [16u32, 0x0002_0001, RATE, RATE * 4, 0x0010_0004] {
        file.extend_from_slice(&word.to_le_bytes());
    }
    file.extend_from_slice(b"data");
    file.extend_from_slice(&data_len.to_le_bytes());
    for s in &samples {
        file.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, file).unwrap();
    samples.iter().map(|&s| f32::from(s) / 32768.0).collect()
}

#[test]
fn the_sound_card_output_plays_the_track_into_a_real_sound_server() {
    let server = SoundServer::start();
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir(&music).unwrap();
    let played = tones(&music.join("tones.wav"), RATE * 2);
    let lib = dir.path().join("library.db");
    ok(&isolated()
        .arg("--library")
        .arg(&lib)
        .args(["scan", music.to_str().unwrap()])
        .output()
        .unwrap());

    let recording = dir.path().join("monitor.raw");
    let mut parec = server
        .client(&mut Command::new("parec"))
        .args([
            "-d",
            "tonearm_test.monitor",
            "--format=float32le",
            "--channels=2",
            "--raw",
        ])
        .arg(format!("--rate={RATE}"))
        // Small fragments: what the monitor hears reaches the file within milliseconds.
        .arg("--latency-msec=20")
        .stdout(std::fs::File::create(&recording).unwrap())
        .spawn()
        .expect("parec (pulseaudio-utils; scripts/setup --test installs it)");
    // A recorder's stream starts some time after its process (a second and more on a
    // busy machine): play only once it records, or the track's start goes unheard.
    let recorded = || std::fs::metadata(&recording).map_or(0, |m| m.len());
    let second = u64::from(RATE) * 2 * 4;
    wait_until("the recorder to record", || recorded() >= second / 10);
    let out = server
        .client(&mut isolated())
        .arg("--library")
        .arg(&lib)
        .args(["play", "tones", "--output", "device"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("device ({RATE} Hz × 2 ch)")),
        "{stderr}"
    );
    assert!(!stderr.contains("underrun"), "{stderr}");
    // Every frame went to the device.
    assert!(stderr.contains(&format!("{} frames", RATE * 2)), "{stderr}");
    // Let the recorder hear a moment of what follows the track before it is stopped.
    let after = recorded() + second / 2;
    wait_until("the recorder to record past the end", || {
        recorded() >= after
    });
    let _ = parec.kill();
    let _ = parec.wait();

    let bytes = std::fs::read(&recording).unwrap();
    let heard: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    // Line the recording up with the file: where the first clearly audible samples heard
    // match the file best (the tones are audible within a millisecond of the start).
    let Some(at) = heard.iter().position(|x| x.abs() > 0.05).map(|i| i / 2 * 2) else {
        panic!("nothing was heard: {} samples recorded", heard.len());
    };
    let probe = &heard[at..(at + 256).min(heard.len())];
    let from = (0..played.len().saturating_sub(probe.len()) / 2)
        .map(|frame| frame * 2)
        .min_by(|&a, &b| {
            let distance = |o: usize| -> f32 {
                probe
                    .iter()
                    .zip(&played[o..])
                    .map(|(x, y)| (x - y).abs())
                    .sum()
            };
            distance(a).total_cmp(&distance(b))
        })
        .unwrap();
    // The tones pass 0.05 by their fourth frame: no audible frame before was missed.
    assert!(
        from <= 3 * 2,
        "the first {} frames were not heard",
        from / 2
    );
    // The recorder ran from before the track to after it: all of it was heard.
    let span = played.len() - from;
    assert!(
        heard.len() - at >= span,
        "the last {} frames were not heard",
        (span - (heard.len() - at)) / 2
    );
    let worst = played[from..from + span]
        .iter()
        .zip(&heard[at..at + span])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst < 1e-3,
        "what the server played differs from the file by up to {worst}"
    );
}
