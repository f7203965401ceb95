//! The OneDrive plugin against the fake Microsoft Graph and OAuth servers: the conformance
//! suite in every form, then Graph's own ways: repeated and nameless deleted items in a
//! delta feed, 410 Gone, and pre-authenticated download URLs that expire and must not
//! see the token.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::sync::Arc;

use tonearm_conformance::fixtures::FixtureSet;
use tonearm_e2e::cloud::{GraphCloud, SOURCE};
use tonearm_fakes::{Chaos, Endpoint, Fault};

/// Every third request fails in one of the ways Graph fails; the suite must still pass.
fn graph_chaos() -> Chaos {
    Chaos::new(
        3,
        vec![
            (Endpoint::Any, Fault::TooManyRequests(Some(0))),
            (Endpoint::Any, Fault::Unavailable(Some(0))),
            (Endpoint::List, Fault::EmptyPage),
            (Endpoint::Any, Fault::Unauthorized),
            // Garbage on listings: a 200 to a Range request is content, by definition.
            (Endpoint::List, Fault::Garbage),
            (Endpoint::Changes, Fault::Garbage),
            (Endpoint::Changes, Fault::EmptyPage),
        ],
    )
}
use tonearm_plugin_api::{ByteRange, Change};

#[test]
fn the_provider_conformance_suite_passes_over_the_fake_graph() {
    let cloud = Arc::new(GraphCloud::start());
    cloud.certify_under(graph_chaos());
    // Reads never sent the token to the download origin.
    assert_eq!(cloud.service.stats().leaked_authorization, 0);
    assert!(cloud.service.stats().downloads > 0);
}

#[test]
fn the_native_library_form_passes_the_suite_over_the_fake_graph() {
    let cloud = Arc::new(GraphCloud::start());
    let library = tonearm_e2e::native_library("tonearm-plugin-onedrive-dylib");
    let plugins = tonearm_loader::native::load_native(&library).unwrap();
    cloud.use_plugin(plugins.into_iter().next().unwrap());
    cloud.certify_under(graph_chaos());
}

#[test]
fn the_component_form_passes_the_suite_over_the_fake_graph() {
    let cloud = Arc::new(GraphCloud::start());
    let component = tonearm_e2e::wasm_component("tonearm-plugin-onedrive-component");
    let runtime = tonearm_loader::wasm::WasmRuntime::new(tonearm_loader::wasm::WasmLimits {
        cache_dir: Some(tonearm_e2e::component_cache()),
        ..Default::default()
    })
    .unwrap();
    cloud.use_plugin(runtime.load(&component).unwrap());
    cloud.certify_under(graph_chaos());
    assert_eq!(cloud.service.stats().leaked_authorization, 0);
}

#[test]
fn delta_feeds_repeat_items_and_the_last_occurrence_wins() {
    let cloud = GraphCloud::start();
    let id = cloud.service.add_file_at("a/song.mp3", b"one");
    let provider = cloud.provider(&[]).unwrap();
    let cursor = provider.change_cursor().unwrap();
    tonearm_conformance::provider::list_all(provider.as_ref()).unwrap();
    cloud.service.rename(&id, "first.mp3");
    cloud.service.rename(&id, "second.mp3");
    let gone = cloud.service.add_file_at("a/gone.mp3", b"x");
    cloud.service.delete(&gone);
    let page = provider.changes(&cursor).unwrap();
    let upserts: Vec<&str> = page
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::Upsert { entry } if entry.id == id => Some(entry.path.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(upserts, ["a/second.mp3"]);
    assert!(
        page.changes
            .iter()
            .any(|c| matches!(c, Change::Removed { id } if *id == gone))
    );
}

#[test]
fn expired_download_urls_are_replaced_and_never_get_the_token() {
    let cloud = GraphCloud::start();
    let id = cloud.service.add_file_at("f.flac", b"0123456789");
    let provider = cloud.provider(&[]).unwrap();
    tonearm_conformance::provider::list_all(provider.as_ref()).unwrap();
    let span = ByteRange::Span { offset: 2, len: 3 };
    assert_eq!(provider.read_range(&id, span).unwrap(), b"234");
    cloud.service.expire_download_urls();
    assert_eq!(
        provider
            .read_range(&id, ByteRange::Suffix { len: 2 })
            .unwrap(),
        b"89"
    );
    let stats = cloud.service.stats();
    assert_eq!(stats.expired_urls, 1);
    assert!(stats.redirects >= 1);
    assert_eq!(stats.leaked_authorization, 0);
    // Throttled content requests are waited out by the host (Retry-After).
    cloud.service.expire_download_urls();
    cloud
        .service
        .inject(Endpoint::Content, Fault::TooManyRequests(Some(0)));
    assert_eq!(provider.read_range(&id, span).unwrap(), b"234");
}

#[test]
fn a_gone_delta_token_means_a_full_resync_that_loses_nothing() {
    let cloud = GraphCloud::start();
    let fixtures = FixtureSet::bundled();
    let mut ids = Vec::new();
    for f in &fixtures.audio {
        ids.push(
            cloud
                .service
                .add_file_at(&format!("Music/{}", f.file), &f.bytes),
        );
    }
    cloud.runtime.block_on(async {
        let (_dir, library, syncer) = cloud.library().await;
        cloud
            .service
            .inject(Endpoint::List, Fault::Unavailable(Some(0)));
        let counts = syncer.sync_source(SOURCE).await.unwrap();
        assert_eq!(counts.added, fixtures.audio.len() as u64);
        let before = library.tracks(100, 0).await.unwrap();

        // Rename the folder (Graph reports only the folder), delete one file, then let
        // every delta token go stale: the next sync lists everything again.
        let music = cloud.service.folder_at("Music");
        cloud.service.rename(&music, "Library");
        cloud.service.delete(&ids[0]);
        let counts = syncer.sync_source(SOURCE).await.unwrap();
        assert_eq!(counts.removed, 1);
        let tracks = library.tracks(100, 0).await.unwrap();
        assert!(tracks.iter().all(|t| t.path.starts_with("Library/")));

        cloud.service.expire_delta_tokens();
        cloud.service.delete(&ids[1]);
        let counts = syncer.sync_source(SOURCE).await.unwrap();
        assert_eq!(counts.removed, 1);
        let after = library.tracks(100, 0).await.unwrap();
        assert_eq!(after.len(), before.len() - 2);
        // Tracks kept their ids through the rename and the resync.
        for t in &after {
            assert!(before.iter().any(|b| b.id == t.id), "{} is new", t.path);
        }
    });
}

#[test]
fn a_download_failing_through_a_sync_is_read_again_by_the_next() {
    GraphCloud::start().check_passing_failures_are_read_again(Fault::Unavailable(None));
}

#[test]
fn a_deleted_folder_takes_its_tracks_at_once() {
    GraphCloud::start().check_a_deleted_folder_takes_its_tracks_at_once();
}
