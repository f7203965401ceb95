//! Crash tests: a sync killed with SIGKILL right after its Nth batch committed resumes and
//! ends identical to a clean sync, for a local folder and for the fake Google Drive.
//!
//! The kill is aimed and checked from outside, through the library file as any reader
//! sees it: the test runs the process in short slices (SIGSTOP / SIGCONT), reads what is
//! committed while it is stopped, and kills it once the batch is in. A kill that missed
//! the window (the sync had completed) fails the test.

#![cfg(unix)]
#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, OptionalExtension as _};
use tonearm_conformance::fixtures::FixtureSet;

mod common;
use common::*;

/// Files of source `name` committed to `lib`, and whether a sync of it ever completed;
/// `None` while the library or the source does not exist yet.
fn committed(lib: &Path, name: &str) -> Option<(i64, bool)> {
    let db = Connection::open_with_flags(lib, OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    db.busy_timeout(Duration::from_secs(5)).ok()?;
    db.query_row(
        "SELECT (SELECT count(*) FROM files f WHERE f.source_id = s.id), \
                s.last_sync_at IS NOT NULL \
         FROM sources s WHERE s.name = ?1",
        [name],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
    .optional()
    .ok()
    .flatten()
}

/// Sends `signal` to `child`.
fn signal(child: &Child, signal: &str) {
    let sent = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill {signal} failed");
}

/// Runs `child` in slices of a few milliseconds, stopped (SIGSTOP) in between, until at
/// least `at_least` files of source `name` are committed to `lib`; then kills it and
/// returns the files committed when it died. Panics if the sync ended before that, or
/// had completed when the kill landed.
///
/// Stepping it from outside makes the aim independent of the machine's speed: between
/// two looks the process moves by a slice, far less than a batch of a scan.
fn kill_after_committed(mut child: Child, lib: &Path, name: &str, at_least: i64) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut slice = Duration::from_millis(20); // Start-up: nothing to aim at yet.
    loop {
        signal(&child, "-STOP");
        // Let a write already inside the kernel finish, then look at what is committed
        // while nothing runs: that is what a kill now leaves.
        std::thread::sleep(Duration::from_millis(2));
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the sync exited ({status}) before {at_least} files were committed: {:?}",
                committed(lib, name)
            );
        }
        if let Some((files, completed)) = committed(lib, name) {
            if files >= at_least {
                child.kill().unwrap(); // SIGKILL: no cleanup runs.
                let status = child.wait().unwrap();
                assert!(
                    !status.success(),
                    "the process exited on its own: the kill missed"
                );
                assert!(
                    !completed,
                    "the sync had completed ({files} files) when the kill landed: it missed the window"
                );
                return files;
            }
            slice = Duration::from_millis(2);
        }
        assert!(Instant::now() < deadline, "no progress to {at_least} files");
        signal(&child, "-CONT");
        std::thread::sleep(slice);
    }
}

/// Tracks as `library list --json` shows them, without the ids (which depend on the order
/// tracks were written), sorted by path.
fn tracks(lib: &Path) -> Vec<serde_json::Value> {
    let listed = json(&tonearm(
        lib,
        &["library", "list", "--json", "--limit", "100000"],
    ));
    let mut tracks: Vec<serde_json::Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .cloned()
        .map(|mut t| {
            t.as_object_mut().unwrap().remove("id");
            t
        })
        .collect();
    tracks.sort_by_key(|t| t["path"].as_str().unwrap_or_default().to_owned());
    tracks
}

/// Checks that `killed` ends as `clean` does, with `expected` tracks and nothing pending.
fn assert_identical(killed: &Path, clean: &Path, expected: usize) {
    let stats = |lib: &Path| json(&tonearm(lib, &["library", "stats", "--json"]));
    assert_eq!(stats(killed)["tracks"], expected);
    assert_eq!(stats(killed), stats(clean));
    let (a, b) = (tracks(killed), tracks(clean));
    assert_eq!(a.len(), expected);
    assert!(a == b, "the resumed library differs from the clean one");
    let sources = json(&tonearm(killed, &["source", "list", "--json"]));
    assert_eq!(
        sources.as_array().unwrap().len(),
        1,
        "one source, however often it was interrupted"
    );
    assert!(sources[0]["pending_cursor"].is_null());
}

/// Where the kills land among 2,000 files: after the first batch (at most 512 files,
/// `SyncOptions::batch_size`, and a batch ends with its listing page of 500), at half and
/// at three quarters, counted in files, not batches.
const KILLS: [i64; 3] = [256, 1000, 1500];

#[test]
fn a_scan_killed_after_its_nth_batch_resumes_and_ends_identical_to_a_clean_one() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("big");
    let fixtures = FixtureSet::bundled();
    for i in 0..1000 {
        let sub = music.join(format!("album {}", i / 20));
        std::fs::create_dir_all(&sub).unwrap();
        for f in &fixtures.audio[..2] {
            std::fs::write(sub.join(format!("{i:03} {}", f.file)), &f.bytes).unwrap();
        }
    }
    let scan = |lib: &Path| {
        isolated()
            .arg("--library")
            .arg(lib)
            .args(["scan", music.to_str().unwrap(), "--name", "big"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let killed = dir.path().join("killed.db");
    let mut before = 0;
    for at_least in KILLS {
        let files = kill_after_committed(scan(&killed), &killed, "big", at_least);
        assert!(
            files > before,
            "each run committed more ({before} → {files})"
        );
        before = files;
    }
    ok(&tonearm(
        &killed,
        &["scan", music.to_str().unwrap(), "--name", "big"],
    ));
    let clean = dir.path().join("clean.db");
    ok(&tonearm(
        &clean,
        &["scan", music.to_str().unwrap(), "--name", "big"],
    ));
    assert_identical(&killed, &clean, 2000);
}

#[test]
fn a_drive_sync_killed_after_its_nth_batch_resumes_and_ends_identical_to_a_clean_one() {
    let oauth = tonearm_fakes::oauth::FakeOAuth::start().unwrap();
    let drive = tonearm_fakes::drive::FakeDrive::start(oauth.authority().clone()).unwrap();
    let fixtures = FixtureSet::bundled();
    let shared: Vec<_> = fixtures.audio[..2]
        .iter()
        .map(|f| tonearm_fakes::drive::SharedContent::new(&f.bytes))
        .collect();
    for i in 0..1000 {
        for (f, content) in fixtures.audio[..2].iter().zip(&shared) {
            drive.add_shared_file_at(
                &format!("Music/album {}/{i:03} {}", i / 20, f.file),
                content,
            );
        }
    }
    // A round trip of a few milliseconds, as a real service has, so that a sync lasts
    // long enough to be aimed at on any machine.
    drive.set_latency(Duration::from_millis(3));
    let dir = tempfile::tempdir().unwrap();
    let (killed, clean) = (dir.path().join("killed.db"), dir.path().join("clean.db"));
    for lib in [&killed, &clean] {
        sign_in_gdrive(lib, &oauth, &drive, "cloud");
    }
    let sync = |lib: &Path| {
        isolated()
            .arg("--library")
            .arg(lib)
            .args(["sync", "cloud"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut before = 0;
    for at_least in KILLS {
        let files = kill_after_committed(sync(&killed), &killed, "cloud", at_least);
        assert!(
            files > before,
            "each run committed more ({before} → {files})"
        );
        before = files;
    }
    let out = ok(&tonearm(&killed, &["sync", "cloud"]));
    assert!(out.contains("added"), "{out}");
    ok(&tonearm(&clean, &["sync", "cloud"]));
    assert_identical(&killed, &clean, 2000);
}
