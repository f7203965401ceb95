//! The player under load: playing at the pace of a sound card while a large sync runs in
//! the same process, on the same two cores, the ring never runs dry.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tonearm_conformance::fixtures::FixtureSet;
use tonearm_host::events::PlaybackEvent;
use tonearm_host::player::{NativePlayer, OutputFormat, OutputTarget, PlayerSettings};
use tonearm_host::{
    CoreEvent, EventBus, HostCapabilities, Received, Registry, SqliteStore, SyncRequest, Tonearm,
};
use tonearm_loader::load_builtin;

/// A 16-bit stereo WAV of `seconds` of a tone at 44.1 kHz.
fn tone(path: &Path, seconds: u32) {
    let frames = 44_100 * seconds;
    let data_len = frames * 4;
    let mut file = b"RIFF".to_vec();
    file.extend_from_slice(&(36 + data_len).to_le_bytes());
    file.extend_from_slice(b"WAVEfmt ");
    for word in [16u32, 0x0002_0001, 44_100, 44_100 * 4, 0x0010_0004] {
        file.extend_from_slice(&word.to_le_bytes());
    }
    file.extend_from_slice(b"data");
    file.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..frames {
        let s = ((f64::from(i) * 0.0627).sin() * 9_000.0) as i16;
        file.extend_from_slice(&s.to_le_bytes());
        file.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, file).unwrap();
}

async fn add(tonearm: &Tonearm, name: &str, folder: &Path) {
    let settings = BTreeMap::from([("root".to_owned(), folder.display().to_string())]);
    tonearm.add_source(name, "local", settings).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playback_keeps_up_at_one_times_while_a_large_sync_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (music, big) = (dir.path().join("music"), dir.path().join("big"));
    std::fs::create_dir(&music).unwrap();
    tone(&music.join("tone.wav"), 4);
    // Thousands of real files for the sync: the bundled samples, again and again.
    let fixtures = FixtureSet::bundled();
    for n in 0..600 {
        let folder = big.join(format!("album {n:03}"));
        std::fs::create_dir_all(&folder).unwrap();
        for f in &fixtures.audio {
            std::fs::write(folder.join(&f.file), &f.bytes).unwrap();
        }
    }

    let bus = EventBus::new(1 << 16);
    let registry = Registry::new(bus.clone());
    for d in [
        &tonearm_plugin_local::DESCRIPTOR,
        &tonearm_plugin_symphonia::DESCRIPTOR,
    ] {
        registry.register(load_builtin(d).unwrap()).unwrap();
    }
    let library = SqliteStore::open(&dir.path().join("library.db"))
        .await
        .unwrap();
    let tonearm = Tonearm::new(Arc::new(registry), library, HostCapabilities::offline());
    add(&tonearm, "music", &music).await;
    tonearm.sync(SyncRequest::source("music")).await.unwrap();
    let track = tonearm.tracks(10, 0).await.unwrap()[0].id;
    add(&tonearm, "big", &big).await;

    let mut events = bus.subscribe();
    let native = NativePlayer::start(
        tonearm.clone(),
        tokio::runtime::Handle::current(),
        OutputTarget::Null,
        OutputFormat {
            sample_rate: 44_100,
            channels: 2,
        },
        PlayerSettings::default(),
        bus.clone(),
    )
    .unwrap();
    native.player().append(&[track]);
    native.player().play();
    let started = Instant::now();
    // The first sync reads every file's tags; full syncs after it walk and compare all
    // of them again, until the track has played.
    let playing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sync = {
        let (tonearm, playing) = (tonearm.clone(), playing.clone());
        tokio::spawn(async move {
            let outcome = tonearm.sync(SyncRequest::source("big")).await.unwrap();
            let counts = outcome.into_iter().next().unwrap().result.unwrap();
            let mut syncs = 1;
            while playing.load(std::sync::atomic::Ordering::Acquire) {
                let again = tonearm
                    .sync(SyncRequest::source("big").full())
                    .await
                    .unwrap();
                again.into_iter().next().unwrap().result.unwrap();
                syncs += 1;
            }
            (counts, syncs, started.elapsed())
        })
    };
    let mut underruns = 0;
    let ended = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(received) = events.recv().await {
            match received {
                Received::Event(CoreEvent::Playback(PlaybackEvent::Underrun { .. })) => {
                    underruns += 1
                }
                Received::Event(CoreEvent::Playback(PlaybackEvent::Ended {})) => return,
                _ => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the track did not end");
    let played_for = started.elapsed();
    playing.store(false, std::sync::atomic::Ordering::Release);
    let (counts, syncs, synced_for) = sync.await.unwrap();
    let status = native.player().status();
    native.finish().unwrap();
    assert_eq!(counts.added, 600 * fixtures.audio.len() as u64);
    assert!(
        syncs >= 3 && synced_for >= played_for,
        "{syncs} syncs in {synced_for:?}: the machine was not loaded while playing"
    );
    assert!(
        played_for >= Duration::from_millis(3_900),
        "four seconds played in {played_for:?}: not at a sound card's pace"
    );
    assert_eq!(
        (underruns, status.underruns),
        (0, 0),
        "the ring ran dry while syncing"
    );
}
