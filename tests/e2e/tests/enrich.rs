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
    registry.register(plugin).unwrap();
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
