//! A decoder makes its format first-class: files the host's tag reader does not know, or
//! whose tags it cannot parse, are described by the decoder that claims them, and their
//! tracks reach the library.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::collections::BTreeMap;
use std::sync::Arc;

use tonearm_conformance::fixtures::FixtureSet;
use tonearm_host::{EventBus, HostCapabilities, Registry, SqliteStore, SyncRequest, Tonearm};
use tonearm_loader::load_builtin;
use tonearm_plugin_api::PluginDescriptor;

async fn tonearm(db: &std::path::Path, decoders: &[&PluginDescriptor]) -> Tonearm {
    let registry = Registry::new(EventBus::new(4096));
    registry
        .register(load_builtin(&tonearm_plugin_local::DESCRIPTOR).unwrap())
        .unwrap();
    for d in decoders {
        registry.register(load_builtin(d).unwrap()).unwrap();
    }
    let library = SqliteStore::open(&db.join("library.db")).await.unwrap();
    Tonearm::new(Arc::new(registry), library, HostCapabilities::offline())
}

/// A Sun AU file: `frames` of a 16-bit stereo sine at 8 kHz, with an annotation.
fn au(frames: u32, annotation: &str) -> Vec<u8> {
    let mut text = annotation.as_bytes().to_vec();
    text.resize((text.len() + 8) / 8 * 8, 0);
    let offset = 24 + text.len() as u32;
    let mut file = b".snd".to_vec();
    for word in [offset, frames * 4, 3, 8000, 2] {
        file.extend_from_slice(&word.to_be_bytes());
    }
    file.extend_from_slice(&text);
    for i in 0..frames {
        let s = ((f64::from(i) * 0.05).sin() * 12_000.0) as i16;
        file.extend_from_slice(&s.to_be_bytes());
        file.extend_from_slice(&(-s).to_be_bytes());
    }
    file
}

async fn scan(tonearm: &Tonearm, folder: &std::path::Path) {
    let settings = BTreeMap::from([("root".to_owned(), folder.display().to_string())]);
    tonearm
        .add_source("music", "local", settings)
        .await
        .unwrap();
    for outcome in tonearm.sync(SyncRequest::all()).await.unwrap() {
        outcome.result.unwrap();
    }
}

#[tokio::test]
async fn files_of_a_format_only_a_plugin_knows_become_tracks_with_its_tags() {
    let music = tempfile::tempdir().unwrap();
    for (n, title) in [(1, "First light"), (2, "Second wind"), (3, "Third rail")] {
        let bytes = au(
            4000 * n,
            &format!("title={title}\nartist=AU Ensemble\ntrack={n}"),
        );
        std::fs::write(music.path().join(format!("{n}.au")), bytes).unwrap();
    }

    // Without a decoder that claims the extension, the files are not taken for audio.
    let db = tempfile::tempdir().unwrap();
    let without = tonearm(db.path(), &[&tonearm_plugin_symphonia::DESCRIPTOR]).await;
    scan(&without, music.path()).await;
    assert!(without.tracks(10, 0).await.unwrap().is_empty());

    // With one, every file is a track: duration and stream from the decoder, tags too.
    let db = tempfile::tempdir().unwrap();
    let decoders = [
        &tonearm_plugin_symphonia::DESCRIPTOR,
        &tonearm_test_plugins::SUN_AU_DECODER,
    ];
    let with = tonearm(db.path(), &decoders).await;
    scan(&with, music.path()).await;
    let tracks = with.tracks(10, 0).await.unwrap();
    let summary: Vec<_> = tracks
        .iter()
        .map(|t| (t.title.clone().unwrap(), t.duration_ms, t.file_type.clone()))
        .collect();
    assert_eq!(
        summary,
        [
            ("First light".to_owned(), Some(500), Some("au".to_owned())),
            ("Second wind".to_owned(), Some(1000), Some("au".to_owned())),
            ("Third rail".to_owned(), Some(1500), Some("au".to_owned())),
        ]
    );
    assert!(tracks.iter().all(|t| t.artists == "AU Ensemble"));
    assert!(with.failed_files(10).await.unwrap().is_empty());
    assert_eq!(with.search("wind", 5).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_playable_file_with_a_damaged_tag_keeps_its_track_and_the_tags_that_parse() {
    let music = tempfile::tempdir().unwrap();
    let fixtures = FixtureSet::bundled();
    let pluck = fixtures
        .audio
        .iter()
        .find(|f| f.file == "02 pluck.mp3")
        .unwrap();
    // One ID3v2 frame with an invalid text encoding; the rest of the tag is sound.
    let mut bytes = pluck.bytes.to_vec();
    let title = bytes.windows(4).position(|w| w == b"TIT2").unwrap();
    bytes[title + 10] = 9;
    std::fs::write(music.path().join("damaged title.mp3"), bytes).unwrap();

    let db = tempfile::tempdir().unwrap();
    let tonearm = tonearm(db.path(), &[&tonearm_plugin_symphonia::DESCRIPTOR]).await;
    scan(&tonearm, music.path()).await;
    let tracks = tonearm.tracks(10, 0).await.unwrap();
    assert_eq!(tracks.len(), 1, "the track is kept");
    let track = &tracks[0];
    assert_eq!(
        track.title.as_deref(),
        Some("damaged title"),
        "named after its file"
    );
    assert_eq!(
        track.artists, "Ånström Quartet; 坂本龍一",
        "the other frames are kept"
    );
    assert_eq!(track.album.as_deref(), Some("Tonearm Samples"));
    assert!(track.duration_ms.is_some_and(|d| d.abs_diff(1500) < 60));

    let failed = tonearm.failed_files(10).await.unwrap();
    assert_eq!(failed.len(), 1, "and the tag problem is recorded");
    assert!(failed[0].playable && failed[0].path == "damaged title.mp3");
    assert!(failed[0].reason.contains("tags"), "{}", failed[0].reason);

    // The track plays.
    let mut stream = tonearm.open_track(track.id, None).await.unwrap();
    let mut pcm = Vec::new();
    assert!(stream.session.read(&mut pcm).unwrap() > 0);
}
