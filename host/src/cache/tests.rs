use std::sync::Arc;

use tonearm_core::Received;
use tonearm_core::cache::{CacheKey, TrackCache};
use tonearm_core::events::{CacheEvent, CoreEvent, EventBus};
use tonearm_plugin_api::{ByteSource, MemoryByteSource};

use super::{CacheSettings, DiskCache};

fn key(n: u8) -> CacheKey {
    CacheKey {
        source: "drive".into(),
        remote_id: format!("file-{n}"),
        version: "md5:1".into(),
    }
}

fn track(n: u8) -> Vec<u8> {
    (0..100_000u32)
        .map(|i| (i as u8).wrapping_mul(n).wrapping_add(n))
        .collect()
}

fn read_back(bytes: &dyn ByteSource) -> Vec<u8> {
    let len = bytes.len().unwrap() as usize;
    let mut out = vec![0u8; len];
    let mut at = 0;
    // Odd steps across segment edges, as a decoder reads.
    while at < len {
        let end = (at + 7_777).min(len);
        let n = bytes.read_at(at as u64, &mut out[at..end]).unwrap();
        assert!(n > 0);
        at += n;
    }
    out
}

fn open(dir: &std::path::Path, bus: &EventBus) -> DiskCache {
    let settings = CacheSettings {
        dir: dir.join("tracks"),
        key_file: dir.join("data/cache.key"),
        limit: 250_000,
    };
    DiskCache::open(settings, tokio::runtime::Handle::current(), bus.clone()).unwrap()
}

async fn store(cache: &DiskCache, n: u8, pin: bool) {
    let bytes = Arc::new(MemoryByteSource::new(track(n)));
    cache
        .store(key(n), i64::from(n), 100_000, bytes, pin)
        .await
        .unwrap();
    // Entries are ordered by when they were used, to the millisecond.
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_keeps_its_bound_its_pins_and_catches_a_changed_file() {
    let dir = tempfile::tempdir().unwrap();
    let bus = EventBus::new(1024);
    let mut events = bus.subscribe();
    let cache = open(dir.path(), &bus);
    for n in 1..=3 {
        store(&cache, n, false).await;
    }
    let status = cache.status().unwrap();
    assert_eq!(status.tracks, 2, "the least recently used left: {status:?}");
    assert!(status.bytes <= 250_000);
    assert!(cache.open_blocking(&key(1)).is_none());

    // A pinned track stays; the next eviction takes the other.
    store(&cache, 2, true).await;
    store(&cache, 4, false).await;
    assert!(cache.open_blocking(&key(3)).is_none(), "3 made room for 4");
    let two = cache.open_blocking(&key(2)).expect("pinned 2 stays");
    assert_eq!(read_back(two.as_ref()), track(2));
    assert_eq!(cache.status().unwrap().pinned, 1);

    // A changed file is caught, dropped, and stored again on request.
    let file = dir.path().join(format!("tracks/{}.track", key(4).id()));
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[50_000] ^= 0x20;
    std::fs::write(&file, bytes).unwrap();
    assert!(cache.open_blocking(&key(4)).is_none());
    let mut corrupt = false;
    while let Some(Received::Event(event)) = events.try_recv() {
        corrupt |= matches!(
            event,
            CoreEvent::Cache(CacheEvent::Corrupt { track_id: 4, .. })
        );
    }
    assert!(corrupt, "the damage was reported");
    store(&cache, 4, false).await;
    assert_eq!(
        read_back(cache.open_blocking(&key(4)).unwrap().as_ref()),
        track(4)
    );

    // Everything survives a restart; the key is the owner's alone; strays are swept.
    std::fs::write(dir.path().join("tracks/stray.track"), b"junk").unwrap();
    drop(cache);
    let again = open(dir.path(), &bus);
    assert_eq!(
        read_back(again.open_blocking(&key(2)).unwrap().as_ref()),
        track(2)
    );
    assert!(!dir.path().join("tracks/stray.track").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("data/cache.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The folder alone (another key) opens nothing.
    std::fs::remove_file(dir.path().join("data/cache.key")).unwrap();
    let stranger = open(dir.path(), &bus);
    assert!(stranger.open_blocking(&key(2)).is_none());

    // Its pin waits for the track to be fetched again, until unpinned.
    assert_eq!(again.unpin(2).unwrap(), 1);
    assert!(again.clear(true).unwrap() >= 1);
    assert_eq!(again.status().unwrap().tracks, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_track_larger_than_the_limit_is_refused_unless_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let bus = EventBus::new(64);
    let settings = CacheSettings {
        dir: dir.path().join("tracks"),
        key_file: dir.path().join("cache.key"),
        limit: 50_000,
    };
    let cache = DiskCache::open(settings, tokio::runtime::Handle::current(), bus).unwrap();
    let bytes = Arc::new(MemoryByteSource::new(track(9)));
    let refused = cache.store(key(9), 9, 100_000, bytes.clone(), false).await;
    assert!(
        matches!(refused, Err(tonearm_core::cache::CacheError::Full { .. })),
        "{refused:?}"
    );
    assert_eq!(cache.status().unwrap().tracks, 0);
    cache.store(key(9), 9, 100_000, bytes, true).await.unwrap();
    assert_eq!(cache.status().unwrap().pinned, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_index_is_kept_aside_and_no_track_is_swept() {
    let dir = tempfile::tempdir().unwrap();
    let bus = EventBus::new(64);
    let cache = open(dir.path(), &bus);
    store(&cache, 1, true).await;
    drop(cache);
    let tracks = dir.path().join("tracks");
    std::fs::write(tracks.join("index.json"), b"{ not json").unwrap();
    let again = open(dir.path(), &bus);
    assert!(tracks.join("index.json.bad").exists());
    assert!(
        tracks.join(format!("{}.track", key(1).id())).exists(),
        "the copy is kept"
    );
    assert_eq!(
        again.status().unwrap().tracks,
        0,
        "a new index starts empty"
    );
    drop(again);
    // Nor at the next start, while the old index waits to be rescued.
    let _third = open(dir.path(), &bus);
    assert!(tracks.join(format!("{}.track", key(1).id())).exists());
}
