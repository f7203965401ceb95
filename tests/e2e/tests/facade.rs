//! The facade as a native app uses it: a real SQLite file, a real folder, the builtin
//! plugins, and the events it reports.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::collections::BTreeMap;
use std::sync::Arc;

use tonearm_conformance::fixtures::FixtureSet;
use tonearm_host::events::{CoreEvent, LibraryEvent, SyncEvent};
use tonearm_host::sync::SyncError;
use tonearm_host::{
    EventBus, HostCapabilities, Received, Registry, SqliteStore, SyncRequest, Tonearm, TonearmError,
};
use tonearm_loader::load_builtin;
use tonearm_store_sqlite::StoreError;

async fn tonearm(db: &std::path::Path) -> Tonearm {
    let registry = Registry::new(EventBus::new(4096));
    for d in [
        &tonearm_plugin_local::DESCRIPTOR,
        &tonearm_plugin_symphonia::DESCRIPTOR,
    ] {
        registry.register(load_builtin(d).unwrap()).unwrap();
    }
    let library = SqliteStore::open(&db.join("library.db")).await.unwrap();
    Tonearm::new(Arc::new(registry), library, HostCapabilities::offline())
}

fn folder(root: &std::path::Path) -> BTreeMap<String, String> {
    BTreeMap::from([("root".to_owned(), root.display().to_string())])
}

#[tokio::test]
async fn a_folder_is_added_synced_searched_and_played_with_events_on_the_way() {
    let (music, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let fixtures = FixtureSet::bundled();
    for f in &fixtures.audio {
        std::fs::write(music.path().join(&f.file), &f.bytes).unwrap();
    }
    let tonearm = tonearm(db.path()).await;
    let mut events = tonearm.events();

    let source = tonearm
        .add_source("music", "local", folder(music.path()))
        .await
        .unwrap();
    assert_eq!(tonearm.sources().await.unwrap(), [source]);
    let outcomes = tonearm.sync(SyncRequest::all()).await.unwrap();
    assert_eq!(outcomes.len(), 1);
    let counts = outcomes[0].result.as_ref().unwrap();
    assert_eq!(counts.added as usize, fixtures.audio.len());

    let hits = tonearm.search("zoe", 10).await.unwrap();
    assert!(!hits.is_empty(), "accents are ignored");
    let chord = hits
        .iter()
        .find(|t| t.title.as_deref() == Some("Chord in C — Überstürzt"))
        .unwrap();
    let mut stream = tonearm.open_track(chord.id, None).await.unwrap();
    assert_eq!(stream.decoder, "symphonia");
    let mut frames = 0;
    let mut pcm = Vec::new();
    loop {
        let n = stream.session.read(&mut pcm).unwrap();
        if n == 0 {
            break;
        }
        frames += n;
    }
    assert_eq!(frames, 66_150, "the whole track, sample-exact");

    let mut seen = Vec::new();
    while let Some(Received::Event(event)) = events.try_recv() {
        seen.push(event);
    }
    assert!(matches!(
        seen.first(),
        Some(CoreEvent::Library(LibraryEvent::SourceAdded { source })) if source == "music"
    ));
    assert!(
        seen.iter()
            .any(|e| matches!(e, CoreEvent::Sync(SyncEvent::Completed { .. })))
    );

    tonearm.remove_source("music").await.unwrap();
    assert!(tonearm.tracks(10, 0).await.unwrap().is_empty());
    assert!(matches!(
        events.try_recv(),
        Some(Received::Event(CoreEvent::Library(
            LibraryEvent::SourceRemoved { .. }
        )))
    ));
}

#[tokio::test]
async fn mistakes_are_errors_callers_can_match() {
    let db = tempfile::tempdir().unwrap();
    let tonearm = tonearm(db.path()).await;
    let err = tonearm
        .add_source("x", "symphonia", BTreeMap::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TonearmError::BadSource { reason, .. } if reason.contains("not a storage provider")),
        "{err}"
    );
    assert!(matches!(
        tonearm.add_source("x", "nope", BTreeMap::new()).await,
        Err(TonearmError::Registry(_))
    ));
    assert!(matches!(
        tonearm.sync(SyncRequest::source("missing")).await,
        Err(TonearmError::Store(StoreError::NoSuchSource(name))) if name == "missing"
    ));
    assert!(matches!(
        tonearm.open_track(42, None).await,
        Err(TonearmError::Store(StoreError::NoSuchTrack(42)))
    ));

    // A folder that went away fails that source's sync, with a reason, and keeps the rest.
    let gone = tempfile::tempdir().unwrap();
    tonearm
        .add_source("gone", "local", folder(gone.path()))
        .await
        .unwrap();
    drop(gone);
    let outcomes = tonearm.sync(SyncRequest::all()).await.unwrap();
    assert!(
        matches!(
            &outcomes[0].result,
            Err(SyncError::Config { .. } | SyncError::Provider { .. })
        ),
        "{:?}",
        outcomes[0].result
    );
}
