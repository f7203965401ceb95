//! A provider whose answers would never end a sync: the engine must stop it with an error
//! that names the fault, in a real SQLite library. Found while writing the
//! `component_answers` fuzz target, which syncs whatever a provider component may answer.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tonearm_host::sync::{HostCapabilities, SyncError, SyncOptions, Syncer};
use tonearm_host::{EventBus, Registry, SqliteStore};
use tonearm_loader::{LoadedPlugin, Origin, PluginHandle, ProviderFactory};
use tonearm_plugin_api::{
    ByteRange, ChangePage, HostContext, ListPage, PluginError, PluginKind, PluginManifest,
    PluginResult, RemoteEntry, StorageProvider, crate_version,
};

/// How a provider's answers fail to end.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Its second listing page names itself as the next page.
    PageLoop,
    /// Its listing pages lead back to the first token after two pages.
    LongPageLoop,
    /// It refuses every page token it gave.
    RefusesItsTokens,
    /// Its change feed always has more, at a cursor it gave before.
    CursorLoop,
}

struct Endless(Fault);

impl ProviderFactory for Endless {
    fn create(&self, _: &HostContext) -> PluginResult<Arc<dyn StorageProvider>> {
        Ok(Arc::new(Endless(self.0)))
    }
}

fn entry(id: &str) -> RemoteEntry {
    RemoteEntry {
        id: id.into(),
        path: format!("{id}.mp3"),
        size: 4,
        modified_ms: Some(1),
        content_hash: None,
        mime: None,
    }
}

impl StorageProvider for Endless {
    fn change_cursor(&self) -> PluginResult<String> {
        Ok("c0".into())
    }

    fn list(&self, page_token: Option<&str>) -> PluginResult<ListPage> {
        let next = match (self.0, page_token) {
            // Its listing ends: its change feed is the fault.
            (Fault::CursorLoop, _) => None,
            (_, None) => Some("p1"),
            (Fault::RefusesItsTokens, Some(token)) => {
                return Err(PluginError::Invalid(format!("unknown token {token}")));
            }
            (Fault::LongPageLoop, Some("p1")) => Some("p2"),
            (_, Some(_)) => Some("p1"),
        };
        Ok(ListPage {
            entries: vec![entry(page_token.unwrap_or("first"))],
            next_page: next.map(Into::into),
        })
    }

    fn changes(&self, cursor: &str) -> PluginResult<ChangePage> {
        let (next_cursor, has_more) = match (self.0, cursor) {
            (Fault::CursorLoop, "c0") => ("c1", true),
            (Fault::CursorLoop, _) => ("c0", true),
            _ => (cursor, false),
        };
        Ok(ChangePage {
            changes: Vec::new(),
            next_cursor: next_cursor.into(),
            has_more,
        })
    }

    fn read_range(&self, id: &str, _: ByteRange) -> PluginResult<Vec<u8>> {
        Err(PluginError::NotFound(id.into()))
    }
}

/// Syncs a source of a provider with `fault`: the first sync lists, the second follows
/// the change feed. Returns both results, each within ten seconds or a failure.
async fn sync_twice(fault: Fault) -> Vec<Result<(), SyncError>> {
    let registry = Registry::new(EventBus::new(4096));
    let mut manifest = PluginManifest::new(
        "endless",
        "Endless",
        crate_version!(),
        PluginKind::StorageProvider,
    );
    manifest.formats.extensions = vec!["mp3".into()];
    registry
        .register(LoadedPlugin {
            manifest,
            origin: Origin::Builtin,
            handle: PluginHandle::StorageProvider(Arc::new(Endless(fault))),
        })
        .unwrap();
    let db = tempfile::tempdir().unwrap();
    let library = SqliteStore::open(&db.path().join("library.db"))
        .await
        .unwrap();
    library
        .add_source("music", "endless", &BTreeMap::new())
        .await
        .unwrap();
    let syncer = Syncer::new(
        library,
        Arc::new(registry),
        HostCapabilities::offline(),
        SyncOptions::default(),
    );
    let mut results = Vec::new();
    for _ in 0..2 {
        let sync = tokio::time::timeout(Duration::from_secs(10), syncer.sync_source("music"));
        let result = sync
            .await
            .unwrap_or_else(|_| panic!("{fault:?}: the sync never ended"));
        results.push(result.map(|_| ()));
    }
    results
}

fn assert_stopped(result: &Result<(), SyncError>, fault: Fault, says: &str) {
    match result {
        Err(SyncError::Provider {
            error: PluginError::Invalid(why),
            ..
        }) => assert!(why.contains(says), "{fault:?}: {why}"),
        other => panic!("{fault:?}: the sync should stop with an error, not {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_listing_that_loops_back_stops_with_an_error() {
    for fault in [Fault::PageLoop, Fault::LongPageLoop] {
        let results = sync_twice(fault).await;
        assert_stopped(&results[0], fault, "page token `p1`, which it gave before");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_refusing_its_own_page_tokens_is_listed_again_once() {
    let results = sync_twice(Fault::RefusesItsTokens).await;
    assert_stopped(&results[0], Fault::RefusesItsTokens, "unknown token p1");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_feed_that_never_advances_stops_with_an_error() {
    let results = sync_twice(Fault::CursorLoop).await;
    assert!(results[0].is_ok(), "the listing ends: {:?}", results[0]);
    assert_stopped(
        &results[1],
        Fault::CursorLoop,
        "cursor `c0`, which it gave before",
    );
}
