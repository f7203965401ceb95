//! Enrichment end to end: the bundled samples in a real SQLite library, the MusicBrainz
//! plugin (linked in, and as a sandboxed component) asking a fake MusicBrainz over HTTP
//! at the one request a second the service allows, matching in the host, provenance.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use tonearm_e2e::cloud::test_http_settings;
use tonearm_fakes::musicbrainz::{FakeMusicBrainz, Recording, ReleaseEntry};
use tonearm_host::enrich::{EnrichOptions, Field, Outcome, Value};
use tonearm_host::{EventBus, HostCapabilities, Registry, SqliteStore, Tonearm};
use tonearm_net::auth::TokenStore;
use tonearm_net::{HttpService, Network};

const RELEASE: &str = "0b4f1a6e-3c1d-4b7e-9a39-5f7a3b2c1d00";

fn release(disc: u32, track: u32) -> ReleaseEntry {
    ReleaseEntry {
        id: RELEASE.into(),
        title: "Tonearm Samples".into(),
        artist: "Tonearm Ensemble".into(),
        date: "2024-05-01".into(),
        disc,
        discs: 2,
        track,
        tracks: 4,
    }
}

fn recording(n: u32, title: &str, artists: &[&str], disc: u32) -> Recording {
    Recording {
        id: format!("5b11f4ce-a62d-471e-81fc-a69a8278c7{n:02}"),
        title: title.into(),
        artists: artists.iter().map(|a| a.to_string()).collect(),
        length_ms: 1000,
        isrcs: vec![format!("XXTON24000{n:02}")],
        releases: vec![release(disc, n)],
    }
}

/// The catalogue: every sample but the AIFF one, which MusicBrainz does not know.
fn catalogue(mb: &FakeMusicBrainz) {
    mb.add(recording(
        1,
        "Chord in C — Überstürzt",
        &["Ånström Quartet", "Zoë Keating"],
        1,
    ));
    mb.add(recording(
        2,
        "Pluck “quoted” #2",
        &["Ånström Quartet", "坂本龍一"],
        1,
    ));
    mb.add(recording(3, "Pad?", &["Zoë Keating"], 1));
    mb.add(recording(4, "Bell (AAC)", &["Tonearm Ensemble"], 2));
    mb.add(recording(5, "Bell (ALAC)", &["Tonearm Ensemble"], 2));
    mb.add(recording(6, "Tone (WAV)", &["Tonearm Ensemble"], 1));
    // A decoy: another recording by the same name, elsewhere.
    let mut decoy = recording(9, "Tone (WAV)", &["Somebody Else"], 1);
    decoy.length_ms = 240_000;
    decoy.releases[0].id = "0b4f1a6e-3c1d-4b7e-9a39-5f7a3b2c1d99".into();
    decoy.releases[0].title = "Unrelated".into();
    mb.add(decoy);
}

struct Setup {
    _dir: tempfile::TempDir,
    tonearm: Tonearm,
}

async fn setup(plugin: tonearm_loader::LoadedPlugin) -> Setup {
    setup_with(vec![plugin]).await
}

async fn setup_with(plugins: Vec<tonearm_loader::LoadedPlugin>) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    copy_dir(
        &tonearm_e2e::workspace().join("tests/conformance/fixtures/audio"),
        &music,
    );
    let registry = Registry::new(EventBus::default());
    for d in [
        &tonearm_plugin_local::DESCRIPTOR,
        &tonearm_plugin_symphonia::DESCRIPTOR,
    ] {
        registry
            .register(tonearm_loader::load_builtin(d).unwrap())
            .unwrap();
    }
    for plugin in plugins {
        registry.register(plugin).unwrap();
    }
    let network = Network {
        http: Arc::new(HttpService::new(test_http_settings()).unwrap()),
        tokens: Arc::new(TokenStore::new(dir.path().join("tokens.json"))),
    };
    let store = SqliteStore::open(&dir.path().join("library.db"))
        .await
        .unwrap();
    let tonearm = Tonearm::new(
        Arc::new(registry),
        store,
        HostCapabilities::with_network(network),
    );
    let mut settings = BTreeMap::new();
    settings.insert("root".to_owned(), music.to_string_lossy().into_owned());
    tonearm
        .add_source("music", "local", settings)
        .await
        .unwrap();
    tonearm
        .sync(tonearm_host::SyncRequest::all())
        .await
        .unwrap();
    Setup { _dir: dir, tonearm }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

fn options(mb: &FakeMusicBrainz) -> EnrichOptions {
    let mut settings = BTreeMap::new();
    settings.insert(
        "musicbrainz".to_owned(),
        BTreeMap::from([("endpoint.api".to_owned(), mb.url())]),
    );
    EnrichOptions {
        settings,
        ..EnrichOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_samples_are_enriched_with_provenance_at_the_services_rate() {
    let plugin = tonearm_loader::load_builtin(&tonearm_plugin_musicbrainz::DESCRIPTOR).unwrap();
    let mb = FakeMusicBrainz::start().unwrap();
    catalogue(&mb);
    let Setup { _dir, tonearm } = setup(plugin).await;

    // A dry run reports what would change and writes nothing.
    let dry = tonearm
        .enrich_tags(
            None,
            EnrichOptions {
                dry_run: true,
                ..options(&mb)
            },
            |_| {},
        )
        .await
        .unwrap();
    assert_eq!(dry.count(Outcome::Written), 6, "{dry:#?}");
    assert_eq!(dry.count(Outcome::NoMatch), 1, "{dry:#?}");
    let chord = dry
        .results
        .iter()
        .find(|r| r.path.starts_with("01"))
        .unwrap();
    assert!(
        chord
            .changes
            .iter()
            .any(|c| c.field == Field::MusicbrainzRecordingId
                && c.new == Value::Text("5b11f4ce-a62d-471e-81fc-a69a8278c701".into())),
        "{chord:#?}"
    );
    let before = tonearm.tracks(10, 0).await.unwrap();
    let id = before.iter().find(|t| t.path.starts_with("01")).unwrap().id;
    assert!(
        tonearm.tag_provenance(id).await.unwrap().is_empty(),
        "a dry run wrote"
    );

    // The run writes every strong match, field by field, with where it came from.
    let mut seen = Vec::new();
    let report = tonearm
        .enrich_tags(Some("music"), options(&mb), |p| seen.push(p.done))
        .await
        .unwrap();
    assert_eq!(
        seen,
        (1..=7).collect::<Vec<u64>>(),
        "progress after each track"
    );
    assert_eq!(report.count(Outcome::Written), 6, "{report:#?}");
    assert_eq!(report.count(Outcome::NoMatch), 1, "{report:#?}");
    let origin = tonearm.tag_provenance(id).await.unwrap();
    let recording_id = origin
        .iter()
        .find(|f| f.field == Field::MusicbrainzRecordingId)
        .unwrap();
    assert_eq!(recording_id.source, "musicbrainz");
    assert!(recording_id.score.unwrap() > 0.96, "{origin:#?}");
    let tone = tonearm.search("tone wav", 5).await.unwrap();
    assert_eq!(tone[0].year, Some(2024), "the decoy lost: {tone:#?}");
    let counts = mb.counts();
    assert_eq!(
        counts.throttled, 0,
        "MusicBrainz had to say slow down: {counts:?}"
    );
    assert_eq!(
        counts.forbidden, 0,
        "the User-Agent was refused: {counts:?}"
    );
    assert_eq!(
        counts.requests, 14,
        "one search per track per run: {counts:?}"
    );

    // A second run sends nothing for tracks whose files did not change.
    let again = tonearm
        .enrich_tags(None, options(&mb), |_| {})
        .await
        .unwrap();
    assert_eq!((again.skipped, again.results.len()), (7, 0), "{again:#?}");
    assert_eq!(mb.counts().requests, 14);

    // A field the user set stays theirs, even when asked again.
    tonearm
        .edit_tags(id, vec![(Field::Title, Value::Text("My Chord".into()))])
        .await
        .unwrap();
    let refresh = EnrichOptions {
        refresh: true,
        ..options(&mb)
    };
    let third = tonearm.enrich_tags(None, refresh, |_| {}).await.unwrap();
    assert_eq!(third.count(Outcome::Failed), 0, "{third:#?}");
    assert_eq!(mb.counts().throttled, 0, "{:?}", mb.counts());
    let title = tonearm
        .tracks(10, 0)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.id == id)
        .unwrap()
        .title;
    assert_eq!(title.as_deref(), Some("My Chord"));
}

/// The plugin as a sandboxed component gets the same HTTP, under the same budget, and
/// answers what the linked-in plugin answers.
#[test]
fn the_component_identifies_as_the_builtin_plugin_does() {
    use tonearm_loader::PluginHandle;
    use tonearm_loader::wasm::{WasmLimits, WasmRuntime};
    use tonearm_plugin_api::{MetadataSource as _, TrackQuery, TrackTags};

    let mb = FakeMusicBrainz::start_with_interval(std::time::Duration::from_millis(0)).unwrap();
    catalogue(&mb);
    let runtime = WasmRuntime::new(WasmLimits {
        cache_dir: Some(tonearm_e2e::component_cache()),
        ..WasmLimits::default()
    })
    .unwrap();
    let component = runtime
        .load(&tonearm_e2e::wasm_component(
            "tonearm-plugin-musicbrainz-component",
        ))
        .unwrap();
    assert_eq!(component.manifest, tonearm_plugin_musicbrainz::manifest());
    let PluginHandle::MetadataSource(factory) = component.handle else {
        panic!("not a metadata source")
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let http = {
        let _entered = rt.enter();
        HttpService::new(test_http_settings())
            .unwrap()
            .client_for("musicbrainz", vec!["127.0.0.1".into()], &[], None)
            .unwrap()
    };
    let ctx = tonearm_loader::base_context("musicbrainz")
        .with_http(http)
        .with_setting("endpoint.api", &mb.url());
    let sandboxed = factory.create(&ctx).unwrap();
    let linked = tonearm_plugin_musicbrainz::MusicBrainz::new(&ctx).unwrap();
    for (title, artist) in [("Pad?", "Zoë Keating"), ("Pluck “quoted” #2", "坂本龍一")] {
        let query = TrackQuery {
            tags: TrackTags {
                title: Some(title.into()),
                artists: vec![artist.into()],
                ..TrackTags::default()
            },
            duration_ms: Some(1000),
            fingerprint: None,
        };
        let a = sandboxed.identify(&query).unwrap();
        let b = linked.identify(&query).unwrap();
        assert!(!a.is_empty(), "{title}: nothing found");
        assert_eq!(a, b, "{title}");
        assert_eq!(a[0].tags.title.as_deref(), Some(title));
    }
    // The sandbox only reaches its declared hosts and configured endpoints.
    assert_eq!(mb.counts().forbidden, 0);
}

/// The fake holds clients to MusicBrainz's terms, so the tests above prove something: a
/// burst is refused with 503 and `Retry-After`, an anonymous client with 403, and an
/// unknown id gets the service's 404.
#[tokio::test]
async fn the_fake_refuses_bursts_and_anonymous_clients_as_musicbrainz_does() {
    let mb = FakeMusicBrainz::start().unwrap();
    catalogue(&mb);
    // The host's own client: its User-Agent names a contact (and it installs the TLS
    // provider every reqwest client here needs).
    let service = HttpService::new(test_http_settings()).unwrap();
    let client = service.client().clone();
    let url = format!(
        "{}/ws/2/recording?query=recording:%22Pad%3F%22&fmt=json",
        mb.url()
    );
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let response = client.get(&url).send().await.unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == 503 {
            assert_eq!(response.headers()["retry-after"], "1");
            let body: serde_json::Value =
                serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
            assert!(
                body["error"].as_str().unwrap().contains("rate limit"),
                "{body}"
            );
        }
    }
    assert_eq!(
        statuses,
        [200, 200, 503],
        "one request of burst, then refused"
    );
    assert_eq!(mb.counts().throttled, 1);

    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let anonymous = reqwest::Client::new().get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 403);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let missing = client
        .get(format!(
            "{}/ws/2/recording/5b11f4ce-a62d-471e-81fc-a69a8278c7ff?fmt=json",
            mb.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

/// A real JPEG's first bytes, as a cover's.
const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01 a small cover";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn covers_and_lyrics_are_fetched_checked_and_kept_once() {
    use tonearm_fakes::coverart::FakeCoverArt;
    use tonearm_fakes::lrclib::{FakeLrclib, LyricsRecord};
    use tonearm_host::enrich::Kind;

    let (with_art, garbage, without) = (
        "0b4f1a6e-3c1d-4b7e-9a39-5f7a3b2c1d0a",
        "0b4f1a6e-3c1d-4b7e-9a39-5f7a3b2c1d0b",
        "0b4f1a6e-3c1d-4b7e-9a39-5f7a3b2c1d0c",
    );
    let caa = FakeCoverArt::start().unwrap();
    caa.add(with_art, "image/jpeg", JPEG);
    caa.add(garbage, "image/jpeg", b"<html>an error page</html>");
    let lrclib = FakeLrclib::start().unwrap();
    let record = |track: &str, artist: &str, album: &str, synced: Option<&str>| LyricsRecord {
        track: track.into(),
        artist: artist.into(),
        album: album.into(),
        duration_s: 1.0,
        plain: Some(format!("words of {track}")),
        synced: synced.map(str::to_owned),
        instrumental: false,
    };
    lrclib.add(record(
        "Chord in C — Überstürzt",
        "Ånström Quartet",
        "Tonearm Samples",
        Some("[00:00.10] words\n[00:00.90] more"),
    ));
    lrclib.add(record(
        "Pad?",
        "Zoë Keating",
        "Tonearm Samples",
        Some("not lrc at all"),
    ));
    // Only on another edition: /api/get misses by album, the search finds it.
    let mut bell = record("Bell (AAC)", "Tonearm Ensemble", "Deluxe Edition", None);
    bell.duration_s = 1.6;
    lrclib.add(bell);
    lrclib.add(LyricsRecord {
        instrumental: true,
        plain: None,
        ..record("Tone (WAV)", "Tonearm Ensemble", "Tonearm Samples", None)
    });

    let plugins = [
        &tonearm_plugin_coverart::DESCRIPTOR,
        &tonearm_plugin_lrclib::DESCRIPTOR,
    ]
    .map(|d| tonearm_loader::load_builtin(d).unwrap())
    .to_vec();
    let Setup { _dir, tonearm } = setup_with(plugins).await;
    let tracks = tonearm.tracks(10, 0).await.unwrap();
    let id = |prefix: &str| {
        tracks
            .iter()
            .find(|t| t.path.starts_with(prefix))
            .unwrap()
            .id
    };
    // The samples that embed a cover (FLAC, MP3, AAC) have one already: not asked for.
    let embedded = tonearm.track_artwork(id("01")).await.unwrap().unwrap();
    assert_eq!(embedded.mime, "image/png");
    // The releases as identification would have written them.
    for (prefix, release) in [
        ("03", with_art),
        ("06", with_art),
        ("05", garbage),
        ("07", without),
        ("01", without),
    ] {
        tonearm
            .edit_tags(
                id(prefix),
                vec![(Field::MusicbrainzReleaseId, Value::Text(release.into()))],
            )
            .await
            .unwrap();
    }
    let mut settings = BTreeMap::new();
    settings.insert(
        "coverart".to_owned(),
        BTreeMap::from([("endpoint.api".to_owned(), caa.url())]),
    );
    settings.insert(
        "lrclib".to_owned(),
        BTreeMap::from([("endpoint.api".to_owned(), lrclib.url())]),
    );
    let options = EnrichOptions {
        settings,
        artwork_size: Some(400),
        ..EnrichOptions::default()
    };
    let mut events = tonearm.events();
    let reports = tonearm
        .enrich(
            None,
            &[Kind::Artwork, Kind::Lyrics],
            options.clone(),
            |_| {},
        )
        .await
        .unwrap();
    let (art, words) = (&reports[0], &reports[1]);

    // The bus tells apps what happened, kind by kind and track by track.
    use tonearm_host::events::MetadataEvent;
    let mut told = Vec::new();
    while let Some(received) = events.try_recv() {
        if let tonearm_host::Received::Event(tonearm_host::CoreEvent::Metadata(e)) = received {
            told.push(e);
        }
    }
    let tracks = told
        .iter()
        .filter(|e| matches!(e, MetadataEvent::Track { .. }))
        .count();
    assert_eq!(tracks, art.results.len() + words.results.len(), "{told:#?}");
    let finished = MetadataEvent::Finished {
        kind: "artwork".into(),
        written: 2,
        unchanged: 0,
        no_match: 2,
        failed: 0,
        skipped: 3,
    };
    assert!(told.contains(&finished), "{told:#?}");

    // Covers: one request per release, the size asked for, checked, stored once.
    assert_eq!(
        caa.served(),
        ["front-500", "front-500"],
        "one image per release asked"
    );
    assert_eq!(art.count(Outcome::Written), 2, "{art:#?}");
    let refused = art.results.iter().find(|r| r.track_id == id("05")).unwrap();
    assert_eq!(refused.outcome, Outcome::NoMatch);
    assert!(
        refused.error.as_deref().unwrap().contains("not an image"),
        "{refused:#?}"
    );
    let cover = tonearm.track_artwork(id("03")).await.unwrap().unwrap();
    assert_eq!(
        (cover.mime.as_str(), cover.bytes.as_slice()),
        ("image/jpeg", JPEG)
    );
    let same = tonearm.track_artwork(id("06")).await.unwrap().unwrap();
    assert_eq!(same.sha256, cover.sha256);
    assert!(tonearm.track_artwork(id("05")).await.unwrap().is_none());
    assert!(tonearm.track_artwork(id("07")).await.unwrap().is_none());
    let kept = tonearm.track_artwork(id("01")).await.unwrap().unwrap();
    assert_eq!(
        kept.sha256, embedded.sha256,
        "an embedded cover is not replaced"
    );
    let album = tonearm.album_artwork(id("07")).await.unwrap().unwrap();
    assert_eq!(album.sha256, embedded.sha256, "07's album has 01's cover");

    // Lyrics: LRC kept, non-LRC dropped with the reason, the search fallback, instrumental.
    let chord = tonearm.lyrics(id("01")).await.unwrap().unwrap();
    assert!(chord.synced_lrc.unwrap().starts_with("[00:00.10]"));
    assert_eq!(chord.source, "lrclib");
    let pad = tonearm.lyrics(id("03")).await.unwrap().unwrap();
    assert_eq!(
        (pad.plain.as_deref(), pad.synced_lrc),
        (Some("words of Pad?"), None)
    );
    let why = words
        .results
        .iter()
        .find(|r| r.track_id == id("03"))
        .unwrap();
    assert!(
        why.error.as_deref().unwrap().contains("not LRC"),
        "{why:#?}"
    );
    let bell = tonearm.lyrics(id("04")).await.unwrap();
    let bell = bell.unwrap_or_else(|| {
        panic!(
            "{:#?}",
            words.results.iter().find(|r| r.track_id == id("04"))
        )
    });
    assert_eq!(bell.plain.as_deref(), Some("words of Bell (AAC)"));
    assert!(
        tonearm
            .lyrics(id("06"))
            .await
            .unwrap()
            .unwrap()
            .instrumental
    );
    assert!(tonearm.lyrics(id("02")).await.unwrap().is_none());
    assert_eq!(words.count(Outcome::Written), 4, "{words:#?}");

    // Nothing is asked again for files that did not change.
    let before = lrclib.requests();
    let again = tonearm
        .enrich(None, &[Kind::Artwork, Kind::Lyrics], options, |_| {})
        .await
        .unwrap();
    assert_eq!(caa.served().len(), 2);
    assert_eq!(lrclib.requests(), before);
    assert!(again.iter().all(|r| r.results.is_empty()), "{again:#?}");
}

/// Cover art and lyrics from the sandboxed components: the same answers as the linked-in
/// plugins, the archive's redirect followed by the component to the second origin.
#[test]
fn the_artwork_and_lyrics_components_answer_as_the_builtin_plugins_do() {
    use tonearm_fakes::coverart::FakeCoverArt;
    use tonearm_fakes::lrclib::{FakeLrclib, LyricsRecord};
    use tonearm_loader::PluginHandle;
    use tonearm_loader::wasm::{WasmLimits, WasmRuntime};
    use tonearm_plugin_api::{ArtworkRequest, MetadataSource, TrackQuery, TrackTags};

    let release = "0b4f1a6e-3c1d-4b7e-9a39-5f7a3b2c1d0a";
    let caa = FakeCoverArt::start().unwrap();
    caa.add(release, "image/jpeg", JPEG);
    let lrclib = FakeLrclib::start().unwrap();
    lrclib.add(LyricsRecord {
        track: "Pad?".into(),
        artist: "Zoë Keating".into(),
        album: "Tonearm Samples".into(),
        duration_s: 1.5,
        plain: Some("words".into()),
        synced: Some("[00:00.50] words".into()),
        instrumental: false,
    });
    let runtime = WasmRuntime::new(WasmLimits {
        cache_dir: Some(tonearm_e2e::component_cache()),
        ..WasmLimits::default()
    })
    .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let service = {
        let _entered = rt.enter();
        HttpService::new(test_http_settings()).unwrap()
    };
    type Opened = (
        std::sync::Arc<dyn MetadataSource>,
        tonearm_plugin_api::HostContext,
    );
    let open = |package: &str, id: &str, url: String| -> Opened {
        let plugin = runtime.load(&tonearm_e2e::wasm_component(package)).unwrap();
        let PluginHandle::MetadataSource(factory) = plugin.handle else {
            panic!("{package} is not a metadata source")
        };
        let http = {
            let _entered = rt.enter();
            service
                .client_for(id, vec!["127.0.0.1".into()], &[], None)
                .unwrap()
        };
        let ctx = tonearm_loader::base_context(id)
            .with_http(http)
            .with_setting("endpoint.api", &url);
        (factory.create(&ctx).unwrap(), ctx)
    };

    let (covers, ctx) = open("tonearm-plugin-coverart-component", "coverart", caa.url());
    let linked = tonearm_plugin_coverart::CoverArt::new(&ctx).unwrap();
    let request = ArtworkRequest {
        release_id: Some(release.into()),
        recording_id: None,
        max_edge: Some(1000),
    };
    let art = covers.artwork(&request).unwrap().unwrap();
    assert_eq!(
        (art.mime.as_str(), art.bytes.as_slice(), art.max_edge),
        ("image/jpeg", JPEG, Some(1200))
    );
    assert_eq!(Some(art), linked.artwork(&request).unwrap());
    let none = ArtworkRequest {
        release_id: Some("0b4f1a6e-3c1d-4b7e-9a39-5f7a3b2c1dff".into()),
        ..request
    };
    assert_eq!(
        covers.artwork(&none).unwrap(),
        None,
        "a release without art is no error"
    );

    let (words, ctx) = open("tonearm-plugin-lrclib-component", "lrclib", lrclib.url());
    let linked = tonearm_plugin_lrclib::Lrclib::new(&ctx).unwrap();
    let query = TrackQuery {
        tags: TrackTags {
            title: Some("Pad?".into()),
            artists: vec!["Zoë Keating".into()],
            album: Some("Tonearm Samples".into()),
            ..TrackTags::default()
        },
        duration_ms: Some(1500),
        fingerprint: None,
    };
    let found = words.lyrics(&query).unwrap().unwrap();
    assert_eq!(found.synced_lrc.as_deref(), Some("[00:00.50] words"));
    assert_eq!(Some(found), linked.lyrics(&query).unwrap());
}

/// The metadata suite certifies the three plugins as sandboxed components, and fails a
/// source that reaches an undeclared host, makes up answers when its service is down,
/// or panics.
#[test]
fn the_metadata_suite_passes_the_components_and_fails_a_bad_source() {
    use std::sync::Arc;

    use tonearm_conformance::metadata;
    use tonearm_loader::PluginHandle;
    use tonearm_loader::wasm::{WasmLimits, WasmRuntime};
    use tonearm_plugin_api::{
        Candidate, HttpRequest, MetadataFeatures, MetadataSource, PluginKind, PluginManifest,
        PluginResult, TrackQuery,
    };

    let runtime = WasmRuntime::new(WasmLimits {
        cache_dir: Some(tonearm_e2e::component_cache()),
        ..WasmLimits::default()
    })
    .unwrap();
    for package in [
        "tonearm-plugin-musicbrainz-component",
        "tonearm-plugin-coverart-component",
        "tonearm-plugin-lrclib-component",
    ] {
        let plugin = runtime.load(&tonearm_e2e::wasm_component(package)).unwrap();
        let PluginHandle::MetadataSource(factory) = plugin.handle else {
            panic!("{package} is not a metadata source")
        };
        let report = metadata::check(&plugin.manifest, Arc::new(move |ctx| factory.create(ctx)));
        assert!(report.is_success(), "{package}: {report}");
    }

    struct Bad(Arc<dyn tonearm_plugin_api::HttpClient>);
    impl MetadataSource for Bad {
        fn identify(&self, query: &TrackQuery) -> PluginResult<Vec<Candidate>> {
            let title = query.tags.title.clone().unwrap_or_default();
            assert!(title.len() < 1000, "titles this long were not expected");
            let answer = self.0.send(HttpRequest {
                method: "GET".into(),
                url: format!("https://tracker.example/?t={}", title.len()),
                headers: vec![],
                body: vec![],
            });
            // Whatever happened, claim a match.
            let _ = answer;
            Ok(vec![Candidate::default()])
        }
    }
    let mut manifest = PluginManifest::new(
        "bad",
        "Bad",
        semver::Version::new(1, 0, 0),
        PluginKind::MetadataSource,
    );
    manifest.capabilities.http_hosts = vec!["api.example".into()];
    manifest.metadata = MetadataFeatures {
        identify: true,
        ..MetadataFeatures::default()
    };
    let report = metadata::check(
        &manifest,
        Arc::new(|ctx| Ok(Arc::new(Bad(ctx.require_http()?)) as Arc<dyn MetadataSource>)),
    );
    let failures = report.failures().join("\n");
    assert!(
        failures.contains("whose host its manifest does not declare"),
        "{report}"
    );
    assert!(failures.contains("panicked"), "{report}");
    assert!(!report.is_success());
}

/// A metadata source that keeps state: how often it was asked about each title.
struct Counter(Arc<dyn tonearm_plugin_api::KeyValueStore>);

impl tonearm_plugin_api::MetadataSource for Counter {
    fn identify(
        &self,
        query: &tonearm_plugin_api::TrackQuery,
    ) -> tonearm_plugin_api::PluginResult<Vec<tonearm_plugin_api::Candidate>> {
        let key = format!("asked/{}", query.tags.title.as_deref().unwrap_or(""));
        let asked = self.0.get(&key)?.and_then(|v| v.first().copied());
        self.0.put(&key, &[asked.unwrap_or(0) + 1])?;
        Ok(Vec::new())
    }
}

static COUNTER: tonearm_plugin_api::PluginDescriptor = tonearm_plugin_api::PluginDescriptor {
    manifest: || {
        let mut m = tonearm_plugin_api::PluginManifest::new(
            "counter",
            "Counter",
            semver::Version::new(1, 0, 0),
            tonearm_plugin_api::PluginKind::MetadataSource,
        );
        m.capabilities.state = true;
        m.metadata.identify = true;
        m
    },
    instantiate: tonearm_plugin_api::Instantiate::MetadataSource(|ctx| {
        Ok(Box::new(Counter(ctx.require_state()?)))
    }),
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metadata_source_keeps_its_state_in_the_library_between_runs() {
    let plugin = tonearm_loader::load_builtin(&COUNTER).unwrap();
    let Setup { _dir: dir, tonearm } = setup(plugin).await;
    let library = SqliteStore::open(&dir.path().join("library.db"))
        .await
        .unwrap();
    let only_counter = |dry_run, refresh| EnrichOptions {
        dry_run,
        refresh,
        sources: Some(vec!["counter".into()]),
        ..EnrichOptions::default()
    };
    let counts = || async {
        let state = library.metadata_state("counter").await.unwrap();
        let mut counts: Vec<u8> = state.values().map(|v| v[0]).collect();
        counts.dedup();
        (state.len(), counts)
    };

    // A dry run keeps what the source learned in memory only.
    let dry = tonearm
        .enrich_tags(None, only_counter(true, false), |_| {})
        .await
        .unwrap();
    assert_eq!(dry.results.len(), 7, "{dry:#?}");
    assert_eq!(counts().await, (0, vec![]), "a dry run saved state");

    // A run saves it; a later run (a new instance of the source) starts from it.
    tonearm
        .enrich_tags(None, only_counter(false, false), |_| {})
        .await
        .unwrap();
    assert_eq!(counts().await, (7, vec![1]));
    tonearm
        .enrich_tags(None, only_counter(false, true), |_| {})
        .await
        .unwrap();
    assert_eq!(counts().await, (7, vec![2]));
}
