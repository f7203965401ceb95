//! The promises every [`LibraryStore`] keeps, as checks any store can run: the SQLite store
//! natively, the IndexedDB store in a browser, a store of your own.
//!
//! ```ignore
//! tonearm_core::library::conformance::check(|| async { MyStore::open_empty().await }).await;
//! ```
//!
//! Each check gets a fresh, empty store from the factory and panics with the check's name
//! and what differed.

// A check that fails panics, like the `assert!`s around it: that is its report.
#![allow(clippy::unwrap_used)]

mod playback;
mod playlists;

use std::collections::BTreeMap;
use std::future::Future;

use tonearm_plugin_api::{ContentHash, RemoteEntry, TrackTags};

use super::{
    ArtworkRef, AudioProperties, CursorUpdate, FileWrite, LibraryStore, Retry, ScannedTrack,
    StoreError, TrackRow,
};

/// Runs every check, each on a fresh store from `fresh`.
pub async fn check<S, F, Fut>(fresh: F)
where
    S: LibraryStore,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    sources_are_named_uniquely_and_keep_their_settings(fresh().await).await;
    listings_move_the_sync_position_with_their_batches(fresh().await).await;
    known_files_report_what_was_written(fresh().await).await;
    passing_failures_are_kept_apart_and_come_due(fresh().await).await;
    tracks_are_listed_in_album_order_with_their_tags(fresh().await).await;
    rescans_replace_tags_and_orphans_go(fresh().await).await;
    search_matches_word_prefixes_ignoring_case_and_accents(fresh().await).await;
    moves_and_renames_keep_tracks_and_follow_paths(fresh().await).await;
    unreadable_files_lose_their_track_and_say_why(fresh().await).await;
    playlists::keep_order_and_lose_removed_tracks(fresh().await).await;
    playlists::are_listed_renamed_edited_and_deleted(fresh().await).await;
    playback::locations_carry_the_gain_tags(fresh().await).await;
    plugin_state_is_kept_per_source(fresh().await).await;
    removing_a_source_removes_everything_it_brought(fresh().await).await;
    stats_count_the_whole_library(fresh().await).await;
}

/// A listed file.
pub(crate) fn entry(id: &str, path: &str, size: u64) -> RemoteEntry {
    RemoteEntry {
        id: id.into(),
        path: path.into(),
        size,
        modified_ms: Some(1_700_000_000_000),
        content_hash: None,
        mime: None,
    }
}

/// Tags for a test track.
pub(crate) fn tags(title: &str, artists: &[&str], album: Option<&str>) -> TrackTags {
    TrackTags {
        title: Some(title.into()),
        artists: artists.iter().map(|a| a.to_string()).collect(),
        album: album.map(Into::into),
        ..TrackTags::default()
    }
}

/// A file whose tags were read.
pub(crate) fn scanned(entry: RemoteEntry, tags: TrackTags) -> FileWrite {
    FileWrite::Scanned {
        entry,
        track: Box::new(ScannedTrack {
            tags,
            ..ScannedTrack::default()
        }),
        bytes_read: 100,
    }
}

pub(crate) async fn add<S: LibraryStore>(store: &S, name: &str) -> i64 {
    store
        .add_source(name, "local", &BTreeMap::new())
        .await
        .unwrap_or_else(|e| panic!("add_source({name}): {e}"))
        .id
}

pub(crate) async fn write<S: LibraryStore>(store: &S, source: i64, writes: Vec<FileWrite>) {
    store
        .apply_batch(source, 0, writes, vec![], CursorUpdate::None)
        .await
        .unwrap_or_else(|e| panic!("apply_batch: {e}"));
}

pub(crate) async fn all_tracks<S: LibraryStore>(store: &S) -> Vec<TrackRow> {
    store
        .tracks(1000, 0)
        .await
        .unwrap_or_else(|e| panic!("tracks: {e}"))
}

pub(crate) async fn playlist_ids<S: LibraryStore>(store: &S, playlist: i64) -> Vec<i64> {
    store
        .playlist_tracks(playlist)
        .await
        .unwrap_or_else(|e| panic!("playlist_tracks({playlist}): {e}"))
        .iter()
        .map(|t| t.id)
        .collect()
}

async fn titles_of(rows: Vec<TrackRow>) -> Vec<String> {
    rows.into_iter().filter_map(|t| t.title).collect()
}

async fn search_titles<S: LibraryStore>(store: &S, text: &str) -> Vec<String> {
    titles_of(
        store
            .search(text, 100)
            .await
            .unwrap_or_else(|e| panic!("search({text:?}): {e}")),
    )
    .await
}

async fn sources_are_named_uniquely_and_keep_their_settings<S: LibraryStore>(store: S) {
    let settings = BTreeMap::from([("root".to_owned(), "/music/Ünïcode dir".to_owned())]);
    let b = store.add_source("b", "local", &settings).await.unwrap();
    assert_eq!(b.name, "b");
    assert_eq!(b.provider, "local");
    assert_eq!(b.settings, settings, "settings round-trip");
    assert_eq!((b.cursor, b.pending_cursor, b.generation), (None, None, 0));
    add(&store, "a").await;
    assert!(
        matches!(
            store.add_source("b", "gdrive", &BTreeMap::new()).await,
            Err(StoreError::SourceExists(name)) if name == "b"
        ),
        "a second source named `b` is refused"
    );
    let names: Vec<String> = store
        .sources()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["a", "b"], "sources are listed by name");
    assert_eq!(store.source("b").await.unwrap().settings, settings);
    assert!(matches!(
        store.source("nope").await,
        Err(StoreError::NoSuchSource(name)) if name == "nope"
    ));

    store
        .record_sync_result(b.id, Some("offline"))
        .await
        .unwrap();
    let failed = store.source("b").await.unwrap();
    assert_eq!(failed.last_error.as_deref(), Some("offline"));
    store.record_sync_result(b.id, None).await.unwrap();
    let ok = store.source("b").await.unwrap();
    assert_eq!(ok.last_error, None, "a successful sync clears the error");
    assert!(ok.last_sync_at.is_some(), "and records when it finished");
}

async fn listings_move_the_sync_position_with_their_batches<S: LibraryStore>(store: S) {
    let id = add(&store, "s").await;
    let first = store.begin_listing(id, "cursor-1").await.unwrap();
    let source = store.source("s").await.unwrap();
    assert_eq!(source.pending_cursor.as_deref(), Some("cursor-1"));
    assert_eq!(source.generation, first);
    assert_eq!(
        source.cursor, None,
        "the cursor waits for the listing to finish"
    );

    let writes = vec![
        scanned(entry("1", "a.flac", 10), tags("One", &["A"], None)),
        scanned(entry("2", "b.flac", 10), tags("Two", &["A"], None)),
    ];
    store
        .apply_batch(
            id,
            first,
            writes,
            vec![
                ("snapshot".into(), Some(b"page 1 seen".to_vec())),
                ("stale".into(), None),
            ],
            CursorUpdate::ListingPage(Some("page-2".into())),
        )
        .await
        .unwrap();
    assert_eq!(
        store.source("s").await.unwrap().pending_page.as_deref(),
        Some("page-2"),
        "the page is committed with its batch"
    );
    assert_eq!(
        store
            .load_state(id)
            .await
            .unwrap()
            .get("snapshot")
            .map(Vec::as_slice),
        Some(&b"page 1 seen"[..]),
        "and so is the provider's state"
    );
    assert_eq!(store.finish_listing(id, first).await.unwrap(), 0);
    let done = store.source("s").await.unwrap();
    assert_eq!(done.cursor.as_deref(), Some("cursor-1"));
    assert_eq!((done.pending_cursor, done.pending_page), (None, None));

    // A second listing that sees only file 1: file 2 goes when it finishes.
    let second = store.begin_listing(id, "cursor-2").await.unwrap();
    assert!(second > first, "each listing has a new generation");
    store
        .apply_batch(
            id,
            second,
            vec![FileWrite::Unchanged {
                entry: entry("1", "a.flac", 10),
            }],
            vec![("snapshot".into(), None)],
            CursorUpdate::ListingPage(None),
        )
        .await
        .unwrap();
    assert_eq!(
        all_tracks(&store).await.len(),
        2,
        "nothing goes mid-listing"
    );
    assert!(
        store.load_state(id).await.unwrap().is_empty(),
        "a deleted state key goes with its batch"
    );
    assert_eq!(store.finish_listing(id, second).await.unwrap(), 1);
    assert_eq!(titles_of(all_tracks(&store).await).await, ["One"]);
    assert_eq!(
        store.source("s").await.unwrap().cursor.as_deref(),
        Some("cursor-2")
    );

    store
        .apply_batch(
            id,
            second,
            vec![],
            vec![],
            CursorUpdate::Cursor("cursor-3".into()),
        )
        .await
        .unwrap();
    assert_eq!(
        store.source("s").await.unwrap().cursor.as_deref(),
        Some("cursor-3"),
        "an incremental page moves the cursor"
    );
    store.reset_cursor(id).await.unwrap();
    let reset = store.source("s").await.unwrap();
    assert_eq!((reset.cursor, reset.pending_cursor), (None, None));
}

async fn known_files_report_what_was_written<S: LibraryStore>(store: S) {
    let id = add(&store, "s").await;
    let other = add(&store, "t").await;
    let mut hashed = entry("1", "a.flac", 1234);
    hashed.content_hash = Some(ContentHash {
        algorithm: "md5".into(),
        value: "abc".into(),
    });
    write(
        &store,
        id,
        vec![
            scanned(hashed, tags("One", &["A"], None)),
            FileWrite::Failed {
                entry: entry("2", "b.mp3", 7),
                reason: "cannot parse".into(),
                bytes_read: 7,
                retry: None,
            },
        ],
    )
    .await;
    write(
        &store,
        other,
        vec![scanned(
            entry("3", "c.flac", 1),
            tags("Three", &["C"], None),
        )],
    )
    .await;
    let known = store.known_files(id, &["1", "2", "3", "9"]).await.unwrap();
    assert_eq!(known.len(), 2, "only this source's listed ids: {known:?}");
    let one = &known["1"];
    assert_eq!((one.path.as_str(), one.size), ("a.flac", 1234));
    assert_eq!(one.modified_ms, Some(1_700_000_000_000));
    assert_eq!(one.content_hash.as_deref(), Some("md5:abc"));
    assert!(one.ok);
    assert!(!known["2"].ok, "a file that failed is known, not ok");
    assert_eq!(known["2"].retry, None, "a failure of the file itself stays");
    assert!(store.known_files(id, &[]).await.unwrap().is_empty());
}

async fn passing_failures_are_kept_apart_and_come_due<S: LibraryStore>(store: S) {
    let id = add(&store, "s").await;
    let other = add(&store, "t").await;
    let first = Retry::after(None, 1_000);
    let second = Retry::after(Some(first), 2_000);
    let failed = |id: &str, path: &str, retry| FileWrite::Failed {
        entry: entry(id, path, 9),
        reason: "the service answered 503".into(),
        bytes_read: 0,
        retry: Some(retry),
    };
    write(
        &store,
        id,
        vec![
            failed("1", "now.mp3", first),
            failed("2", "later.mp3", second),
            scanned(entry("3", "fine.flac", 1), tags("Fine", &["A"], None)),
        ],
    )
    .await;
    write(&store, other, vec![failed("4", "elsewhere.mp3", first)]).await;

    let known = store.known_files(id, &["1", "2", "3"]).await.unwrap();
    assert_eq!(known["1"].retry, Some(first));
    assert_eq!(known["2"].retry, Some(second));
    assert_eq!(known["3"].retry, None);
    assert_eq!(store_retries(&store, id, 1_000).await, ["now.mp3"]);
    assert_eq!(
        store_retries(&store, id, second.at_ms).await,
        ["later.mp3", "now.mp3"]
    );
    let listed = store.retries_due(id, second.at_ms).await.unwrap();
    let again = listed.iter().find(|e| e.id == "1").unwrap();
    assert_eq!((again.path.as_str(), again.size), ("now.mp3", 9));

    let listed = store.failed_files(10).await.unwrap();
    let now = listed.iter().find(|f| f.path == "now.mp3").unwrap();
    assert_eq!(now.retry, Some(first), "`failed` says the failure may pass");

    // Read at last: no longer due, nor failed.
    write(
        &store,
        id,
        vec![scanned(entry("1", "now.mp3", 9), tags("Now", &["A"], None))],
    )
    .await;
    assert_eq!(store_retries(&store, id, second.at_ms).await, ["later.mp3"]);
    assert_eq!(
        store.known_files(id, &["1"]).await.unwrap()["1"].retry,
        None
    );
}

/// The paths of `source`'s files due for another read at `now_ms`, sorted.
async fn store_retries<S: LibraryStore>(store: &S, source: i64, now_ms: i64) -> Vec<String> {
    let mut paths: Vec<String> = store
        .retries_due(source, now_ms)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.path)
        .collect();
    paths.sort();
    paths
}

async fn tracks_are_listed_in_album_order_with_their_tags<S: LibraryStore>(store: S) {
    let id = add(&store, "s").await;
    let numbered = |title: &str, album: &str, disc: u32, number: u32| {
        let mut t = tags(title, &["Band", "Guest"], Some(album));
        t.disc_number = Some(disc);
        t.track_number = Some(number);
        t.year = Some(1999);
        t
    };
    let mut with_album_artist = numbered("B2", "Beta", 1, 2);
    with_album_artist.album_artists = vec!["Band".into()];
    let mut properties = ScannedTrack {
        tags: numbered("A1", "Alpha", 1, 1),
        audio: AudioProperties {
            duration_ms: Some(61_000),
            sample_rate: Some(44_100),
            channels: Some(2),
            file_type: Some("flac".into()),
            ..AudioProperties::default()
        },
        ..ScannedTrack::default()
    };
    properties.tags.album_artists = vec!["Band".into()];
    write(
        &store,
        id,
        vec![
            scanned(
                entry("4", "x/4.flac", 1),
                numbered("A2 disc 2", "Alpha", 2, 1),
            ),
            scanned(entry("3", "x/3.flac", 1), with_album_artist),
            scanned(entry("2", "x/2.flac", 1), numbered("A3", "Alpha", 1, 3)),
            FileWrite::Scanned {
                entry: entry("1", "x/1.flac", 1),
                track: Box::new(properties),
                bytes_read: 1,
            },
            scanned(entry("5", "x/5.flac", 1), numbered("B1", "Beta", 1, 1)),
        ],
    )
    .await;
    let rows = all_tracks(&store).await;
    let titles: Vec<&str> = rows.iter().filter_map(|t| t.title.as_deref()).collect();
    // By album artists ("Band" before "Band; Guest"), album, disc, number.
    assert_eq!(titles, ["A1", "B2", "A3", "A2 disc 2", "B1"]);
    let a1 = &rows[0];
    assert_eq!(a1.artists, "Band; Guest");
    assert_eq!(a1.album.as_deref(), Some("Alpha"));
    assert_eq!(a1.album_artists.as_deref(), Some("Band"));
    assert_eq!(
        (a1.disc_number, a1.track_number, a1.year),
        (Some(1), Some(1), Some(1999))
    );
    assert_eq!(a1.duration_ms, Some(61_000));
    assert_eq!((a1.sample_rate, a1.channels), (Some(44_100), Some(2)));
    assert_eq!(a1.file_type.as_deref(), Some("flac"));
    assert_eq!((a1.path.as_str(), a1.source.as_str()), ("x/1.flac", "s"));
    assert_eq!(
        rows[2].album_artists.as_deref(),
        Some("Band; Guest"),
        "without album artists an album belongs to its track artists"
    );

    let page: Vec<String> = titles_of(store.tracks(2, 1).await.unwrap()).await;
    assert_eq!(
        page,
        ["B2", "A3"],
        "limit and offset page through the order"
    );
    assert_eq!(store.track(a1.id).await.unwrap(), *a1);
    assert!(matches!(
        store.track(-5).await,
        Err(StoreError::NoSuchTrack(-5))
    ));
    let location = store.track_location(a1.id).await.unwrap();
    assert_eq!(location.source.name, "s");
    assert_eq!(
        (location.remote_id.as_str(), location.path.as_str()),
        ("1", "x/1.flac")
    );
    assert_eq!(location.size, 1);
    assert!(matches!(
        store.track_location(-5).await,
        Err(StoreError::NoSuchTrack(-5))
    ));
}

async fn rescans_replace_tags_and_orphans_go<S: LibraryStore>(store: S) {
    let id = add(&store, "s").await;
    write(
        &store,
        id,
        vec![scanned(
            entry("1", "a.flac", 1),
            tags("One", &["Alpha", "Beta"], Some("X")),
        )],
    )
    .await;
    let before = all_tracks(&store).await[0].id;
    write(
        &store,
        id,
        vec![scanned(
            entry("1", "a.flac", 2),
            tags("Uno", &["Gamma"], Some("Z")),
        )],
    )
    .await;
    store.remove_orphans().await.unwrap();
    let rows = all_tracks(&store).await;
    assert_eq!(rows.len(), 1, "a rescan replaces, never duplicates");
    assert_eq!(rows[0].id, before, "the track keeps its id");
    assert_eq!(rows[0].title.as_deref(), Some("Uno"));
    assert_eq!(rows[0].artists, "Gamma");
    assert!(
        search_titles(&store, "beta").await.is_empty(),
        "old words are gone"
    );
    assert_eq!(search_titles(&store, "uno gamma").await, ["Uno"]);
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.artists, stats.albums), (1, 1), "orphans are removed");
}

async fn search_matches_word_prefixes_ignoring_case_and_accents<S: LibraryStore>(store: S) {
    let id = add(&store, "s").await;
    let mut jazz = tags("Blue in Green", &["Miles Davis"], Some("Kind of Blue"));
    jazz.genres = vec!["Jazz".into()];
    write(
        &store,
        id,
        vec![
            scanned(
                entry("1", "Björk/Homogenic/Jóga.flac", 1),
                tags("Jóga", &["Björk"], Some("Homogenic")),
            ),
            scanned(
                entry("2", "misc/homer.mp3", 1),
                tags("Homer", &["Someone"], None),
            ),
            scanned(entry("3", "jazz/blue.flac", 1), jazz),
            scanned(
                entry("4", "x/AC-DC.mp3", 1),
                tags("Back in Black", &["AC/DC"], None),
            ),
        ],
    )
    .await;
    assert_eq!(
        search_titles(&store, "BJORK").await,
        ["Jóga"],
        "accents and case ignored"
    );
    assert_eq!(search_titles(&store, "joga").await, ["Jóga"]);
    assert_eq!(
        search_titles(&store, "hom").await,
        ["Homer", "Jóga"],
        "a title match ranks above an album match"
    );
    assert_eq!(search_titles(&store, "miles blue").await, ["Blue in Green"]);
    assert_eq!(
        search_titles(&store, "jazz").await,
        ["Blue in Green"],
        "genres are searched"
    );
    assert_eq!(
        search_titles(&store, "misc").await,
        ["Homer"],
        "paths are searched"
    );
    assert!(
        search_titles(&store, "miles homer").await.is_empty(),
        "every word must match"
    );
    assert_eq!(search_titles(&store, "ac dc").await, ["Back in Black"]);
    assert!(search_titles(&store, "  -- ").await.is_empty());
    assert!(
        search_titles(&store, "a\" OR x:*").await.is_empty(),
        "query syntax is just text"
    );
    assert_eq!(
        store.search("b", 2).await.unwrap().len(),
        2,
        "the limit holds"
    );
}

async fn moves_and_renames_keep_tracks_and_follow_paths<S: LibraryStore>(store: S) {
    let id = add(&store, "s").await;
    write(
        &store,
        id,
        vec![
            scanned(entry("1", "old/one.flac", 1), tags("One", &["A"], None)),
            scanned(entry("2", "two.flac", 1), tags("Two", &["A"], None)),
        ],
    )
    .await;
    let one = all_tracks(&store).await[0].id;
    write(
        &store,
        id,
        vec![
            FileWrite::Unchanged {
                entry: entry("1", "renamed/one.flac", 1),
            },
            FileWrite::Moved {
                from_id: "2".into(),
                entry: entry("2b", "moved/two.flac", 1),
            },
        ],
    )
    .await;
    let rows = all_tracks(&store).await;
    let paths: Vec<&str> = rows.iter().map(|t| t.path.as_str()).collect();
    assert!(
        paths.contains(&"renamed/one.flac") && paths.contains(&"moved/two.flac"),
        "{paths:?}"
    );
    assert!(
        rows.iter().any(|t| t.id == one),
        "a renamed file keeps its track"
    );
    assert_eq!(
        search_titles(&store, "renamed").await,
        ["One"],
        "search follows the path"
    );
    assert!(search_titles(&store, "old").await.is_empty());
    let known = store.known_files(id, &["2", "2b"]).await.unwrap();
    assert_eq!(
        known.keys().collect::<Vec<_>>(),
        ["2b"],
        "a move takes the new id"
    );

    // Replaying the same move (a resumed page) changes nothing.
    write(
        &store,
        id,
        vec![FileWrite::Moved {
            from_id: "2".into(),
            entry: entry("2b", "moved/two.flac", 1),
        }],
    )
    .await;
    assert_eq!(all_tracks(&store).await.len(), 2);
    store
        .apply_batch(
            id,
            0,
            vec![FileWrite::Removed {
                remote_id: "2b".into(),
            }],
            vec![],
            CursorUpdate::None,
        )
        .await
        .unwrap();
    assert_eq!(titles_of(all_tracks(&store).await).await, ["One"]);
}

async fn unreadable_files_lose_their_track_and_say_why<S: LibraryStore>(store: S) {
    let id = add(&store, "s").await;
    write(
        &store,
        id,
        vec![scanned(entry("1", "a.flac", 1), tags("One", &["A"], None))],
    )
    .await;
    write(
        &store,
        id,
        vec![FileWrite::Failed {
            entry: entry("1", "a.flac", 2),
            reason: "cannot parse Flac file".into(),
            bytes_read: 2,
            retry: None,
        }],
    )
    .await;
    assert!(all_tracks(&store).await.is_empty());
    assert!(search_titles(&store, "one").await.is_empty());
    let failed = store.failed_files(10).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (failed[0].source.as_str(), failed[0].path.as_str()),
        ("s", "a.flac")
    );
    assert_eq!(failed[0].reason, "cannot parse Flac file");
    assert!(!failed[0].playable, "an unreadable file has no track");

    // A file whose stream was read but not its tags keeps its track, and is listed.
    write(
        &store,
        id,
        vec![FileWrite::Scanned {
            entry: entry("2", "b.mp3", 3),
            track: Box::new(ScannedTrack {
                tags: tags("Two", &["B"], None),
                tag_problem: Some("a malformed ID3v2 frame".into()),
                ..ScannedTrack::default()
            }),
            bytes_read: 3,
        }],
    )
    .await;
    assert_eq!(titles_of(all_tracks(&store).await).await, ["Two"]);
    let failed = store.failed_files(10).await.unwrap();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert_eq!(
        (
            failed[1].path.as_str(),
            failed[1].reason.as_str(),
            failed[1].playable
        ),
        ("b.mp3", "a malformed ID3v2 frame", true)
    );
    // A rescan that reads the tags clears the problem.
    write(
        &store,
        id,
        vec![scanned(entry("2", "b.mp3", 4), tags("Two", &["B"], None))],
    )
    .await;
    assert_eq!(store.failed_files(10).await.unwrap().len(), 1);
}

async fn plugin_state_is_kept_per_source<S: LibraryStore>(store: S) {
    let a = add(&store, "a").await;
    let b = add(&store, "b").await;
    assert!(store.load_state(a).await.unwrap().is_empty());
    store
        .save_state(
            a,
            &[
                ("snapshot".into(), Some(vec![0, 1, 2, 255])),
                ("gone".into(), Some(vec![9])),
            ],
        )
        .await
        .unwrap();
    store
        .save_state(b, &[("snapshot".into(), Some(vec![7]))])
        .await
        .unwrap();
    store
        .save_state(
            a,
            &[("gone".into(), None), ("snapshot".into(), Some(vec![3, 4]))],
        )
        .await
        .unwrap();
    assert_eq!(
        store.load_state(a).await.unwrap(),
        BTreeMap::from([("snapshot".to_owned(), vec![3, 4])])
    );
    assert_eq!(
        store.load_state(b).await.unwrap(),
        BTreeMap::from([("snapshot".to_owned(), vec![7])]),
        "each source has its own state"
    );
}

async fn removing_a_source_removes_everything_it_brought<S: LibraryStore>(store: S) {
    let a = add(&store, "a").await;
    let b = add(&store, "b").await;
    let mut art = ScannedTrack {
        tags: tags("One", &["Solo"], Some("Only Here")),
        ..ScannedTrack::default()
    };
    art.tags.genres = vec!["Noise".into()];
    art.artwork = Some(ArtworkRef {
        sha256: "ab".repeat(32),
        mime: Some("image/png".into()),
        byte_len: 10,
        bytes: None,
    });
    write(
        &store,
        a,
        vec![FileWrite::Scanned {
            entry: entry("1", "1.flac", 1),
            track: Box::new(art),
            bytes_read: 1,
        }],
    )
    .await;
    write(
        &store,
        b,
        vec![scanned(
            entry("1", "1.flac", 1),
            tags("Kept", &["Other"], Some("Elsewhere")),
        )],
    )
    .await;
    store
        .save_state(a, &[("k".into(), Some(vec![1]))])
        .await
        .unwrap();
    store.remove_source("a").await.unwrap();
    assert_eq!(titles_of(all_tracks(&store).await).await, ["Kept"]);
    let stats = store.stats().await.unwrap();
    assert_eq!(
        (
            stats.sources,
            stats.tracks,
            stats.albums,
            stats.artists,
            stats.genres,
            stats.artwork
        ),
        (1, 1, 1, 1, 0, 0),
        "its albums, artists, genres and artwork went with it"
    );
    assert!(search_titles(&store, "one").await.is_empty());
    assert!(matches!(
        store.remove_source("a").await,
        Err(StoreError::NoSuchSource(_))
    ));
    // A new source of the same name starts empty.
    let again = add(&store, "a").await;
    assert!(store.load_state(again).await.unwrap().is_empty());
}

async fn stats_count_the_whole_library<S: LibraryStore>(store: S) {
    assert_eq!(store.stats().await.unwrap(), Default::default(), "empty");
    let id = add(&store, "s").await;
    let timed = |title: &str, artists: &[&str], album: &str, genre: &str, ms: u64, art: &str| {
        FileWrite::Scanned {
            entry: entry(title, &format!("{title}.flac"), 1000),
            track: Box::new(ScannedTrack {
                tags: TrackTags {
                    genres: vec![genre.into()],
                    ..tags(title, artists, Some(album))
                },
                audio: AudioProperties {
                    duration_ms: Some(ms),
                    ..AudioProperties::default()
                },
                artwork: Some(ArtworkRef {
                    sha256: art.repeat(64),
                    mime: None,
                    byte_len: 5,
                    bytes: None,
                }),
                ..ScannedTrack::default()
            }),
            bytes_read: 10,
        }
    };
    write(
        &store,
        id,
        vec![
            timed("one", &["A", "B"], "X", "Jazz", 1000, "a"),
            timed("two", &["B"], "X", "Jazz", 2000, "a"),
            timed("three", &["C"], "Y", "Rock", 500, "b"),
            FileWrite::Failed {
                entry: entry("bad", "bad.mp3", 50),
                reason: "truncated".into(),
                bytes_read: 50,
                retry: None,
            },
        ],
    )
    .await;
    let stats = store.stats().await.unwrap();
    assert_eq!(stats.sources, 1);
    assert_eq!(stats.tracks, 3);
    // Albums are (title, album artists): "X" by "A; B" and by "B" are two albums.
    assert_eq!(stats.albums, 3);
    assert_eq!(stats.artists, 3);
    assert_eq!(stats.genres, 2);
    assert_eq!(stats.failed_files, 1);
    assert_eq!(stats.total_duration_ms, 3500);
    assert_eq!(stats.total_bytes, 3000, "bytes of files with a track");
    assert_eq!(stats.artwork, 2, "distinct images");
}
