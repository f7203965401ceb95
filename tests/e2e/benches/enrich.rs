//! Enriching a library against the fake services, at the rate MusicBrainz allows.
//!
//! ```sh
//! cargo bench -p tonearm-e2e --bench enrich                            # 1,000 tracks, ~17 min
//! TONEARM_BENCH_TRACKS=100 cargo bench -p tonearm-e2e --bench enrich   # a quicker look
//! ```
//!
//! A library of generated tracks (100 albums of 10) in a real SQLite file; a fake
//! MusicBrainz that knows every recording (and refuses clients above one request a second),
//! a fake Cover Art Archive with a cover per album and a fake LRCLIB with lyrics per track,
//! all real HTTP on 127.0.0.1. The fakes allow caching their answers for a day
//! (`Cache-Control: max-age`), as a service that allows it says. Reported in one run:
//! requests per track per service; the identification's wall time against the floor its
//! requests take at one a second (the target is at most 1.1 ×); a second run, which must
//! send no request at all (every track's answer is on record); and a run over the same
//! files in a new library (a lost library file, a second profile), whose requests are the
//! first run's again: the HTTP cache must answer them all.

#![allow(clippy::unwrap_used)] // A benchmark fails loudly.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use tonearm_fakes::coverart::FakeCoverArt;
use tonearm_fakes::lrclib::{FakeLrclib, LyricsRecord};
use tonearm_fakes::musicbrainz::{FakeMusicBrainz, Recording, ReleaseEntry};
use tonearm_host::enrich::{EnrichOptions, Kind, Outcome};
use tonearm_host::{EventBus, HostCapabilities, Registry, SqliteStore, Tonearm};
use tonearm_net::auth::TokenStore;
use tonearm_net::{HttpService, HttpSettings, Network};
use tonearm_plugin_api::{RemoteEntry, TrackTags};
use tonearm_store_sqlite::{CursorUpdate, FileWrite, ScannedTrack};

fn mbid(kind: u32, n: usize) -> String {
    format!("{kind:08x}-0000-4000-8000-{n:012x}")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let tracks: usize = std::env::var("TONEARM_BENCH_TRACKS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if smoke { 5 } else { 1000 });
    let albums = tracks.div_ceil(10);
    let (mb, caa, lrclib) = (
        FakeMusicBrainz::start().unwrap(),
        FakeCoverArt::start().unwrap(),
        FakeLrclib::start().unwrap(),
    );
    let day = Some(std::time::Duration::from_secs(86_400));
    mb.set_max_age(day);
    caa.set_max_age(day);
    lrclib.set_max_age(day);
    let dir = tempfile::tempdir().unwrap();
    let mut writes = Vec::new();
    for i in 0..tracks {
        let (album, n) = (i / 10, (i % 10) as u32 + 1);
        let (title, artist, album_title) = (
            format!("Song {i}"),
            format!("Artist {album}"),
            format!("Album {album}"),
        );
        let length_ms = 150_000 + (i as u64 % 97) * 1000;
        mb.add(Recording {
            id: mbid(1, i),
            title: title.clone(),
            artists: vec![artist.clone()],
            length_ms,
            isrcs: vec![],
            releases: vec![ReleaseEntry {
                id: mbid(2, album),
                title: album_title.clone(),
                artist: artist.clone(),
                date: "2020-01-01".into(),
                disc: 1,
                discs: 1,
                track: n,
                tracks: 10,
            }],
        });
        lrclib.add(LyricsRecord {
            track: title.clone(),
            artist: artist.clone(),
            album: album_title.clone(),
            duration_s: length_ms as f64 / 1000.0,
            plain: Some(format!("the words of song {i}")),
            synced: Some(format!("[00:01.00] the words of song {i}")),
            instrumental: false,
        });
        writes.push(FileWrite::Scanned {
            entry: RemoteEntry {
                id: format!("{i:05}.flac"),
                path: format!("{i:05}.flac"),
                size: 1,
                modified_ms: Some(1),
                content_hash: None,
                mime: None,
            },
            track: Box::new(ScannedTrack {
                tags: TrackTags {
                    title: Some(title),
                    artists: vec![artist],
                    album: Some(album_title),
                    track_number: Some(n),
                    ..TrackTags::default()
                },
                audio: tonearm_store_sqlite::AudioProperties {
                    duration_ms: Some(length_ms),
                    ..Default::default()
                },
                ..ScannedTrack::default()
            }),
            bytes_read: 1,
        });
    }
    for album in 0..albums {
        caa.add(&mbid(2, album), "image/jpeg", b"\xFF\xD8\xFF\xE0 a cover");
    }
    let store = library(&dir.path().join("library.db"), writes.clone()).await;

    let registry = Registry::new(EventBus::default());
    for d in [
        &tonearm_plugin_musicbrainz::DESCRIPTOR,
        &tonearm_plugin_coverart::DESCRIPTOR,
        &tonearm_plugin_lrclib::DESCRIPTOR,
    ] {
        registry
            .register(tonearm_loader::load_builtin(d).unwrap())
            .unwrap();
    }
    let http = Arc::new(
        HttpService::new(HttpSettings {
            cache_dir: Some(dir.path().join("http")),
            ..HttpSettings::default()
        })
        .unwrap(),
    );
    let network = Network {
        http: http.clone(),
        tokens: Arc::new(TokenStore::new(dir.path().join("tokens.json"))),
    };
    let registry = Arc::new(registry);
    let tonearm = Tonearm::new(
        registry.clone(),
        store,
        HostCapabilities::with_network(network.clone()),
    );
    let endpoint = |url: String| BTreeMap::from([("endpoint.api".to_owned(), url)]);
    let options = EnrichOptions {
        settings: BTreeMap::from([
            ("musicbrainz".to_owned(), endpoint(mb.url())),
            ("coverart".to_owned(), endpoint(caa.url())),
            ("lrclib".to_owned(), endpoint(lrclib.url())),
        ]),
        ..EnrichOptions::default()
    };

    let mut seconds = BTreeMap::new();
    let mut reports = Vec::new();
    for kind in Kind::ALL {
        let t = Instant::now();
        let report = tonearm
            .enrich(None, &[kind], options.clone(), |_| {})
            .await
            .unwrap();
        seconds.insert(kind.name(), t.elapsed().as_secs_f64());
        reports.extend(report);
    }
    for report in &reports {
        assert_eq!(report.count(Outcome::Failed), 0, "{report:?}");
        assert_eq!(
            report.count(Outcome::Written),
            tracks,
            "{} for every track",
            report.kind.name()
        );
    }
    let mb_requests = mb.counts().requests;
    assert_eq!(mb.counts().throttled, 0, "MusicBrainz said slow down");
    let before = http.stats();
    let t = Instant::now();
    let again = tonearm
        .enrich(None, &Kind::ALL, options.clone(), |_| {})
        .await
        .unwrap();
    let rerun_s = t.elapsed().as_secs_f64();
    let after = http.stats();
    let skipped: u64 = again.iter().map(|r| r.skipped).sum();
    let fresh = Tonearm::new(
        registry,
        library(&dir.path().join("fresh.db"), writes).await,
        HostCapabilities::with_network(network),
    );
    let t = Instant::now();
    let anew = fresh
        .enrich(None, &Kind::ALL, options, |_| {})
        .await
        .unwrap();
    let fresh_s = t.elapsed().as_secs_f64();
    let end = http.stats();
    for report in &anew {
        assert_eq!(report.count(Outcome::Written), tracks, "{report:?}");
    }
    let (hits, misses) = (end.cached - after.cached, end.sent - after.sent);
    let hit_rate = 100.0 * hits as f64 / (hits + misses).max(1) as f64;

    // One request a second: the floor is (requests - 1) seconds, the first goes at once.
    let floor = mb_requests.saturating_sub(1) as f64;
    let per = |n: usize| n as f64 / tracks as f64;
    println!("enrich benchmark: {tracks} tracks, {albums} albums, against fakes on 127.0.0.1");
    println!("| measure | value | target |");
    println!("| --- | --- | --- |");
    println!(
        "| MusicBrainz requests per track | {:.2} | 1 |",
        per(mb_requests)
    );
    println!(
        "| Cover Art Archive images per track | {:.2} (one per album) | |",
        per(caa.served().len())
    );
    println!(
        "| LRCLIB requests per track | {:.2} | |",
        per(lrclib.requests())
    );
    println!(
        "| identification wall time | {:.1} s, {:.3} × the 1 request/s floor ({floor:.0} s) | ≤ 1.1 × |",
        seconds["tags"],
        if floor > 0.0 {
            seconds["tags"] / floor
        } else {
            0.0
        }
    );
    println!(
        "| covers, lyrics wall time | {:.2} s, {:.2} s | |",
        seconds["artwork"], seconds["lyrics"]
    );
    println!(
        "| second run | {} requests sent, {skipped} of {} track lookups skipped, {rerun_s:.2} s | 0 requests |",
        after.sent - before.sent,
        tracks * 3
    );
    println!(
        "| the same files in a new library | {hits} answers from the HTTP cache, {misses} requests sent: {hit_rate:.1} % cache hits, {fresh_s:.2} s | 100 % |"
    );
    assert_eq!(after.sent, before.sent, "the second run sent requests");
    assert!(
        hits > 0 && misses == 0,
        "the new library's run went to the network"
    );
}

/// A library at `path` with one source holding `writes`.
async fn library(path: &std::path::Path, writes: Vec<FileWrite>) -> SqliteStore {
    let store = SqliteStore::open(path).await.unwrap();
    let source = store
        .add_source(
            "bench",
            "local",
            &BTreeMap::from([("root".to_owned(), "/nowhere".to_owned())]),
        )
        .await
        .unwrap();
    store
        .apply_batch(source.id, 0, writes, vec![], CursorUpdate::None)
        .await
        .unwrap();
    store
}
