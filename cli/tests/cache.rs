//! The offline cache, as a user meets it: a Drive track pinned, played again with the
//! service gone, a damaged copy caught and fetched again.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use common::{fails, isolated, json, ok, sign_in_gdrive};
use tonearm_conformance::fixtures::FixtureSet;

/// `tonearm` with this test's library and config (its own cache folder).
fn run(dir: &Path, args: &[&str]) -> Output {
    isolated()
        .arg("--library")
        .arg(dir.join("library.db"))
        .arg("--config")
        .arg(dir.join("config.json"))
        .args(args)
        .stdin(Stdio::null())
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn cached_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir.join("cache"))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "track"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_pinned_drive_track_plays_with_the_service_gone_and_a_damaged_copy_is_fetched_again() {
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("cache");
    std::fs::write(
        dir.path().join("config.json"),
        serde_json::json!({ "cache": { "dir": cache_dir, "limit_mb": 64 } }).to_string(),
    )
    .unwrap();
    let oauth = tonearm_fakes::oauth::FakeOAuth::start().unwrap();
    let drive = tonearm_fakes::drive::FakeDrive::start(oauth.authority().clone()).unwrap();
    for f in &FixtureSet::bundled().audio {
        drive.add_file_at(&format!("Music/{}", f.file), &f.bytes);
    }
    sign_in_gdrive(&dir.path().join("library.db"), &oauth, &drive, "cloud");
    assert!(ok(&run(dir.path(), &["sync", "cloud"])).contains("7 added"));
    let status = json(&run(dir.path(), &["cache", "status", "--json"]));
    assert_eq!(status["tracks"], 0);

    // Playing a cloud track keeps a copy; pinning one downloads it now.
    let wav = |name: &str| dir.path().join(name);
    let played = |name: &str, what: &str| {
        let out = run(
            dir.path(),
            &[
                "play",
                what,
                "--output",
                &format!("wav:{}", wav(name).display()),
            ],
        );
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (good, log) = played("bell.wav", "bell aac");
    assert!(good, "{log}");
    assert_eq!(
        json(&run(dir.path(), &["cache", "status", "--json"]))["tracks"],
        1,
        "{log}"
    );
    let pinned = ok(&run(dir.path(), &["cache", "pin", "pad"]));
    assert!(pinned.contains("1 pinned"), "{pinned}");
    let status = json(&run(dir.path(), &["cache", "status", "--json"]));
    assert_eq!(
        (status["tracks"].as_u64(), status["pinned"].as_u64()),
        (Some(2), Some(1))
    );
    let (good, log) = played("pad.wav", "pad");
    assert!(good, "{log}");
    let pad = std::fs::read(wav("pad.wav")).unwrap();

    // Copies are encrypted: no Ogg page is visible in them.
    for file in cached_files(dir.path()) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(4).any(|w| w == b"OggS"),
            "{} is readable",
            file.display()
        );
    }

    // A damaged copy is caught and fetched again, while the service is there.
    let requests = drive.stats().media_calls;
    for file in cached_files(dir.path()) {
        let mut bytes = std::fs::read(&file).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        std::fs::write(&file, bytes).unwrap();
    }
    let (good, log) = played("pad-again.wav", "pad");
    assert!(good, "{log}");
    assert_eq!(std::fs::read(wav("pad-again.wav")).unwrap(), pad);
    assert!(
        drive.stats().media_calls > requests,
        "fetched again from the service"
    );
    let status = json(&run(dir.path(), &["cache", "status", "--json"]));
    assert_eq!(
        status["pinned"], 1,
        "the pin held through the damage: {status}"
    );

    // With the service gone, the pinned track still plays, from the cache.
    drop(drive);
    let (good, log) = played("pad-offline.wav", "pad");
    assert!(good, "{log}");
    assert_eq!(std::fs::read(wav("pad-offline.wav")).unwrap(), pad);
    // A track never played or pinned cannot.
    let (good, log) = played("chord.wav", "chord");
    assert!(!good && log.contains("✗"), "{log}");

    // Unpinned, then cleared.
    assert!(ok(&run(dir.path(), &["cache", "unpin", "pad"])).contains("1 unpinned"));
    assert!(ok(&run(dir.path(), &["cache", "clear"])).contains("removed"));
    assert_eq!(
        json(&run(dir.path(), &["cache", "status", "--json"]))["tracks"],
        0
    );
    assert!(fails(&run(dir.path(), &["cache", "pin"])).contains("say which tracks"));
}
