//! The promises every [`EnrichStore`] keeps, as checks any library can run: the SQLite
//! store natively, the IndexedDB store in a browser, a store of your own.
//!
//! ```ignore
//! tonearm_core::enrich::conformance::check(|| async { MyStore::open_empty().await }).await;
//! ```
//!
//! Each check gets a fresh, empty store from the factory and panics with what differed.

// A check that fails panics, like the `assert!`s around it: that is its report.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::sync::Arc;

use super::{
    EnrichStore, Field, FieldChange, Image, Kind, Outcome, Provenance, StoredLyrics, Value,
    image_hash,
};
use crate::library::conformance::{add, all_tracks, entry, scanned, tags, write};
use crate::library::{ArtworkRef, FileWrite, LibraryStore, ScannedTrack};

/// Runs every check, each on a fresh store from `fresh`.
pub async fn check<S, F, Fut>(fresh: F)
where
    S: LibraryStore + EnrichStore,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    written_fields_carry_provenance_survive_a_rescan_and_yield_to_edits(fresh().await).await;
    answers_are_remembered_until_the_file_changes_and_failures_are_not(fresh().await).await;
    covers_are_kept_once_and_found_by_track_and_by_album(fresh().await).await;
    lyrics_are_kept_and_go_with_their_track(fresh().await).await;
    each_metadata_source_keeps_its_own_state(fresh().await).await;
}

/// A metadata source's state is its own, outlives the run that wrote it, and takes
/// changes and removals atomically.
async fn each_metadata_source_keeps_its_own_state<S: EnrichStore>(store: S) {
    assert!(store.metadata_state("mb").await.unwrap().is_empty());
    let changes = [
        ("session".to_owned(), Some(b"one".to_vec())),
        ("seen/1".to_owned(), Some(vec![0, 255])),
    ];
    store.save_metadata_state("mb", &changes).await.unwrap();
    store
        .save_metadata_state("other", &[("session".into(), Some(b"two".to_vec()))])
        .await
        .unwrap();
    let changes = [
        ("session".to_owned(), Some(b"three".to_vec())),
        ("seen/1".to_owned(), None),
        ("never".to_owned(), None),
    ];
    store.save_metadata_state("mb", &changes).await.unwrap();
    let mb = store.metadata_state("mb").await.unwrap();
    assert_eq!(
        mb.into_iter().collect::<Vec<_>>(),
        [("session".to_owned(), b"three".to_vec())],
        "a source's state after a change and a removal"
    );
    let other = store.metadata_state("other").await.unwrap();
    assert_eq!(
        other.get("session").map(Vec::as_slice),
        Some(&b"two"[..]),
        "one source's state changed another's"
    );
}

fn from(plugin: &str) -> Provenance {
    Provenance {
        plugin: plugin.into(),
        score: 0.97,
        // Now: a store may compare it with when the file was scanned.
        at_ms: crate::sync::now_ms(),
    }
}

fn change(field: Field, new: Value) -> FieldChange {
    FieldChange {
        field,
        old: None,
        new,
    }
}

/// A PNG's first bytes: enough for a store, which keeps whatever it is given.
fn png(seed: u8) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend([seed; 32]);
    bytes
}

async fn track_id<S: LibraryStore>(store: &S, title: &str) -> i64 {
    all_tracks(store)
        .await
        .into_iter()
        .find(|t| t.title.as_deref() == Some(title))
        .unwrap_or_else(|| panic!("no track titled {title}"))
        .id
}

async fn targets<S: EnrichStore>(store: &S, kind: Kind) -> Vec<super::Target> {
    store
        .enrich_targets(None, kind)
        .await
        .unwrap_or_else(|e| panic!("enrich_targets: {e}"))
}

async fn written_fields_carry_provenance_survive_a_rescan_and_yield_to_edits<S>(store: S)
where
    S: LibraryStore + EnrichStore,
{
    let source = add(&store, "s").await;
    write(
        &store,
        source,
        vec![scanned(
            entry("1", "a.flac", 1),
            tags("one", &["Alpha"], None),
        )],
    )
    .await;
    let id = track_id(&store, "one").await;
    let changes = vec![
        change(Field::Title, Value::Text("One".into())),
        change(Field::Album, Value::Text("First".into())),
        change(Field::Year, Value::Number(1999)),
    ];
    store.write_tags(id, changes, from("mb")).await.unwrap();
    let row = store.track(id).await.unwrap();
    assert_eq!(
        row.title.as_deref(),
        Some("One"),
        "written values are the tags"
    );
    assert_eq!(row.album.as_deref(), Some("First"));
    assert_eq!(row.year, Some(1999));
    assert_eq!(
        store.search("first", 10).await.unwrap().len(),
        1,
        "and are searched"
    );
    let provenance = store.provenance(id).await.unwrap();
    assert_eq!(provenance.len(), 3, "{provenance:?}");
    assert!(
        provenance
            .iter()
            .all(|p| p.source == "mb" && p.score == Some(0.97)),
        "{provenance:?}"
    );

    store
        .edit_tags(id, vec![(Field::Title, Value::Text("Mine".into()))])
        .await
        .unwrap();
    let again = vec![change(Field::Title, Value::Text("Other".into()))];
    store.write_tags(id, again, from("mb")).await.unwrap();
    assert_eq!(
        store.track(id).await.unwrap().title.as_deref(),
        Some("Mine"),
        "a source never writes over an edit"
    );
    let title = store.provenance(id).await.unwrap();
    let title = title.iter().find(|p| p.field == Field::Title).unwrap();
    assert_eq!((title.source.as_str(), title.score), ("user", None));
    let target = targets(&store, Kind::Tags).await.remove(0);
    assert_eq!(target.locked, [Field::Title], "edits are locked");

    // The file changes: its new tags, with what was written over them.
    write(
        &store,
        source,
        vec![scanned(
            entry("1", "a.flac", 2),
            tags("uno", &["Beta"], None),
        )],
    )
    .await;
    let row = store.track(id).await.unwrap();
    assert_eq!(row.title.as_deref(), Some("Mine"), "edits survive a rescan");
    assert_eq!(row.album.as_deref(), Some("First"), "written fields too");
    assert_eq!(
        row.artists, "Beta",
        "fields nobody wrote come from the file"
    );
    assert!(
        store.write_tags(999_999, vec![], from("mb")).await.is_err(),
        "an unknown track is an error"
    );
}

async fn answers_are_remembered_until_the_file_changes_and_failures_are_not<S>(store: S)
where
    S: LibraryStore + EnrichStore,
{
    let source = add(&store, "s").await;
    let files = vec![
        scanned(entry("1", "a.flac", 1), tags("a", &["X"], None)),
        scanned(entry("2", "b.flac", 1), tags("b", &["X"], None)),
    ];
    write(&store, source, files).await;
    let (a, b) = (track_id(&store, "a").await, track_id(&store, "b").await);
    let outcome = |id, plugin: &'static str, outcome| {
        store.record_outcome(id, Kind::Tags, plugin, outcome, None)
    };
    outcome(a, "mb", Outcome::NoMatch).await.unwrap();
    outcome(a, "other", Outcome::Failed).await.unwrap();
    outcome(b, "mb", Outcome::Unchanged).await.unwrap();
    let done = |targets: &[super::Target], id| {
        let mut done = targets
            .iter()
            .find(|t| t.track_id == id)
            .unwrap()
            .done
            .clone();
        done.sort();
        done
    };
    let now = targets(&store, Kind::Tags).await;
    assert_eq!(now.len(), 2);
    assert_eq!(done(&now, a), ["mb"], "a failure is asked again");
    assert_eq!(done(&now, b), ["mb"]);
    assert!(
        done(&targets(&store, Kind::Lyrics).await, a).is_empty(),
        "answers are per kind"
    );
    write(
        &store,
        source,
        vec![scanned(entry("1", "a.flac", 5), tags("a2", &["X"], None))],
    )
    .await;
    let now = targets(&store, Kind::Tags).await;
    assert!(
        done(&now, a).is_empty(),
        "a changed file is asked about again"
    );
    assert_eq!(done(&now, b), ["mb"], "an unchanged one is not");
}

async fn covers_are_kept_once_and_found_by_track_and_by_album<S>(store: S)
where
    S: LibraryStore + EnrichStore,
{
    let source = add(&store, "s").await;
    let embedded = png(1);
    let with_cover = |id: &str, path: &str, title: &str| {
        let mut write = scanned(entry(id, path, 1), tags(title, &["Band"], Some("LP")));
        if let FileWrite::Scanned { track, .. } = &mut write {
            **track = ScannedTrack {
                artwork: Some(ArtworkRef {
                    sha256: image_hash(&embedded),
                    mime: Some("image/png".into()),
                    byte_len: embedded.len() as u64,
                    bytes: Some(Arc::from(embedded.as_slice())),
                }),
                ..(**track).clone()
            };
        }
        write
    };
    write(
        &store,
        source,
        vec![
            with_cover("1", "lp/1.flac", "one"),
            with_cover("2", "lp/2.flac", "two"),
            scanned(
                entry("3", "lp/3.flac", 1),
                tags("three", &["Band"], Some("LP")),
            ),
            scanned(entry("4", "single.flac", 1), tags("four", &["Solo"], None)),
        ],
    )
    .await;
    let (one, three, four) = (
        track_id(&store, "one").await,
        track_id(&store, "three").await,
        track_id(&store, "four").await,
    );
    let cover = store
        .track_artwork(one)
        .await
        .unwrap()
        .expect("embedded cover");
    assert_eq!(
        (cover.bytes, cover.mime.as_str()),
        (embedded.clone(), "image/png")
    );
    assert!(store.track_artwork(three).await.unwrap().is_none());
    let album = store
        .album_artwork(three)
        .await
        .unwrap()
        .expect("the album's");
    assert_eq!(
        album.sha256,
        image_hash(&embedded),
        "most of the album has it"
    );
    let have = |targets: Vec<super::Target>, id| {
        targets
            .iter()
            .find(|t| t.track_id == id)
            .unwrap()
            .has_artwork
    };
    assert!(have(targets(&store, Kind::Artwork).await, one));
    assert!(!have(targets(&store, Kind::Artwork).await, three));

    let fetched = png(2);
    let image = Image {
        sha256: image_hash(&fetched),
        mime: "image/png".into(),
        bytes: fetched.clone(),
    };
    store
        .write_artwork(vec![three, four], image, from("caa"))
        .await
        .unwrap();
    assert_eq!(
        store.track_artwork(four).await.unwrap().unwrap().bytes,
        fetched,
        "a track without an album has its own cover"
    );
    assert_eq!(
        store.album_artwork(three).await.unwrap().unwrap().sha256,
        image_hash(&embedded),
        "two of three tracks still have the embedded one"
    );
    let done = targets(&store, Kind::Artwork).await;
    let three_done = &done.iter().find(|t| t.track_id == three).unwrap().done;
    assert_eq!(three_done, &["caa"], "the source's answer is recorded");
    // A rescan of a file that embeds nothing keeps the fetched cover.
    write(
        &store,
        source,
        vec![scanned(
            entry("4", "single.flac", 2),
            tags("four", &["Solo"], None),
        )],
    )
    .await;
    store.remove_orphans().await.unwrap();
    assert_eq!(
        store.track_artwork(four).await.unwrap().unwrap().bytes,
        fetched,
        "a fetched cover survives a rescan"
    );
}

async fn lyrics_are_kept_and_go_with_their_track<S>(store: S)
where
    S: LibraryStore + EnrichStore,
{
    let source = add(&store, "s").await;
    write(
        &store,
        source,
        vec![scanned(entry("1", "a.flac", 1), tags("a", &["X"], None))],
    )
    .await;
    let id = track_id(&store, "a").await;
    assert!(store.lyrics(id).await.unwrap().is_none());
    let lyrics = StoredLyrics {
        plain: Some("la la".into()),
        synced_lrc: Some("[00:01.00] la la".into()),
        instrumental: false,
        source: "lrclib".into(),
    };
    store
        .write_lyrics(id, lyrics.clone(), from("lrclib"))
        .await
        .unwrap();
    assert_eq!(store.lyrics(id).await.unwrap(), Some(lyrics));
    let target = targets(&store, Kind::Lyrics).await.remove(0);
    assert!(target.has_lyrics && target.done == ["lrclib"], "{target:?}");
    write(
        &store,
        source,
        vec![FileWrite::Removed {
            remote_id: "1".into(),
        }],
    )
    .await;
    store.remove_orphans().await.unwrap();
    assert!(
        store.lyrics(id).await.unwrap().is_none(),
        "a removed track's lyrics go with it"
    );
}
