//! Sync of a local folder into a real SQLite library, through the builtin plugins.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tonearm_conformance::fixtures::FixtureSet;
use tonearm_host::events::{CoreEvent, LibraryEvent, PluginEvent, SyncEvent};
use tonearm_host::sync::{HostCapabilities, SyncError, SyncOptions, Syncer};
use tonearm_host::{EventBus, Received, Registry, SqliteStore};
use tonearm_loader::{LoadedPlugin, Origin, PluginHandle, ProviderFactory, load_builtin};
use tonearm_plugin_api::{
    ByteRange, ChangePage, HostContext, ListPage, PluginError, PluginResult, StorageProvider,
};

fn registry() -> Arc<Registry> {
    let registry = Registry::new(EventBus::new(4096));
    for d in [
        &tonearm_plugin_local::DESCRIPTOR,
        &tonearm_plugin_symphonia::DESCRIPTOR,
    ] {
        registry.register(load_builtin(d).unwrap()).unwrap();
    }
    Arc::new(registry)
}

/// A music folder holding every fixture (intact and damaged) plus non-audio files.
fn music_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let set = FixtureSet::bundled();
    for f in &set.audio {
        std::fs::write(dir.path().join(&f.file), &f.bytes).unwrap();
    }
    std::fs::create_dir(dir.path().join("damaged")).unwrap();
    for f in &set.corrupt {
        std::fs::write(dir.path().join("damaged").join(&f.file), &f.bytes).unwrap();
    }
    std::fs::write(dir.path().join("notes.txt"), "not music").unwrap();
    std::fs::write(dir.path().join(".hidden.mp3"), "hidden").unwrap();
    dir
}

struct Env {
    music: tempfile::TempDir,
    _db: tempfile::TempDir,
    library: SqliteStore,
    registry: Arc<Registry>,
}

impl Env {
    async fn new(provider: &str, settings: &[(&str, &str)], registry: Arc<Registry>) -> Self {
        let music = music_folder();
        let db = tempfile::tempdir().unwrap();
        let library = SqliteStore::open(&db.path().join("library.db"))
            .await
            .unwrap();
        let mut map: BTreeMap<String, String> = settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.insert("root".into(), music.path().to_string_lossy().into_owned());
        library.add_source("music", provider, &map).await.unwrap();
        Self {
            music,
            _db: db,
            library,
            registry,
        }
    }

    fn syncer(&self) -> Syncer {
        Syncer::new(
            self.library.clone(),
            self.registry.clone(),
            HostCapabilities::offline(),
            SyncOptions {
                batch_size: 3,
                ..SyncOptions::default()
            },
        )
    }

    fn path(&self, rel: &str) -> std::path::PathBuf {
        self.music.path().join(rel)
    }

    async fn track_id_by_path(&self, path: &str) -> Option<i64> {
        self.library
            .tracks(1000, 0)
            .await
            .unwrap()
            .into_iter()
            .find(|t| t.path == path)
            .map(|t| t.id)
    }
}

const AUDIO_FILES: i64 = 7;

#[tokio::test(flavor = "multi_thread")]
async fn a_full_sync_reads_every_tag_the_fixtures_declare() {
    let env = Env::new("local", &[], registry()).await;
    let counts = env.syncer().sync_source("music").await.unwrap();
    assert_eq!(counts.failed + counts.added, counts.scanned);

    let tracks = env.library.tracks(1000, 0).await.unwrap();
    let fixtures = FixtureSet::bundled();
    for fixture in &fixtures.audio {
        let t = tracks
            .iter()
            .find(|t| t.path == fixture.file)
            .unwrap_or_else(|| panic!("{} missing", fixture.file));
        let want = &fixture.tags;
        assert_eq!(t.title, want.title, "{}", fixture.file);
        assert_eq!(t.artists, want.artists.join("; "), "{}", fixture.file);
        assert_eq!(
            t.album,
            want.album.clone().or(Some("Tonearm Samples".into())),
            "{}",
            fixture.file
        );
        assert_eq!(
            t.track_number,
            want.track.map(i64::from),
            "{}",
            fixture.file
        );
        if want.disc.is_some() {
            assert_eq!(t.disc_number, want.disc.map(i64::from), "{}", fixture.file);
        }
        assert_eq!(
            t.sample_rate,
            Some(i64::from(fixture.sample_rate)),
            "{}",
            fixture.file
        );
        assert_eq!(
            t.channels,
            Some(i64::from(fixture.channels)),
            "{}",
            fixture.file
        );
        let expected_ms = fixture.frames as f64 * 1000.0 / f64::from(fixture.sample_rate);
        let got_ms = t.duration_ms.unwrap() as f64;
        assert!(
            (got_ms - expected_ms).abs() < 60.0,
            "{}: {got_ms} ms vs {expected_ms}",
            fixture.file
        );
    }
    // Album artists, covers and ReplayGain are stored too.
    let flac = tracks.iter().find(|t| t.path == "01 chord.flac").unwrap();
    assert_eq!(flac.album_artists.as_deref(), Some("Tonearm Ensemble"));
    let stats = env.library.stats().await.unwrap();
    assert_eq!(stats.artwork, 1, "three files embed the same cover");
    // The embedded cover itself is kept, once, and reads back as the image it is.
    {
        use tonearm_host::enrich::EnrichStore as _;
        let cover = env.library.track_artwork(flac.id).await.unwrap().unwrap();
        assert_eq!(
            tonearm_host::enrich::checks::image_type(&cover.bytes),
            Some(cover.mime.as_str()),
            "{} bytes of {}",
            cover.bytes.len(),
            cover.mime
        );
    }
    assert_eq!(stats.genres, 1);

    // Hidden and non-audio files never enter the library; unreadable ones are recorded.
    assert!(
        tracks
            .iter()
            .all(|t| !t.path.contains("notes") && !t.path.contains("hidden"))
    );
    let failed = env.library.failed_files(100).await.unwrap();
    for name in ["damaged/empty.flac", "damaged/not-audio.mp3"] {
        let file = failed
            .iter()
            .find(|f| f.path == name)
            .unwrap_or_else(|| panic!("{name} not recorded: {failed:?}"));
        assert!(!file.reason.is_empty());
    }
    assert_eq!(stats.failed_files as u64, counts.failed);
    assert!(stats.tracks >= AUDIO_FILES);
}

#[tokio::test(flavor = "multi_thread")]
async fn replaygain_and_search_work_on_synced_tags() {
    let env = Env::new("local", &[], registry()).await;
    env.syncer().sync_source("music").await.unwrap();
    let found = env.library.search("anstrom quar", 10).await.unwrap();
    let paths: Vec<&str> = found.iter().map(|t| t.path.as_str()).collect();
    assert!(
        paths.contains(&"01 chord.flac") && paths.contains(&"02 pluck.mp3"),
        "{paths:?}"
    );
    assert!(
        env.library
            .search("坂本龍一", 10)
            .await
            .unwrap()
            .iter()
            .any(|t| t.path == "02 pluck.mp3")
    );
    assert!(env.library.search("zzzz", 10).await.unwrap().is_empty());
    let gain: Option<f64> = sqlx::query_scalar(
        "SELECT replaygain_track_gain FROM tracks t JOIN files f ON f.id = t.file_id WHERE f.path = '01 chord.flac'",
    )
    .fetch_one(env.library.pool())
    .await
    .unwrap();
    assert_eq!(gain, Some(-6.5));
}

#[tokio::test(flavor = "multi_thread")]
async fn incremental_sync_follows_adds_edits_deletes_renames_and_moves() {
    let env = Env::new("local", &[], registry()).await;
    let syncer = env.syncer();
    syncer.sync_source("music").await.unwrap();
    let before = env.library.stats().await.unwrap().tracks;
    let renamed_id = env.track_id_by_path("03 pad.ogg").await.unwrap();
    let moved_id = env.track_id_by_path("06 tone.wav").await.unwrap();

    // Nothing changed: nothing is scanned.
    let idle = syncer.sync_source("music").await.unwrap();
    assert_eq!(
        (idle.scanned, idle.added, idle.removed),
        (0, 0, 0),
        "{idle:?}"
    );

    let fixtures = FixtureSet::bundled();
    std::fs::write(
        env.path("new.flac"),
        &fixtures.audio("01 chord.flac").unwrap().bytes,
    )
    .unwrap();
    std::fs::write(
        env.path("07 tone.aiff"),
        &fixtures.audio("04 bell.m4a").unwrap().bytes,
    )
    .unwrap();
    std::fs::remove_file(env.path("02 pluck.mp3")).unwrap();
    std::fs::rename(env.path("03 pad.ogg"), env.path("03 pad (renamed).ogg")).unwrap();
    std::fs::create_dir_all(env.path("moved/deeper")).unwrap();
    std::fs::rename(
        env.path("06 tone.wav"),
        env.path("moved/deeper/06 tone.wav"),
    )
    .unwrap();

    let counts = syncer.sync_source("music").await.unwrap();
    assert_eq!(counts.added, 1, "{counts:?}");
    assert_eq!(counts.removed, 1, "{counts:?}");
    assert_eq!(
        counts.scanned, 2,
        "only the new and the rewritten file are read: {counts:?}"
    );
    assert_eq!(env.library.stats().await.unwrap().tracks, before);
    assert_eq!(
        env.track_id_by_path("03 pad (renamed).ogg").await,
        Some(renamed_id),
        "a rename keeps the track"
    );
    assert_eq!(
        env.track_id_by_path("moved/deeper/06 tone.wav").await,
        Some(moved_id),
        "a move keeps the track"
    );
    assert_eq!(env.track_id_by_path("02 pluck.mp3").await, None);
    let rewritten = env
        .library
        .tracks(100, 0)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.path == "07 tone.aiff")
        .unwrap();
    assert_eq!(
        rewritten.title.as_deref(),
        Some("Bell (AAC)"),
        "a changed file is read again"
    );
    // The search index follows renames.
    assert!(
        env.library
            .search("renamed", 5)
            .await
            .unwrap()
            .iter()
            .any(|t| t.id == renamed_id)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_cursor_falls_back_to_a_full_listing() {
    let env = Env::new("local", &[], registry()).await;
    let syncer = env.syncer();
    syncer.sync_source("music").await.unwrap();
    // The provider's snapshot disappears (as a cloud cursor expires with 410 Gone).
    sqlx::query("DELETE FROM plugin_state")
        .execute(env.library.pool())
        .await
        .unwrap();
    std::fs::remove_file(env.path("04 bell.m4a")).unwrap();
    let counts = syncer.sync_source("music").await.unwrap();
    assert_eq!(counts.removed, 1, "{counts:?}");
    assert!(
        counts.unchanged >= 5,
        "unchanged files are not read again: {counts:?}"
    );
    assert_eq!(env.track_id_by_path("04 bell.m4a").await, None);
}

/// Wraps the local provider; its listings fail once `fail_after` pages were served, and
/// panic instead when `panic` is set.
struct Flaky {
    inner: Arc<dyn ProviderFactory>,
    pages: Arc<AtomicUsize>,
    fail_after: Arc<AtomicUsize>,
    panic: bool,
}

struct FlakyProvider {
    inner: Arc<dyn StorageProvider>,
    pages: Arc<AtomicUsize>,
    fail_after: Arc<AtomicUsize>,
    panic: bool,
}

impl ProviderFactory for Flaky {
    fn create(&self, ctx: &HostContext) -> PluginResult<Arc<dyn StorageProvider>> {
        Ok(Arc::new(FlakyProvider {
            inner: self.inner.create(ctx)?,
            pages: self.pages.clone(),
            fail_after: self.fail_after.clone(),
            panic: self.panic,
        }))
    }
}

impl StorageProvider for FlakyProvider {
    fn change_cursor(&self) -> PluginResult<String> {
        self.inner.change_cursor()
    }
    fn list(&self, token: Option<&str>) -> PluginResult<ListPage> {
        if self.pages.fetch_add(1, Ordering::SeqCst) >= self.fail_after.load(Ordering::SeqCst) {
            if self.panic {
                panic!("listing exploded");
            }
            return Err(PluginError::Transient("connection reset".into()));
        }
        self.inner.list(token)
    }
    fn changes(&self, cursor: &str) -> PluginResult<ChangePage> {
        self.inner.changes(cursor)
    }
    fn read_range(&self, id: &str, range: ByteRange) -> PluginResult<Vec<u8>> {
        self.inner.read_range(id, range)
    }
}

fn with_flaky(
    fail_after: usize,
    panic: bool,
) -> (Arc<Registry>, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let registry = registry();
    let local = load_builtin(&tonearm_plugin_local::DESCRIPTOR).unwrap();
    let PluginHandle::StorageProvider(inner) = local.handle else {
        unreachable!()
    };
    let (pages, limit) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(fail_after)),
    );
    let mut manifest = local.manifest;
    manifest.id = "flaky".into();
    let factory = Flaky {
        inner,
        pages: pages.clone(),
        fail_after: limit.clone(),
        panic,
    };
    registry
        .register(LoadedPlugin {
            manifest,
            origin: Origin::Builtin,
            handle: PluginHandle::StorageProvider(Arc::new(factory)),
        })
        .unwrap();
    (registry, pages, limit)
}

async fn file_count(library: &SqliteStore) -> (i64, i64) {
    sqlx::query_as("SELECT count(*), count(DISTINCT remote_id) FROM files")
        .fetch_one(library.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_full_sync_resumes_without_loss_or_duplicates() {
    let (registry, pages, limit) = with_flaky(3, false);
    let env = Env::new("flaky", &[("page_size", "2")], registry).await;
    let syncer = env.syncer();

    let err = syncer.sync_source("music").await.unwrap_err();
    assert!(
        matches!(
            err,
            SyncError::Provider {
                error: PluginError::Transient(_),
                ..
            }
        ),
        "{err}"
    );
    let source = env.library.source("music").await.unwrap();
    assert!(
        source.pending_cursor.is_some() && source.pending_page.is_some(),
        "the listing position is kept"
    );
    assert!(
        source
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("connection reset"))
    );
    let committed = env.library.stats().await.unwrap().tracks;
    assert!(committed > 0, "batches before the failure are committed");

    limit.store(usize::MAX, Ordering::SeqCst);
    pages.store(0, Ordering::SeqCst);
    let resumed = syncer.sync_source("music").await.unwrap();
    // Three pages of two entries were done; the resumed run starts after them.
    assert!(
        resumed.seen < 16,
        "the listing resumed instead of restarting: {resumed:?}"
    );
    let (files, distinct) = file_count(&env.library).await;
    assert_eq!(files, distinct, "no duplicates");

    // The result equals a clean sync of the same folder.
    let clean = Env::new("local", &[], self::registry()).await;
    clean.syncer().sync_source("music").await.unwrap();
    assert_eq!(file_count(&clean.library).await, (files, distinct));
    assert_eq!(
        clean.library.stats().await.unwrap().tracks,
        env.library.stats().await.unwrap().tracks
    );
    let source = env.library.source("music").await.unwrap();
    assert!(
        source.cursor.is_some() && source.pending_cursor.is_none() && source.last_error.is_none()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_provider_fails_its_sync_and_is_disabled_alone() {
    let (registry, _, _) = with_flaky(1, true);
    let mut events = registry.bus().subscribe();
    let env = Env::new("flaky", &[("page_size", "2")], registry.clone()).await;
    let err = env.syncer().sync_source("music").await.unwrap_err();
    assert!(
        matches!(
            err,
            SyncError::Provider {
                error: PluginError::Internal(_),
                ..
            }
        ),
        "{err}"
    );
    assert!(registry.info("flaky").unwrap().failure.is_some());
    assert!(
        registry.provider("flaky").is_err(),
        "a failed plugin is not handed out again"
    );
    assert!(
        registry.decoder("symphonia").is_ok(),
        "other plugins keep working"
    );

    let mut saw = (false, false);
    while let Some(received) = events.try_recv() {
        match received {
            Received::Event(CoreEvent::Plugin(PluginEvent::Failed { id, error }))
                if id == "flaky" =>
            {
                assert!(error.contains("listing exploded"));
                saw.0 = true;
            }
            Received::Event(CoreEvent::Sync(SyncEvent::Failed { .. })) => saw.1 = true,
            _ => {}
        }
    }
    assert_eq!(saw, (true, true));
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_reports_progress_and_library_changes_on_the_bus() {
    let registry = registry();
    let mut events = registry.bus().subscribe();
    let env = Env::new("local", &[], registry).await;
    env.syncer().sync_source("music").await.unwrap();
    let mut kinds = Vec::new();
    let mut added = 0;
    while let Some(Received::Event(event)) = events.try_recv() {
        match event {
            CoreEvent::Sync(SyncEvent::Started { full, .. }) => {
                kinds.push(if full { "started full" } else { "started" })
            }
            CoreEvent::Sync(SyncEvent::Progress { .. }) => kinds.push("progress"),
            CoreEvent::Sync(SyncEvent::Completed { counts, .. }) => {
                assert_eq!(counts.added, added);
                kinds.push("completed")
            }
            CoreEvent::Library(LibraryEvent::TracksChanged { added: n, .. }) => added += n,
            _ => {}
        }
    }
    assert_eq!(kinds.first(), Some(&"started full"));
    assert_eq!(kinds.last(), Some(&"completed"));
    assert!(
        kinds.iter().filter(|k| **k == "progress").count() >= 3,
        "batches of 3 report progress: {kinds:?}"
    );
    assert!(added >= AUDIO_FILES as u64);
}
