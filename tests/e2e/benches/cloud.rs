//! Syncing a large Google Drive: a full sync of a fake Drive with 100,000 audio files,
//! a resync after 100 changes, and the bytes read per track.
//!
//! ```sh
//! cargo bench -p tonearm-e2e --bench cloud                 # 100,000 files
//! TONEARM_BENCH_FILES=20000 cargo bench -p tonearm-e2e --bench cloud
//! ```
//!
//! The fake Drive runs in this process on 127.0.0.1 and speaks real HTTP; the host signs
//! in, lists, reads tags with ranged requests and writes a real SQLite library. Files
//! share twelve distinct contents (re-tagged MP3 and FLAC fixtures padded to realistic
//! sizes, 3–8 MB and 15–35 MB), so reading whole files would show in the figures.

#![allow(clippy::unwrap_used)] // A benchmark fails loudly.

use std::time::Instant;

use lofty::config::WriteOptions;
use lofty::prelude::*;
use lofty::tag::Tag;
use tonearm_conformance::fixtures::FixtureSet;
use tonearm_e2e::cloud::{DriveCloud, SOURCE};
use tonearm_fakes::drive::SharedContent;

/// Twelve files: six MP3, six FLAC, each with its own tags and padded size.
fn templates() -> Vec<(&'static str, SharedContent)> {
    let set = FixtureSet::bundled();
    let dir = tempfile::tempdir().unwrap();
    (0..12)
        .map(|i| {
            let (ext, fixture) = if i % 2 == 0 {
                ("mp3", set.audio("02 pluck.mp3").unwrap())
            } else {
                ("flac", set.audio("01 chord.flac").unwrap())
            };
            let path = dir.path().join(format!("t{i}.{ext}"));
            std::fs::write(&path, &fixture.bytes).unwrap();
            let mut file = lofty::read_from_path(&path).unwrap();
            if file.primary_tag().is_none() {
                let kind = file.primary_tag_type();
                file.insert_tag(Tag::new(kind));
            }
            let tag = file.primary_tag_mut().unwrap();
            tag.set_title(format!("Template {i}"));
            tag.set_artist(format!("Artist {i}"));
            tag.set_album(format!("Album {}", i / 3));
            tag.save_to_path(&path, WriteOptions::default()).unwrap();
            let mut bytes = std::fs::read(&path).unwrap();
            let size = match ext {
                "mp3" => 3_000_000 + i * 450_000,
                _ => 15_000_000 + i * 1_800_000,
            };
            bytes.resize(size.max(bytes.len()), 0);
            (ext, SharedContent::new(&bytes))
        })
        .collect()
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs a quick smoke run.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let files: usize = std::env::var("TONEARM_BENCH_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if smoke { 200 } else { 100_000 });
    let cloud = DriveCloud::start();
    let templates = templates();
    let started = Instant::now();
    let mut ids = Vec::with_capacity(files);
    for i in 0..files {
        let (ext, content) = &templates[i % templates.len()];
        let album = i / 12;
        let path = format!(
            "Music/Artist {:03}/Album {album:05}/{:02} Track {i}.{ext}",
            album % 400,
            i % 12 + 1
        );
        ids.push(cloud.service.add_shared_file_at(&path, content));
    }
    eprintln!(
        "fake Drive filled with {files} files in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    cloud.runtime.block_on(async {
        // The host's defaults, as `tonearm sync` runs.
        let (_dir, library, syncer) =
            cloud.library_with(tonearm_host::sync::SyncOptions::default()).await;
        let requests_before = cloud.service.stats().requests;
        let t = Instant::now();
        let full = syncer.sync_source(SOURCE).await.unwrap();
        let full_s = t.elapsed().as_secs_f64();
        let full_requests = cloud.service.stats().requests - requests_before;
        assert_eq!(full.added as usize, files, "{full:?}");
        assert_eq!(full.failed, 0, "{full:?}");

        // 100 changes: new content, renames, moves, deletions and new files.
        let n = 100.min(files / 2);
        for (k, id) in ids.iter().take(n).enumerate() {
            match k % 5 {
                0 => {
                    let (_, content) = &templates[(k + 1) % templates.len()];
                    cloud.service.update_content(id, &content_bytes(content));
                }
                1 => {
                    cloud.service.rename(id, &format!("Renamed {k}.mp3"));
                }
                2 => {
                    let folder = cloud.service.folder_at("Music/Moved");
                    cloud.service.move_to(id, &folder);
                }
                3 => {
                    cloud.service.delete(id);
                }
                _ => {
                    let (_, content) = &templates[k % templates.len()];
                    cloud.service.add_shared_file_at(&format!("Music/New/{k}.mp3"), content);
                }
            }
        }
        let requests_before = cloud.service.stats().requests;
        let t = Instant::now();
        let resync = syncer.sync_source(SOURCE).await.unwrap();
        let resync_s = t.elapsed().as_secs_f64();
        let resync_requests = cloud.service.stats().requests - requests_before;
        assert_eq!(resync.removed as usize, n / 5, "{resync:?}");

        let bytes = library.bytes_read_per_file().await.unwrap();
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        println!("cloud sync benchmark: fake Drive v3 on 127.0.0.1, {files} files, {cores} cores");
        println!("| measure | value | target |");
        println!("| --- | --- | --- |");
        println!(
            "| full sync | {full_s:.1} s ({:.0} tracks/s, {full_requests} requests) | ≤ 60 s for 100,000 |",
            files as f64 / full_s
        );
        println!(
            "| resync after {n} changes | {:.0} ms ({resync_requests} requests) | ≤ 1 s |",
            resync_s * 1000.0
        );
        println!(
            "| bytes read per track | median {:.1} KiB, p95 {:.1} KiB | median ≤ 256 KiB |",
            tonearm_e2e::percentile(&bytes, 0.5) as f64 / 1024.0,
            tonearm_e2e::percentile(&bytes, 0.95) as f64 / 1024.0
        );
    });
}

fn content_bytes(content: &SharedContent) -> Vec<u8> {
    content.bytes().to_vec()
}
