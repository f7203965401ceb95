//! `tonearm play` and `tonearm playlist`, as a user runs them.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

mod common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Output, Stdio};

use common::{fails, isolated, ok, samples};

/// `tonearm` with no input, as from a script.
fn run(library: &Path, args: &[&str]) -> Output {
    isolated()
        .arg("--library")
        .arg(library)
        .args(args)
        .stdin(Stdio::null())
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The titles `play` announced, in order.
fn started(output: &Output) -> Vec<String> {
    stderr(output)
        .lines()
        .filter_map(|l| l.strip_prefix("▶ "))
        .map(|l| l.split(" — ").next().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn an_album_plays_in_order_into_a_wav_file() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("library.db");
    ok(&run(&lib, &["scan", samples(dir.path()).to_str().unwrap()]));
    let wav = dir.path().join("album.wav");
    let out = run(
        &lib,
        &[
            "play",
            "--album",
            "tonearm samples",
            "--output",
            &format!("wav:{}", wav.display()),
            "--rate",
            "44100",
            "--channels",
            "2",
        ],
    );
    let stdout = ok(&out);
    assert_eq!(
        started(&out),
        [
            "Tone (WAV)",
            "Chord in C",
            "Pluck “quoted” #2",
            "Pad?",
            "Bell (AAC)",
            "Bell (ALAC)",
            "Tone (AIFF)"
        ],
        "{}",
        stderr(&out)
    );
    // Seven tracks of 1 to 1.5 s, each brought to 44.1 kHz stereo.
    let frames: u64 = stdout
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        (9 * 44_100..10 * 44_100).contains(&frames),
        "{frames} frames"
    );
    let bytes = std::fs::metadata(&wav).unwrap().len();
    assert_eq!(bytes, 58 + frames * 8, "the file holds what was played");
}

#[test]
fn playlists_are_made_edited_and_played() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("library.db");
    ok(&run(&lib, &["scan", samples(dir.path()).to_str().unwrap()]));
    ok(&run(&lib, &["playlist", "create", "mix"]));
    assert!(fails(&run(&lib, &["playlist", "create", "mix"])).contains("already exists"));
    let added = ok(&run(&lib, &["playlist", "add", "mix", "bell"]));
    assert!(added.contains("added 2 tracks"), "{added}");
    let added = ok(&run(&lib, &["playlist", "add", "mix", "chord"]));
    assert!(added.contains("(3 in all)"), "{added}");
    ok(&run(&lib, &["playlist", "move", "mix", "3", "1"]));
    ok(&run(&lib, &["playlist", "remove", "mix", "3"]));
    assert!(fails(&run(&lib, &["playlist", "remove", "mix", "9"])).contains("no entry 8"));
    assert!(fails(&run(&lib, &["playlist", "remove", "mix", "0"])).contains("from 1"));
    ok(&run(&lib, &["playlist", "rename", "mix", "road trip"]));
    let shown = common::json(&run(&lib, &["playlist", "show", "road trip", "--json"]));
    let titles: Vec<&str> = shown
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles.len(), 2);
    assert!(titles[0].starts_with("Chord"), "{titles:?}");
    let listed = ok(&run(&lib, &["playlist", "list"]));
    assert!(
        listed.contains("road trip") && listed.contains('2'),
        "{listed}"
    );

    let wav = dir.path().join("mix.wav");
    let played = run(
        &lib,
        &[
            "play",
            "--playlist",
            "road trip",
            "--output",
            &format!("wav:{}", wav.display()),
        ],
    );
    ok(&played);
    assert_eq!(started(&played).len(), 2, "{}", stderr(&played));
    assert_eq!(started(&played)[0], "Chord in C");

    ok(&run(&lib, &["playlist", "delete", "road trip"]));
    assert!(fails(&run(&lib, &["play", "--playlist", "road trip"])).contains("no playlist named"));
    assert!(fails(&run(&lib, &["play", "no such words"])).contains("no track matches"));
    assert!(
        fails(&run(&lib, &["play", "chord", "--output", "speaker"])).contains("wav:FILE or null")
    );
}

#[test]
fn commands_on_stdin_skip_and_quit_while_it_plays_in_real_time() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("library.db");
    ok(&run(&lib, &["scan", samples(dir.path()).to_str().unwrap()]));
    let mut child = isolated()
        .arg("--library")
        .arg(&lib)
        .args(["play", "--album", "tonearm samples", "--output", "null"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .env_remove("RUST_LOG")
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut announced = Vec::new();
    let started = std::time::Instant::now();
    while let Some(Ok(line)) = lines.next() {
        if let Some(title) = line.strip_prefix("▶ ") {
            announced.push(title.split(" — ").next().unwrap_or_default().to_owned());
            // The null output plays at a sound card's pace: each track would take a
            // second or more. Skip the first, quit in the second.
            match announced.len() {
                1 => writeln!(input, "next").unwrap(),
                2 => writeln!(input, "quit").unwrap(),
                _ => {}
            }
        }
        if line.starts_with("played ") {
            break;
        }
    }
    let status = child.wait().unwrap();
    assert!(status.success());
    assert_eq!(announced, ["Tone (WAV)", "Chord in C"]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "skipping and quitting did not wait for the tracks: {:?}",
        started.elapsed()
    );
}
