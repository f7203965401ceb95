//! Scan throughput: a full scan of a generated library, an unchanged rescan, and the bytes
//! read per track.
//!
//! ```sh
//! cargo bench -p tonearm-e2e --bench scan            # 5,000 files
//! TONEARM_BENCH_FILES=20000 cargo bench -p tonearm-e2e --bench scan
//! ```
//!
//! The library is generated once under `target/bench-data/`: the bundled MP3 and FLAC
//! fixtures re-tagged with lofty (distinct titles, artists, albums, numbers, ReplayGain),
//! then extended with a sparse hole to realistic sizes (MP3 3–8 MB, FLAC 15–35 MB), so
//! that reading a whole file would show in the bytes-read figures while using no disk.

#![allow(clippy::unwrap_used)] // A benchmark fails loudly.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use lofty::config::WriteOptions;
use lofty::prelude::*;
use lofty::tag::{ItemKey, Tag};
use tonearm_conformance::fixtures::FixtureSet;
use tonearm_host::sync::{HostCapabilities, SyncOptions, Syncer};
use tonearm_host::{EventBus, Registry, SqliteStore};
use tonearm_loader::load_builtin;

fn generate(dir: &Path, files: usize) {
    let marker = dir.join(".complete");
    if marker.exists() {
        return;
    }
    let _ = std::fs::remove_dir_all(dir);
    let set = FixtureSet::bundled();
    let templates = [
        ("mp3", set.audio("02 pluck.mp3").unwrap()),
        ("flac", set.audio("01 chord.flac").unwrap()),
    ];
    let started = Instant::now();
    for i in 0..files {
        let (ext, template) = templates[usize::from(i % 5 >= 3)]; // 60% MP3, 40% FLAC
        let album = i / 12;
        let folder = dir
            .join(format!("Artist {:03}", album % 400))
            .join(format!("Album {album:04}"));
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join(format!("{:02} Track {i}.{ext}", i % 12 + 1));
        std::fs::write(&path, &template.bytes).unwrap();

        let mut file = lofty::read_from_path(&path).unwrap();
        let tag: &mut Tag = match file.primary_tag_mut() {
            Some(tag) => tag,
            None => {
                let kind = file.primary_tag_type();
                file.insert_tag(Tag::new(kind));
                file.primary_tag_mut().unwrap()
            }
        };
        tag.set_title(format!("Track {i}"));
        tag.set_artist(format!("Artist {:03}", album % 400));
        tag.set_album(format!("Album {album:04}"));
        tag.set_track((i % 12 + 1) as u32);
        tag.set_track_total(12);
        tag.insert_text(
            ItemKey::ReplayGainTrackGain,
            format!("-{}.{} dB", i % 9, i % 10),
        );
        tag.save_to_path(&path, WriteOptions::default()).unwrap();

        // Realistic sizes without using disk: a sparse tail.
        let size: u64 = match ext {
            "mp3" => 3_000_000 + (i as u64 * 7919) % 5_000_000,
            _ => 15_000_000 + (i as u64 * 7919) % 20_000_000,
        };
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(size)
            .unwrap();
    }
    std::fs::write(&marker, files.to_string()).unwrap();
    eprintln!(
        "generated {files} files in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs us with no arguments and
    // expects a quick smoke run.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let files: usize = std::env::var("TONEARM_BENCH_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if smoke { 60 } else { 5000 });
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data");
    let music = target.join(format!("library-{files}"));
    generate(&music, files);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let db = tempfile::tempdir().unwrap();
        let library = SqliteStore::open(&db.path().join("library.db")).await.unwrap();
        let registry = Registry::new(EventBus::default());
        for d in [&tonearm_plugin_local::DESCRIPTOR, &tonearm_plugin_symphonia::DESCRIPTOR] {
            registry.register(load_builtin(d).unwrap()).unwrap();
        }
        let mut settings = std::collections::BTreeMap::new();
        settings.insert("root".to_owned(), music.to_string_lossy().into_owned());
        library.add_source("bench", "local", &settings).await.unwrap();
        let syncer = Syncer::new(
            library.clone(),
            Arc::new(registry),
            HostCapabilities::offline(),
            SyncOptions::default(),
        );

        let t = Instant::now();
        let full = syncer.sync_source("bench").await.unwrap();
        let full_s = t.elapsed().as_secs_f64();
        assert_eq!(full.added as usize, files, "{full:?}");
        assert_eq!(full.failed, 0, "{full:?}");

        let t = Instant::now();
        let rescan = syncer.sync_source("bench").await.unwrap();
        let rescan_s = t.elapsed().as_secs_f64();
        assert_eq!(rescan.scanned, 0, "{rescan:?}");

        let bytes = library.bytes_read_per_file().await.unwrap();
        let sizes: Vec<u64> = {
            let mut s: Vec<i64> = sqlx::query_scalar("SELECT size FROM files").fetch_all(library.pool()).await.unwrap();
            s.sort_unstable();
            s.into_iter().map(|v| v as u64).collect()
        };
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        println!("scan benchmark: {files} files ({:.1} GB listed, sparse), {cores} cores", sizes.iter().sum::<u64>() as f64 / 1e9);
        println!("| measure | value | target |");
        println!("| --- | --- | --- |");
        println!("| full scan | {:.0} tracks/s ({full_s:.2} s) | ≥ 3,000 tracks/s |", files as f64 / full_s);
        println!("| unchanged rescan | {:.0} tracks/s ({rescan_s:.3} s) | ≥ 60,000 tracks/s |", files as f64 / rescan_s);
        println!(
            "| bytes read per track | median {:.1} KiB, p95 {:.1} KiB (median file {:.1} MiB) | never the whole file |",
            tonearm_e2e::percentile(&bytes, 0.5) as f64 / 1024.0,
            tonearm_e2e::percentile(&bytes, 0.95) as f64 / 1024.0,
            tonearm_e2e::percentile(&sizes, 0.5) as f64 / 1048576.0
        );
        println!(
            "| full scan / rescan time | {:.1}× | |",
            full_s / rescan_s
        );
    });
}
