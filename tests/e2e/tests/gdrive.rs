//! The Google Drive plugin against the fake Drive v3 and OAuth servers: the conformance
//! suite, then syncs into a real SQLite library through injected faults, token expiry,
//! rotation and revocation.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::sync::Arc;
use std::time::Duration;

use tonearm_conformance::fixtures::FixtureSet;
use tonearm_e2e::cloud::{DriveCloud, SOURCE};
use tonearm_fakes::{Chaos, Endpoint, Fault};

/// Every third request fails in one of the ways Drive fails; the suite must still pass.
fn drive_chaos() -> Chaos {
    Chaos::new(
        3,
        vec![
            (Endpoint::Any, Fault::TooManyRequests(Some(0))),
            (Endpoint::Any, Fault::Unavailable(None)),
            (
                Endpoint::Any,
                Fault::RateLimitReason("userRateLimitExceeded".into()),
            ),
            (Endpoint::List, Fault::EmptyPage),
            (Endpoint::Any, Fault::Unauthorized),
            (
                Endpoint::Any,
                Fault::RateLimitReason("rateLimitExceeded".into()),
            ),
            // Garbage on listings: a 200 to a Range request is content, by definition.
            (Endpoint::List, Fault::Garbage),
            (Endpoint::Changes, Fault::Garbage),
            (Endpoint::List, Fault::IncompleteSearch),
            (Endpoint::Changes, Fault::EmptyPage),
        ],
    )
}
use tonearm_host::Received;
use tonearm_host::events::{AuthEvent, CoreEvent};
use tonearm_plugin_api::{ByteRange, PluginError};

#[test]
fn the_provider_conformance_suite_passes_over_the_fake_drive() {
    let cloud = Arc::new(DriveCloud::start());
    cloud.certify_under(drive_chaos());
    assert!(
        cloud.service.stats().faults > 20,
        "{:?}",
        cloud.service.stats()
    );
    // Small pages (page_size 7) over folders and files: the listing took several pages.
    assert!(cloud.service.stats().list_calls > 3);
}

#[test]
fn google_docs_shortcuts_and_trashed_files_are_not_listed() {
    let cloud = DriveCloud::start();
    let root = cloud.service.root_id();
    let song = cloud.service.add_file(&root, "song.mp3", b"ID3 data");
    cloud.service.add_google_doc(&root, "Liner notes");
    cloud
        .service
        .add_shortcut(&root, "song shortcut.mp3", &song);
    let gone = cloud.service.add_file(&root, "old.mp3", b"old");
    cloud.service.trash(&gone);
    // Two files with one name in one folder, as Drive allows.
    let twin = cloud.service.add_file(&root, "song.mp3", b"other data");
    let empty = cloud.service.add_file(&root, "empty.flac", b"");
    let provider = cloud.provider(&[]).unwrap();
    let entries = tonearm_conformance::provider::list_all(provider.as_ref()).unwrap();
    let mut ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
    ids.sort();
    let mut want = vec![song.as_str(), twin.as_str(), empty.as_str()];
    want.sort();
    assert_eq!(ids, want);
    let song_entry = entries.iter().find(|e| e.id == song).unwrap();
    assert_eq!(song_entry.size, 8);
    assert_eq!(song_entry.content_hash.as_ref().unwrap().algorithm, "md5");
    // An empty file reads as empty, whatever range is asked.
    assert_eq!(
        provider
            .read_range(&empty, ByteRange::Span { offset: 0, len: 64 })
            .unwrap(),
        b""
    );
    assert_eq!(
        provider
            .read_range(&song, ByteRange::Suffix { len: 4 })
            .unwrap(),
        b"data"
    );
}

#[test]
fn throttling_and_garbage_are_ridden_out() {
    let cloud = DriveCloud::start();
    for i in 0..30 {
        cloud.service.add_file_at(&format!("a/{i:02}.mp3"), b"x");
    }
    let provider = cloud.plugin_provider(&[("page_size", "10")]).unwrap();
    // The HTTP layer retries 429 and 503 (after Retry-After) and garbage is a
    // retryable failure for the sync to retry; small and empty pages are followed.
    cloud
        .service
        .inject(Endpoint::List, Fault::TooManyRequests(Some(0)));
    cloud
        .service
        .inject(Endpoint::List, Fault::Unavailable(None));
    cloud.service.inject(Endpoint::List, Fault::EmptyPage);
    cloud.service.set_page_limit(Some(4));
    let entries = tonearm_conformance::provider::list_all(provider.as_ref()).unwrap();
    assert_eq!(entries.len(), 30);
    assert_eq!(cloud.service.pending_faults(), 0);

    // Drive's 403 rate-limit reasons come back to the host as RateLimited, by reason.
    cloud.service.inject(
        Endpoint::List,
        Fault::RateLimitReason("userRateLimitExceeded".into()),
    );
    assert_eq!(
        provider.list(None).unwrap_err(),
        PluginError::RateLimited { retry_after: None }
    );
    cloud.service.inject(Endpoint::List, Fault::Garbage);
    assert!(matches!(
        provider.list(None),
        Err(PluginError::Transient(_))
    ));
    cloud
        .service
        .inject(Endpoint::List, Fault::IncompleteSearch);
    assert!(matches!(
        provider.list(None),
        Err(PluginError::Transient(_))
    ));
    // A 429 whose Retry-After is longer than the host will wait goes back to the plugin.
    cloud
        .service
        .inject(Endpoint::List, Fault::TooManyRequests(Some(3600)));
    assert_eq!(
        provider.list(None).unwrap_err(),
        PluginError::RateLimited {
            retry_after: Some(Duration::from_secs(3600))
        }
    );
}

#[test]
fn syncs_follow_every_kind_of_change_through_faults() {
    let cloud = DriveCloud::start();
    let fixtures = FixtureSet::bundled();
    let mut ids = Vec::new();
    for f in &fixtures.audio {
        ids.push(
            cloud
                .service
                .add_file_at(&format!("Music/Samples/{}", f.file), &f.bytes),
        );
    }
    cloud.service.add_file_at("Music/notes.txt", b"not music");
    cloud.runtime.block_on(async {
        let (_dir, library, syncer) = cloud.library().await;
        cloud.service.inject(
            Endpoint::Any,
            Fault::RateLimitReason("rateLimitExceeded".into()),
        );
        cloud
            .service
            .inject(Endpoint::Content, Fault::Unavailable(Some(0)));
        let counts = syncer.sync_source(SOURCE).await.unwrap();
        assert_eq!(counts.added, fixtures.audio.len() as u64);
        assert_eq!(counts.failed, 0);
        let tracks = library.tracks(100, 0).await.unwrap();
        assert!(tracks.iter().all(|t| t.path.starts_with("Music/Samples/")));
        let per_track = counts.bytes_read / counts.added;
        assert!(per_track < 256 << 10, "{per_track} bytes read per track");

        // Nothing changed: nothing is read again.
        let media_before = cloud.service.stats().media_calls;
        let counts = syncer.sync_source(SOURCE).await.unwrap();
        assert_eq!((counts.added, counts.updated, counts.removed), (0, 0, 0));
        assert_eq!(cloud.service.stats().media_calls, media_before);

        // Rename the folder the tracks are in, delete one track, trash another, move a
        // third out of the source's folder tree... all in one incremental sync.
        let samples = cloud.service.folder_at("Music/Samples");
        cloud.service.rename(&samples, "Renamed");
        cloud.service.delete(&ids[0]);
        cloud.service.trash(&ids[1]);
        let elsewhere = cloud.service.add_shared_drive("Team");
        cloud.service.move_to(&ids[2], &elsewhere);
        cloud
            .service
            .inject(Endpoint::Changes, Fault::Unavailable(None));
        let counts = syncer.sync_source(SOURCE).await.unwrap();
        assert_eq!(counts.removed, 3);
        let tracks = library.tracks(100, 0).await.unwrap();
        assert_eq!(tracks.len(), fixtures.audio.len() - 3);
        assert!(
            tracks.iter().all(|t| t.path.starts_with("Music/Renamed/")),
            "{:?}",
            tracks.iter().map(|t| &t.path).collect::<Vec<_>>()
        );
        // A rename keeps the tracks' identity: nothing was added.
        assert_eq!(counts.added, 0);
    });
}

#[test]
fn expired_tokens_are_refreshed_and_a_dead_grant_asks_for_sign_in() {
    let cloud = DriveCloud::start();
    let f = &FixtureSet::bundled().audio[0];
    cloud.service.add_file_at(&f.file, &f.bytes);
    cloud.oauth.authority().set_rotation(true);
    cloud.runtime.block_on(async {
        let (_dir, _library, syncer) = cloud.library().await;
        let mut events = cloud.bus.subscribe();
        // The access token dies early (revoked server-side): one refresh, and on.
        cloud.oauth.authority().expire_access_tokens();
        syncer.sync_source(SOURCE).await.unwrap();
        assert_eq!(cloud.oauth.authority().refreshes(), 1);
        // The rotated refresh token is on disk at once; the old one is dead.
        let stored = cloud.tokens.get(SOURCE).unwrap().unwrap();
        let live = cloud.oauth.authority().live_refresh_tokens();
        assert_eq!(live, [stored.refresh_token.unwrap().secret().clone()]);

        // The grant is revoked: the sync fails with a clear message and an event.
        cloud.oauth.authority().revoke_refresh_tokens();
        cloud.oauth.authority().expire_access_tokens();
        let err = syncer.sync_source(SOURCE).await.unwrap_err().to_string();
        assert!(err.contains("sign in again"), "{err}");
        assert!(err.contains("tonearm source signin drive"), "{err}");
        let mut saw = false;
        while let Ok(Some(event)) =
            tokio::time::timeout(Duration::from_millis(100), events.recv()).await
        {
            if let Received::Event(CoreEvent::Auth(AuthEvent::SignInRequired { source, .. })) =
                event
            {
                assert_eq!(source, SOURCE);
                saw = true;
            }
        }
        assert!(saw, "no SignInRequired event");
    });
}

#[test]
fn the_native_library_form_passes_the_suite_over_the_fake_drive() {
    let cloud = Arc::new(DriveCloud::start());
    let library = tonearm_e2e::native_library("tonearm-plugin-gdrive-dylib");
    let plugins = tonearm_loader::native::load_native(&library).unwrap();
    cloud.use_plugin(plugins.into_iter().next().unwrap());
    cloud.certify_under(drive_chaos());
}

fn component_runtime(call_timeout: Duration) -> tonearm_loader::wasm::WasmRuntime {
    tonearm_loader::wasm::WasmRuntime::new(tonearm_loader::wasm::WasmLimits {
        call_timeout,
        cache_dir: Some(tonearm_e2e::component_cache()),
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn the_component_form_passes_the_suite_and_waits_are_not_its_time() {
    let cloud = Arc::new(DriveCloud::start());
    let component = tonearm_e2e::wasm_component("tonearm-plugin-gdrive-component");
    let runtime = component_runtime(Duration::from_secs(1));
    cloud.use_plugin(runtime.load(&component).unwrap());
    cloud.certify_under(drive_chaos());

    // The server asks for a 2 s pause inside one call of a component allowed 1 s: the
    // wait is the host's, so the call completes instead of trapping.
    cloud.service.add_file_at("x/y.mp3", b"y");
    let provider = cloud.provider(&[]).unwrap();
    cloud
        .service
        .inject(Endpoint::List, Fault::TooManyRequests(Some(2)));
    let started = std::time::Instant::now();
    let entries = tonearm_conformance::provider::list_all(provider.as_ref()).unwrap();
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(entries.iter().any(|e| e.path == "x/y.mp3"));
}

#[test]
fn tokens_about_to_expire_are_refreshed_before_use() {
    let cloud = DriveCloud::start();
    // Tokens that live one minute are inside the host's two-minute margin from the start.
    cloud
        .oauth
        .authority()
        .set_access_lifetime(Duration::from_secs(60));
    cloud.sign_in_directly();
    cloud.service.add_file_at("a.mp3", b"ID3");
    let provider = cloud.provider(&[]).unwrap();
    tonearm_conformance::provider::list_all(provider.as_ref()).unwrap();
    assert!(cloud.oauth.authority().refreshes() >= 1);
    // No request was sent with a dying token.
    assert_eq!(cloud.service.stats().unauthorized, 0);
}

#[test]
fn a_failed_change_page_keeps_the_old_cursor_and_loses_nothing() {
    let cloud = DriveCloud::start();
    let f = &FixtureSet::bundled().audio[0];
    cloud
        .service
        .add_file_at(&format!("a/{}", f.file), &f.bytes);
    cloud.runtime.block_on(async {
        let (_dir, library, syncer) = cloud.library().await;
        syncer.sync_source(SOURCE).await.unwrap();
        let before = library.source(SOURCE).await.unwrap().cursor.unwrap();
        let second = &FixtureSet::bundled().audio[1];
        cloud
            .service
            .add_file_at(&format!("a/{}", second.file), &second.bytes);
        // More failures than the host retries (6 HTTP attempts × 4 calls): the sync
        // fails, the cursor stays.
        for _ in 0..30 {
            cloud
                .service
                .inject(Endpoint::Changes, Fault::Unavailable(None));
        }
        assert!(syncer.sync_source(SOURCE).await.is_err());
        let source = library.source(SOURCE).await.unwrap();
        assert_eq!(source.cursor.as_deref(), Some(before.as_str()));
        assert!(source.last_error.is_some());
        // The service recovers (the few faults left are retried away): the next sync
        // applies the change it missed.
        let counts = syncer.sync_source(SOURCE).await.unwrap();
        let tracks = library.tracks(10, 0).await.unwrap();
        assert_eq!(tracks.len(), 2, "{counts:?}");
        assert_ne!(
            library.source(SOURCE).await.unwrap().cursor.unwrap(),
            before
        );
    });
}

#[test]
fn a_shared_drive_is_listed_and_followed_on_its_own() {
    let cloud = DriveCloud::start();
    let team = cloud.service.add_shared_drive("Team");
    let folder = cloud.service.add_folder(&team, "Sessions");
    let take = cloud.service.add_file(&folder, "take 1.flac", b"fLaC take");
    cloud.service.add_file_at("mine.mp3", b"ID3 mine");
    let provider = cloud.provider(&[("drive", team.as_str())]).unwrap();
    let cursor = provider.change_cursor().unwrap();
    let entries = tonearm_conformance::provider::list_all(provider.as_ref()).unwrap();
    let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["Sessions/take 1.flac"]);
    cloud.service.rename(&take, "take 2.flac");
    cloud.service.add_file_at("mine too.mp3", b"ID3");
    let page = provider.changes(&cursor).unwrap();
    let upserts: Vec<&str> = page
        .changes
        .iter()
        .filter_map(|c| match c {
            tonearm_plugin_api::Change::Upsert { entry } => Some(entry.path.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(upserts, ["Sessions/take 2.flac"]);
}

#[test]
fn a_download_failing_through_a_sync_is_read_again_by_the_next() {
    DriveCloud::start().check_passing_failures_are_read_again(Fault::Unavailable(None));
}

#[test]
fn a_deleted_folder_takes_its_tracks_at_once() {
    DriveCloud::start().check_a_deleted_folder_takes_its_tracks_at_once();
}
