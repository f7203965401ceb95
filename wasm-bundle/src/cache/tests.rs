//! The browser's cache in a real worker's origin-private file system.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use wasm_bindgen_test::*;

use super::*;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

fn key(n: u8) -> CacheKey {
    CacheKey {
        source: "drive".into(),
        remote_id: format!("file{n}"),
        version: "md5:1".into(),
    }
}

/// A track's bytes: 150,000 of them, different per track.
fn track(n: u8) -> Vec<u8> {
    (0..150_000u32).map(|i| (i as u8).wrapping_mul(n)).collect()
}

async fn read_back(cache: &OpfsCache, n: u8) -> Option<Vec<u8>> {
    let source = cache.open(&key(n)).await?;
    let mut out = vec![0u8; source.len().unwrap() as usize];
    let mut filled = 0;
    while filled < out.len() {
        filled += source.read_at(filled as u64, &mut out[filled..]).unwrap();
    }
    Some(out)
}

async fn store(cache: &OpfsCache, n: u8, pin: bool) -> Result<(), CacheError> {
    let bytes: Arc<dyn ByteSource> = Arc::new(MemoryByteSource::new(track(n)));
    cache.store(key(n), i64::from(n), 150_000, bytes, pin).await
}

#[wasm_bindgen_test]
async fn tracks_are_kept_encrypted_within_the_limit_and_a_changed_copy_is_dropped() {
    let database = format!("tonearm-test-cache-{}", js_sys::Date::now());
    let bus = EventBus::default();
    let mut events = bus.subscribe();
    // Room for two tracks (each takes a little more than its 150,000 bytes).
    let cache = OpfsCache::open(&database, 320_000, bus).await.unwrap();
    assert!(read_back(&cache, 1).await.is_none());
    store(&cache, 1, false).await.unwrap();
    store(&cache, 2, true).await.unwrap();
    assert_eq!(read_back(&cache, 1).await.unwrap(), track(1));
    store(&cache, 3, false).await.unwrap();
    // 1 was used since 2 was stored, but 2 is pinned: 1 made room for 3.
    assert!(read_back(&cache, 1).await.is_none(), "evicted");
    assert_eq!(read_back(&cache, 2).await.unwrap(), track(2));
    assert_eq!(read_back(&cache, 3).await.unwrap(), track(3));
    let status = cache.status().unwrap();
    assert_eq!(
        (status.tracks, status.pinned, status.limit),
        (2, 1, 320_000)
    );

    // At rest the file is not the track.
    let dir = opfs::folder(&format!("{database}.cache")).await.unwrap();
    let name = file_name(&key(3).id());
    let handle = opfs::handle(&dir, &name, false).await.unwrap().unwrap();
    let mut sealed = opfs::read_all(&handle).unwrap();
    let plain = track(3);
    assert!(!sealed.windows(64).any(|w| w == &plain[1_000..1_064]));
    // A flipped bit: the copy is dropped, reported, and fetched again next time.
    sealed[100_000] ^= 1;
    opfs::replace(&handle, &sealed).unwrap();
    handle.close();
    assert!(read_back(&cache, 3).await.is_none());
    let mut corrupt = false;
    while let Some(received) = events.try_recv() {
        if let tonearm_core::Received::Event(CoreEvent::Cache(CacheEvent::Corrupt {
            track_id: 3,
            ..
        })) = received
        {
            corrupt = true;
        }
    }
    assert!(corrupt, "a Corrupt event for track 3");
    store(&cache, 3, false).await.unwrap();
    assert_eq!(read_back(&cache, 3).await.unwrap(), track(3));

    // Another worker cannot take the cache while this one holds it; after this one, it
    // finds what was stored.
    assert!(
        OpfsCache::open(&database, 320_000, EventBus::default())
            .await
            .is_err()
    );
    assert_eq!(cache.unpin(2).unwrap(), 1);
    assert_eq!(cache.clear(false).unwrap(), 2);
    assert_eq!(cache.status().unwrap().tracks, 0);
    store(&cache, 4, true).await.unwrap();
    drop(cache);
    // The index's handle closes with the last clone; give the removals a turn.
    rt::sleep(Duration::from_millis(50)).await;
    let again = OpfsCache::open(&database, 320_000, EventBus::default())
        .await
        .unwrap();
    assert_eq!(read_back(&again, 4).await.unwrap(), track(4));
    assert_eq!(again.status().unwrap().pinned, 1);
}

#[wasm_bindgen_test]
async fn a_pin_while_the_same_track_is_being_stored_waits_for_that_download() {
    let database = format!("tonearm-test-cache-twice-{}", js_sys::Date::now());
    let cache = OpfsCache::open(&database, 10_000_000, EventBus::default())
        .await
        .unwrap();
    let bytes: Arc<dyn ByteSource> = Arc::new(MemoryByteSource::new(track(5)));
    // As playback does, then a pin of the same track before that download ended.
    cache.store_later(key(5), 5, 150_000, bytes);
    store(&cache, 5, true).await.unwrap();
    let status = cache.status().unwrap();
    assert_eq!((status.tracks, status.pinned), (1, 1), "{status:?}");
    assert_eq!(read_back(&cache, 5).await.unwrap(), track(5));
}
