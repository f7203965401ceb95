//! Scan throughput on a library of real encoded files, against a floor and a peer in the
//! same run: a full scan, an unchanged rescan, and the bytes read per track.
//!
//! ```sh
//! scripts/setup --bench                                 # FFmpeg, Python's mutagen
//! cargo bench -p tonearm-e2e --bench scan               # 5,000 files
//! TONEARM_BENCH_FILES=20000 TONEARM_BENCH_ROUNDS=3 cargo bench -p tonearm-e2e --bench scan
//! ```
//!
//! The library (`tonearm_e2e::bench_library`) is made once under `target/bench-data/`.
//! The floor is the simplest program that does the job: one thread walks the folder, reads
//! each file with lofty and inserts a row with a prepared statement, all in one SQLite
//! transaction. The peer is what a user might write instead: the same in Python, with
//! mutagen (`scan_peer.py`). The rescan floor walks the folder and stats every file.

#![allow(clippy::unwrap_used)] // A benchmark fails loudly.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use lofty::prelude::*;
use tonearm_host::sync::{HostCapabilities, SyncOptions, Syncer};
use tonearm_host::{EventBus, Registry, SqliteStore};
use tonearm_loader::load_builtin;

/// Every file under `dir`, in directory order.
fn walk(dir: &Path, out: &mut Vec<(PathBuf, std::fs::Metadata)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        if meta.is_dir() {
            walk(&entry.path(), out);
        } else {
            out.push((entry.path(), meta));
        }
    }
}

const AUDIO: &[&str] = &["mp3", "flac", "ogg", "opus", "m4a"];

/// The floor: walk, read with lofty, insert, one thread and one transaction.
fn floor(music: &Path, db: &Path) -> (usize, f64) {
    let t = Instant::now();
    let mut conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
         CREATE TABLE tracks (path TEXT PRIMARY KEY, size INTEGER, mtime INTEGER,
           title TEXT, artist TEXT, album TEXT, track INTEGER, year INTEGER, genre TEXT,
           duration_ms INTEGER);",
    )
    .unwrap();
    let tx = conn.transaction().unwrap();
    let mut rows = 0;
    {
        let mut insert = tx
            .prepare("INSERT INTO tracks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            .unwrap();
        let mut files = Vec::new();
        walk(music, &mut files);
        for (path, meta) in files {
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if !AUDIO.contains(&ext) {
                continue;
            }
            let file = lofty::read_from_path(&path).unwrap();
            let tag = file.primary_tag().or_else(|| file.first_tag());
            let text = |f: fn(&lofty::tag::Tag) -> Option<std::borrow::Cow<'_, str>>| {
                tag.and_then(|t| f(t).map(|s| s.into_owned()))
            };
            let mtime = meta
                .modified()
                .unwrap()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64;
            insert
                .execute(rusqlite::params![
                    path.to_string_lossy(),
                    meta.len() as i64,
                    mtime,
                    text(|t| t.title()),
                    text(|t| t.artist()),
                    text(|t| t.album()),
                    tag.and_then(|t| t.track()),
                    tag.and_then(|t| t.date()).map(|d| d.year),
                    text(|t| t.genre()),
                    file.properties().duration().as_millis() as i64,
                ])
                .unwrap();
            rows += 1;
        }
    }
    tx.commit().unwrap();
    (rows, t.elapsed().as_secs_f64())
}

/// The rescan floor: walk the folder and stat every file.
fn walk_floor(music: &Path) -> (usize, f64) {
    let t = Instant::now();
    let mut files = Vec::new();
    walk(music, &mut files);
    (files.len(), t.elapsed().as_secs_f64())
}

/// The peer, `scan_peer.py`: Python with mutagen and sqlite3.
fn peer(music: &Path, db: &Path) -> Result<(usize, f64), String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/scan_peer.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(music)
        .arg(db)
        .output()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "the Python peer failed (scripts/setup --bench installs mutagen): {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    let rows = words.next().and_then(|w| w.parse().ok());
    let secs = words.next().and_then(|w| w.parse().ok());
    rows.zip(secs)
        .ok_or_else(|| format!("the Python peer printed {text:?}"))
}

/// Tonearm's times for one library: full scan, unchanged rescan (changes since the
/// cursor), unchanged rescan with a full listing; and the bytes read and file sizes.
struct TonearmRun {
    full_s: f64,
    rescan_s: f64,
    relist_s: f64,
    bytes: Vec<u64>,
    sizes: Vec<u64>,
}

async fn tonearm_run(music: &Path, db: &Path, files: usize) -> TonearmRun {
    let library = SqliteStore::open(db).await.unwrap();
    let registry = Registry::new(EventBus::default());
    for d in [
        &tonearm_plugin_local::DESCRIPTOR,
        &tonearm_plugin_symphonia::DESCRIPTOR,
        &tonearm_plugin_opus::DESCRIPTOR,
    ] {
        registry.register(load_builtin(d).unwrap()).unwrap();
    }
    let registry = Arc::new(registry);
    let mut settings = std::collections::BTreeMap::new();
    settings.insert("root".to_owned(), music.to_string_lossy().into_owned());
    library
        .add_source("bench", "local", &settings)
        .await
        .unwrap();
    let syncer = |full| {
        Syncer::new(
            library.clone(),
            registry.clone(),
            HostCapabilities::offline(),
            SyncOptions {
                full,
                ..SyncOptions::default()
            },
        )
    };

    let t = Instant::now();
    let full = syncer(false).sync_source("bench").await.unwrap();
    let full_s = t.elapsed().as_secs_f64();
    assert_eq!(full.added as usize, files, "{full:?}");
    assert_eq!(full.failed, 0, "{full:?}");

    let t = Instant::now();
    let rescan = syncer(false).sync_source("bench").await.unwrap();
    let rescan_s = t.elapsed().as_secs_f64();
    assert_eq!(rescan.scanned, 0, "{rescan:?}");

    // The same with a full listing (`tonearm sync --full`): every file compared.
    let t = Instant::now();
    let relist = syncer(true).sync_source("bench").await.unwrap();
    let relist_s = t.elapsed().as_secs_f64();
    assert_eq!(relist.scanned, 0, "{relist:?}");
    assert_eq!(relist.unchanged as usize, files, "{relist:?}");

    let bytes = library.bytes_read_per_file().await.unwrap();
    let mut sizes: Vec<u64> = sqlx::query_scalar::<_, i64>("SELECT size FROM files")
        .fetch_all(library.pool())
        .await
        .unwrap()
        .into_iter()
        .map(|v| v as u64)
        .collect();
    sizes.sort_unstable();
    library.close().await;
    TonearmRun {
        full_s,
        rescan_s,
        relist_s,
        bytes,
        sizes,
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs us with no arguments and
    // expects a quick smoke run.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let files: usize = std::env::var("TONEARM_BENCH_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if smoke { 70 } else { 5000 });
    let rounds = std::env::var("TONEARM_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if smoke { 1 } else { 5 });
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data");
    let music = tonearm_e2e::bench_library::real_library(&data, files).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    // Warm the page cache, as every measurement after the first would find it.
    let _ = floor(&music, &tempfile::tempdir().unwrap().path().join("warm.db"));
    // Rounds interleave the programs, so that a slow moment of the machine hits all.
    let (mut floors, mut walks, mut peers, mut runs) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        let scratch = tempfile::tempdir().unwrap();
        let (rows, floor_s) = floor(&music, &scratch.path().join("floor.db"));
        assert_eq!(rows, files);
        floors.push(floor_s);
        walks.push(walk_floor(&music).1);
        if !smoke {
            let (rows, peer_s) = peer(&music, &scratch.path().join("peer.db")).unwrap();
            assert_eq!(rows, files, "the peer read every file");
            peers.push(peer_s);
        }
        runs.push(runtime.block_on(tonearm_run(
            &music,
            &scratch.path().join("library.db"),
            files,
        )));
    }
    let floor_s = median(floors);
    let walk_s = median(walks);
    let full_s = median(runs.iter().map(|r| r.full_s).collect());
    let rescan_s = median(runs.iter().map(|r| r.rescan_s).collect());
    let relist_s = median(runs.iter().map(|r| r.relist_s).collect());
    let (bytes, sizes) = match runs.pop() {
        Some(run) => (run.bytes, run.sizes),
        None => return,
    };

    let rate = |s: f64| files as f64 / s;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "scan benchmark: {files} real encoded files ({:.2} GB), {cores} cores, page cache warm, median of {rounds}",
        sizes.iter().sum::<u64>() as f64 / 1e9
    );
    println!("| measure | tracks/s | ratio | target |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| floor: lofty + SQLite, one thread | {:.0} | | |",
        rate(floor_s)
    );
    if peers.is_empty() {
        println!(
            "| `tonearm` full scan | {:.0} | {:.2} × floor | ≥ 0.8 × floor |",
            rate(full_s),
            floor_s / full_s
        );
    } else {
        let peer_s = median(peers);
        println!(
            "| peer: Python mutagen + sqlite3 | {:.0} | | |",
            rate(peer_s)
        );
        println!(
            "| `tonearm` full scan | {:.0} | {:.2} × floor, {:.1} × peer | ≥ 0.8 × floor, ≥ 5 × peer |",
            rate(full_s),
            floor_s / full_s,
            peer_s / full_s
        );
    }
    println!("| rescan floor: walk and stat | {:.0} | | |", rate(walk_s));
    println!(
        "| `tonearm` unchanged rescan | {:.0} | {:.2} × walk | ≥ 0.8 × walk |",
        rate(rescan_s),
        walk_s / rescan_s
    );
    println!(
        "| `tonearm` unchanged rescan, full listing | {:.0} | {:.2} × walk | |",
        rate(relist_s),
        walk_s / relist_s
    );
    println!(
        "| bytes read per track | median {:.1} KiB, p95 {:.1} KiB | median file {:.2} MiB | not higher than before |",
        tonearm_e2e::percentile(&bytes, 0.5) as f64 / 1024.0,
        tonearm_e2e::percentile(&bytes, 0.95) as f64 / 1024.0,
        tonearm_e2e::percentile(&sizes, 0.5) as f64 / 1048576.0
    );
}
