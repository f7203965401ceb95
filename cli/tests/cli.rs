//! End-to-end tests of the `tonearm` command on temporary libraries.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::path::PathBuf;

use tonearm_conformance::fixtures::FixtureSet;

mod common;
use common::*;

#[test]
fn demo_runs_on_the_embedded_samples() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(&isolated()
        .args(["demo", "--keep"])
        .arg(dir.path())
        .env_remove("TONEARM_LIBRARY")
        .output()
        .unwrap());
    assert!(out.contains("7 added"), "{out}");
    assert!(out.contains("× realtime"), "{out}");
    let wav = std::fs::read(dir.path().join("decoded.wav")).unwrap();
    assert_eq!(&wav[..4], b"RIFF");
    assert!(wav.len() > 10_000);
    assert!(dir.path().join("library.db").exists());
}

#[test]
fn builtin_plugins_are_registered_through_inventory() {
    let dir = tempfile::tempdir().unwrap();
    // `plugins` is the old name of `plugin`, kept as an alias.
    let plugins = json(&tonearm(
        &dir.path().join("l.db"),
        &["plugins", "list", "--json"],
    ));
    let ids: Vec<&str> = plugins
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["manifest"]["id"].as_str().unwrap())
        .collect();
    let mut expected = vec!["gdrive", "local", "onedrive", "opus", "symphonia"];
    for (on, id) in [
        (cfg!(feature = "plugin-coverart"), "coverart"),
        (cfg!(feature = "plugin-lrclib"), "lrclib"),
        (cfg!(feature = "plugin-musicbrainz"), "musicbrainz"),
    ] {
        if on {
            expected.push(id);
        }
    }
    expected.sort_unstable();
    assert_eq!(ids, expected);
    let origins: Vec<&str> = plugins
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["origin"]["type"].as_str().unwrap())
        .collect();
    // Opus is linked in by default, or embedded as a component with `bundle-opus`.
    let opus = if cfg!(feature = "bundle-opus") {
        "bundled"
    } else {
        "builtin"
    };
    let expected: Vec<&str> = ids
        .iter()
        .map(|id| if *id == "opus" { opus } else { "builtin" })
        .collect();
    assert_eq!(origins, expected);
    let bare = json(&tonearm(
        &dir.path().join("l.db"),
        &["--no-builtins", "plugin", "list", "--json"],
    ));
    assert_eq!(bare, serde_json::json!([]));
    let inspected = json(&tonearm(
        &dir.path().join("l.db"),
        &["plugin", "info", "symphonia", "--json"],
    ));
    assert!(
        inspected["loaded"]["manifest"]["formats"]["extensions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "flac")
    );
    let err = fails(&tonearm(
        &dir.path().join("l.db"),
        &["plugin", "info", "nope"],
    ));
    assert!(
        err.contains("no plugin with id `nope` is loaded, installed or in the index"),
        "{err}"
    );
}

#[test]
fn scan_list_search_stats_and_decode() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib/library.db");
    let music = samples(dir.path());
    let scanned = ok(&tonearm(&lib, &["scan", music.to_str().unwrap()]));
    assert!(scanned.contains("7 added"), "{scanned}");

    // Scanning the same folder again reuses its source and finds nothing new.
    let again = ok(&tonearm(&lib, &["scan", music.to_str().unwrap()]));
    assert!(
        again.contains("0 added") && again.contains("0 removed"),
        "{again}"
    );
    let sources = json(&tonearm(&lib, &["source", "list", "--json"]));
    assert_eq!(sources.as_array().unwrap().len(), 1);

    let tracks = json(&tonearm(&lib, &["library", "list", "--json"]));
    assert_eq!(tracks.as_array().unwrap().len(), 7);
    let found = json(&tonearm(&lib, &["library", "search", "bell", "--json"]));
    assert_eq!(found.as_array().unwrap().len(), 2);
    let stats = json(&tonearm(&lib, &["library", "stats", "--json"]));
    assert_eq!(stats["tracks"], 7);
    assert_eq!(stats["albums"], 1);
    let table = ok(&tonearm(&lib, &["library", "list"]));
    assert!(table.contains("Chord in C — Überstürzt"), "{table}");

    let wav = dir.path().join("out.wav");
    let decoded = ok(&tonearm(
        &lib,
        &["decode", "chord", "-o", wav.to_str().unwrap()],
    ));
    assert!(
        decoded.contains("decoded 66150 frames") && decoded.contains("realtime"),
        "{decoded}"
    );
    // 58-byte header + 66150 frames × 2 channels × 4 bytes.
    assert_eq!(std::fs::metadata(&wav).unwrap().len(), 58 + 66150 * 8);
    let id = tracks[0]["id"].as_i64().unwrap().to_string();
    ok(&tonearm(
        &lib,
        &["decode", &id, "-o", wav.to_str().unwrap()],
    ));
    let by_path = music.join("03 pad.ogg");
    let decoded = ok(&tonearm(
        &lib,
        &[
            "decode",
            by_path.to_str().unwrap(),
            "-o",
            wav.to_str().unwrap(),
        ],
    ));
    assert!(decoded.contains("72000 frames"), "{decoded}");
}

#[test]
fn errors_say_what_went_wrong_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("l.db");
    let err = fails(&tonearm(&lib, &["scan", "/no/such/folder"]));
    assert!(err.contains("cannot open /no/such/folder"), "{err}");
    let err = fails(&tonearm(&lib, &["sync"]));
    assert!(err.contains("tonearm scan DIR"), "{err}");
    let err = fails(&tonearm(
        &lib,
        &["decode", "nothing matches this", "-o", "/tmp/x.wav"],
    ));
    assert!(
        err.contains("neither a file, a track id, nor text matching"),
        "{err}"
    );
    let garbage = dir.path().join("garbage.flac");
    std::fs::write(&garbage, b"definitely not a flac file").unwrap();
    let out = dir.path().join("never.wav");
    let err = fails(&tonearm(
        &lib,
        &[
            "decode",
            garbage.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
    ));
    assert!(err.contains("garbage.flac"), "{err}");
    assert!(!out.exists(), "no partial output");
    let err = fails(&tonearm(&lib, &["source", "remove", "ghost"]));
    assert!(err.contains("no source named `ghost`"), "{err}");
    assert!(err.contains("tonearm source list"), "with a hint: {err}");
}

#[test]
fn the_config_file_is_applied_and_its_mistakes_reported() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("l.db");
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        r#"{"preferred_decoders": {"flac": "symphonia", "xyz": "nope"}}"#,
    )
    .unwrap();
    let out = tonearm(
        &lib,
        &["--config", config.to_str().unwrap(), "plugin", "list"],
    );
    ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`nope` (for .xyz) is not a loaded decoder"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("symphonia"),
        "a valid preference is silent: {stderr}"
    );

    std::fs::write(&config, "{ not json").unwrap();
    let err = fails(&tonearm(
        &lib,
        &["--config", config.to_str().unwrap(), "plugin", "list"],
    ));
    assert!(
        err.contains("is not valid") && err.contains("config.json"),
        "{err}"
    );
    let err = fails(&tonearm(
        &lib,
        &["--config", "/no/such/config.json", "plugin", "list"],
    ));
    assert!(err.contains("cannot read the config file"), "{err}");
}

#[test]
fn conformance_command_certifies_builtin_plugins() {
    let dir = tempfile::tempdir().unwrap();
    let mut ids = vec!["symphonia", "local"];
    // Metadata sources are certified against a scripted service, without the network.
    for (on, id) in [
        (cfg!(feature = "plugin-musicbrainz"), "musicbrainz"),
        (cfg!(feature = "plugin-coverart"), "coverart"),
        (cfg!(feature = "plugin-lrclib"), "lrclib"),
    ] {
        if on {
            ids.push(id);
        }
    }
    for id in ids {
        let out = ok(&tonearm(&dir.path().join("l.db"), &["conformance", id]));
        assert!(out.contains(" 0 failed"), "{out}");
    }
}

#[test]
fn native_plugins_load_and_the_plugin_folder_is_scanned_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("l.db");
    let plugins = dir.path().join("plugins");
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        format!(r#"{{"plugin_dirs": [{:?}]}}"#, plugins.to_str().unwrap()),
    )
    .unwrap();
    let with_config = |args: &[&str]| {
        let mut all = vec!["--config", config.to_str().unwrap()];
        all.extend_from_slice(args);
        tonearm(&lib, &all)
    };
    let quiet = tonearm_e2e::native_library("tonearm-test-plugin-quiet");
    let out = ok(&with_config(&["plugin", "load", quiet.to_str().unwrap()]));
    assert!(out.contains("quiet"), "{out}");
    // A library the user puts in the plugin folder (native ones install from an index
    // that signs them, tests/registry.rs).
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(&quiet, plugins.join(quiet.file_name().unwrap())).unwrap();

    // Installed: loaded at every start, shown with where it came from.
    let listed = json(&with_config(&["plugin", "list", "--json"]));
    let quiet_info = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["manifest"]["id"] == "quiet")
        .unwrap();
    assert_eq!(quiet_info["origin"]["type"], "native");
    assert!(
        quiet_info["origin"]["path"]
            .as_str()
            .unwrap()
            .starts_with(plugins.to_str().unwrap())
    );

    // A broken library in the folder is reported and skipped; the rest still load.
    std::fs::write(plugins.join("broken.so"), "garbage").unwrap();
    let out = with_config(&["plugin", "list"]);
    let stdout = ok(&out);
    assert!(
        stdout.contains("quiet") && stdout.contains("symphonia"),
        "{stdout}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("skipping plugin"),
        "broken.so is reported"
    );

    // Loading it again names where the plugin already comes from.
    let err = fails(&with_config(&["plugin", "load", quiet.to_str().unwrap()]));
    assert!(err.contains("already loaded (native"), "{err}");
}

#[test]
fn refused_native_libraries_explain_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("l.db");
    let wrong = tonearm_e2e::native_library("tonearm-test-plugin-wrong-major");
    let err = fails(&tonearm(
        &lib,
        &["--plugin", wrong.to_str().unwrap(), "plugin", "list"],
    ));
    assert!(
        err.contains("built for plugin API 1.0.0") && err.contains("this host implements"),
        "{err}"
    );
    let not = tonearm_e2e::native_library("tonearm-test-plugin-not-a-plugin");
    let err = fails(&tonearm(&lib, &["plugin", "load", not.to_str().unwrap()]));
    assert!(err.contains("exports no Tonearm root module"), "{err}");
}

/// Scans the samples, decodes one and certifies Symphonia with only the plugin files in
/// `plugins` loaded (no builtins); returns what `plugins list --json` said.
fn scan_decode_and_certify_with(plugins: &[PathBuf]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("l.db");
    let music = samples(dir.path());
    let only = |args: &[&str]| {
        let mut all = vec!["--no-builtins"];
        for plugin in plugins {
            all.extend(["--plugin", plugin.to_str().unwrap()]);
        }
        all.extend_from_slice(args);
        tonearm(&lib, &all)
    };
    let listed = json(&only(&["plugin", "list", "--json"]));
    let out = ok(&only(&["scan", music.to_str().unwrap()]));
    assert!(out.contains("7 added"), "{out}");
    let wav = dir.path().join("x.wav");
    let out = ok(&only(&["decode", "pad", "-o", wav.to_str().unwrap()]));
    assert!(out.contains("72000 frames"), "{out}");
    let out = ok(&only(&["conformance", "symphonia"]));
    assert!(out.contains(" 0 failed"), "{out}");
    listed
}

fn origins(listed: &serde_json::Value) -> Vec<&str> {
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["origin"]["type"].as_str().unwrap())
        .collect()
}

#[test]
fn the_dylib_plugins_scan_and_decode_like_the_builtins() {
    let listed = scan_decode_and_certify_with(&[
        tonearm_e2e::native_library("tonearm-plugin-symphonia-dylib"),
        tonearm_e2e::native_library("tonearm-plugin-local-dylib"),
    ]);
    assert_eq!(origins(&listed), ["native", "native"]);
}

#[test]
fn ogg_opus_decodes_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("l.db");
    let music = dir.path().join("opus");
    std::fs::create_dir_all(&music).unwrap();
    let fixtures =
        FixtureSet::load(&tonearm_e2e::workspace().join("plugins/opus/tests/fixtures")).unwrap();
    for f in &fixtures.audio {
        std::fs::write(music.join(&f.file), &f.bytes).unwrap();
    }
    // Ogg Opus under the generic Ogg extension goes to the Opus plugin too.
    std::fs::write(music.join("renamed.ogg"), &fixtures.audio[0].bytes).unwrap();
    let out = ok(&tonearm(&lib, &["scan", music.to_str().unwrap()]));
    let added = fixtures.audio.len() + 1;
    assert!(out.contains(&format!("{added} added")), "{out}");
    let wav = dir.path().join("x.wav");
    let out = ok(&tonearm(
        &lib,
        &[
            "decode",
            music.join("renamed.ogg").to_str().unwrap(),
            "-o",
            wav.to_str().unwrap(),
        ],
    ));
    assert!(out.contains("with `opus`"), "{out}");
    assert_eq!(&std::fs::read(&wav).unwrap()[..4], b"RIFF");
}

/// Compiled components in `cache`.
#[cfg(feature = "bundle-opus")]
fn compiled_components(cache: &std::path::Path) -> usize {
    fn walk(dir: &std::path::Path, found: &mut usize) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "cwasm") {
                *found += 1;
            }
        }
    }
    let mut found = 0;
    walk(cache, &mut found);
    found
}

#[cfg(feature = "bundle-opus")]
#[test]
fn the_bundled_component_compiles_only_when_a_file_needs_it() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("fresh-cache");
    let lib = dir.path().join("l.db");
    let run = |args: &[&str]| {
        command_in(dir.path())
            .env("XDG_CACHE_HOME", &cache)
            .arg("--library")
            .arg(&lib)
            .args(args)
            .output()
            .unwrap()
    };
    // Listing plugins, scanning a folder and decoding MP3 and Ogg Vorbis: no Opus file,
    // so the Opus component is listed but never compiled.
    assert!(ok(&run(&["plugin", "list"])).contains("opus"));
    let music = samples(dir.path());
    ok(&run(&["scan", music.to_str().unwrap()]));
    let wav = dir.path().join("x.wav");
    for file in ["02 pluck.mp3", "03 pad.ogg"] {
        let out = ok(&run(&[
            "decode",
            music.join(file).to_str().unwrap(),
            "-o",
            wav.to_str().unwrap(),
        ]));
        assert!(!out.contains("with `opus`"), "{out}");
    }
    assert_eq!(compiled_components(&cache), 0, "nothing needed Opus");

    // An Opus file compiles it, once, and the next run takes the compiled copy.
    let opus =
        FixtureSet::load(&tonearm_e2e::workspace().join("plugins/opus/tests/fixtures")).unwrap();
    let file = dir.path().join("a.opus");
    std::fs::write(&file, &opus.audio[0].bytes).unwrap();
    for _ in 0..2 {
        let out = ok(&run(&[
            "decode",
            file.to_str().unwrap(),
            "-o",
            wav.to_str().unwrap(),
        ]));
        assert!(out.contains("with `opus`"), "{out}");
        assert_eq!(compiled_components(&cache), 1);
    }
}

#[test]
fn components_given_with_plugin_scan_and_decode_like_the_builtins() {
    let listed = scan_decode_and_certify_with(&[
        tonearm_e2e::wasm_component("tonearm-plugin-symphonia-component"),
        tonearm_e2e::wasm_component("tonearm-plugin-local-component"),
    ]);
    assert_eq!(origins(&listed), ["wasm", "wasm"]);
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("l.db");
    // A file that is not a component is refused with the reason.
    let bogus = dir.path().join("bogus.wasm");
    std::fs::write(&bogus, b"\0asm\x01\0\0\0garbage").unwrap();
    let err = fails(&tonearm(
        &lib,
        &["--plugin", bogus.to_str().unwrap(), "plugin", "list"],
    ));
    assert!(err.contains("is not a usable Tonearm component"), "{err}");
}

#[test]
fn a_google_drive_source_signs_in_syncs_and_never_logs_a_secret() {
    let oauth = tonearm_fakes::oauth::FakeOAuth::start().unwrap();
    let drive = tonearm_fakes::drive::FakeDrive::start(oauth.authority().clone()).unwrap();
    oauth.authority().set_rotation(true);
    for f in &FixtureSet::bundled().audio {
        drive.add_file_at(&format!("Music/{}", f.file), &f.bytes);
    }
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("l.db");
    let SignedIn {
        url,
        code,
        out,
        mut logs,
    } = sign_in_gdrive(&lib, &oauth, &drive, "cloud");
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    assert!(out.contains("added source `cloud`"), "{out}");
    assert_eq!(oauth.authority().code_exchanges(), 1);

    // Sync, with the access token dying first: refreshed (and rotated) on the way.
    oauth.authority().expire_access_tokens();
    let synced = isolated()
        .arg("--library")
        .arg(&lib)
        .args(["-vvv", "sync", "cloud"])
        .output()
        .unwrap();
    let sync_out = ok(&synced);
    assert!(sync_out.contains("7 added"), "{sync_out}");
    assert_eq!(oauth.authority().refreshes(), 1);
    logs.push_str(&String::from_utf8_lossy(&synced.stderr));

    // Decoding reads the track through the Drive plugin.
    let wav = dir.path().join("x.wav");
    ok(&tonearm(
        &lib,
        &["decode", "pad", "-o", wav.to_str().unwrap()],
    ));

    // The token file is owner-only and holds the rotated refresh token.
    let home = isolated()
        .get_envs()
        .find(|(k, _)| *k == "XDG_DATA_HOME")
        .and_then(|(_, v)| v)
        .map(PathBuf::from)
        .unwrap();
    let token_file = home.join("tonearm/auth/tokens.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&token_file).unwrap()).unwrap();
    let cloud = &stored["sources"]["cloud"];
    let refresh = cloud["refresh_token"].as_str().unwrap();
    assert_eq!(oauth.authority().live_refresh_tokens(), [refresh]);
    // Not one secret in a trace-level log of sign-in, refresh and sync.
    let access = cloud["access_token"].as_str().unwrap();
    assert!(
        logs.contains("TRACE") || logs.contains("DEBUG"),
        "logging was off: {logs}"
    );
    for secret in [access, refresh, code.as_str()] {
        assert!(!logs.contains(secret), "a secret reached the log");
    }
    assert!(!logs.contains("code_verifier") && !logs.contains("Bearer "));

    // Removing the source forgets its tokens.
    ok(&tonearm(&lib, &["source", "remove", "cloud"]));
    let stored = std::fs::read_to_string(&token_file).unwrap();
    assert!(!stored.contains(refresh));
}

/// `tonearm enrich` against a fake MusicBrainz: the matches written with their
/// provenance, a field the user set kept, and a second run that asks nothing.
#[cfg(feature = "plugin-musicbrainz")]
#[test]
fn enrich_writes_matches_with_provenance_and_keeps_user_edits() {
    use tonearm_fakes::musicbrainz::{FakeMusicBrainz, Recording, ReleaseEntry};

    let mb = FakeMusicBrainz::start().unwrap();
    for (n, title, artists) in [
        (
            1,
            "Chord in C — Überstürzt",
            vec!["Ånström Quartet", "Zoë Keating"],
        ),
        (3, "Pad?", vec!["Zoë Keating"]),
    ] {
        mb.add(Recording {
            id: format!("5b11f4ce-a62d-471e-81fc-a69a8278c7{n:02}"),
            title: title.into(),
            artists: artists.into_iter().map(str::to_owned).collect(),
            length_ms: 1000,
            isrcs: vec![],
            releases: vec![ReleaseEntry {
                id: "0b4f1a6e-3c1d-4b7e-9a39-5f7a3b2c1d00".into(),
                title: "Tonearm Samples".into(),
                artist: "Tonearm Ensemble".into(),
                date: "2024".into(),
                disc: 1,
                discs: 2,
                track: n,
                tracks: 3,
            }],
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("library.db");
    let music = samples(dir.path());
    ok(&tonearm(&lib, &["scan", music.to_str().unwrap()]));
    let tracks = json(&tonearm(&lib, &["library", "search", "pad", "--json"]));
    let pad = tracks[0]["id"].as_i64().unwrap().to_string();
    ok(&tonearm(
        &lib,
        &["library", "edit", &pad, "--set", "track_total=5"],
    ));

    let endpoint = format!("musicbrainz.endpoint.api={}", mb.url());
    let out = ok(&tonearm(
        &lib,
        &["enrich", "--only", "tags", "--set", &endpoint],
    ));
    assert!(
        out.contains("tags: 7 tracks: 2 written") && out.contains("5 without a match"),
        "{out}"
    );
    assert!(
        out.contains("musicbrainz_recording_id: (none) -> \"5b11f4ce"),
        "{out}"
    );
    let origin = json(&tonearm(&lib, &["library", "provenance", &pad, "--json"]));
    let fields: Vec<(&str, &str)> = origin
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["field"].as_str().unwrap(), f["source"].as_str().unwrap()))
        .collect();
    assert!(fields.contains(&("track_total", "user")), "{origin}");
    assert!(
        fields.contains(&("musicbrainz_release_id", "musicbrainz")),
        "{origin}"
    );
    let track_total = origin
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "track_total")
        .unwrap();
    assert_eq!(track_total["value"], 5, "the user's value stays: {origin}");

    let again = ok(&tonearm(
        &lib,
        &["enrich", "--only", "tags", "--set", &endpoint],
    ));
    assert!(again.contains("7 answered before"), "{again}");
    assert_eq!(mb.counts().forbidden, 0);
    assert_eq!(mb.counts().requests, 7, "the second run asked nothing");

    let err = fails(&tonearm(&lib, &["enrich", "nowhere"]));
    assert!(err.contains("no source named `nowhere`"), "{err}");
}

/// `tonearm scan --enrich` syncs, then enriches with the config file's endpoints.
#[cfg(all(
    feature = "plugin-musicbrainz",
    feature = "plugin-coverart",
    feature = "plugin-lrclib"
))]
#[test]
fn scan_then_enrich_uses_the_configured_endpoints() {
    use tonearm_fakes::coverart::FakeCoverArt;
    use tonearm_fakes::lrclib::FakeLrclib;
    use tonearm_fakes::musicbrainz::FakeMusicBrainz;

    let (mb, caa, lrclib) = (
        FakeMusicBrainz::start().unwrap(),
        FakeCoverArt::start().unwrap(),
        FakeLrclib::start().unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let endpoint = |url: String| serde_json::json!({ "endpoint.api": url });
    let settings = serde_json::json!({
        "metadata": {
            "musicbrainz": endpoint(mb.url()),
            "coverart": endpoint(caa.url()),
            "lrclib": endpoint(lrclib.url()),
        },
        "http": { "contact": "tests@example.org" }
    });
    std::fs::write(&config, settings.to_string()).unwrap();
    let lib = dir.path().join("library.db");
    let music = samples(dir.path());
    let out = ok(&tonearm(
        &lib,
        &[
            "--config",
            config.to_str().unwrap(),
            "scan",
            music.to_str().unwrap(),
            "--enrich",
        ],
    ));
    assert!(out.contains("7 added"), "{out}");
    // An empty catalogue: every track asked once, nothing written, nothing failed.
    assert!(out.contains("tags: 7 tracks: 0 written"), "{out}");
    assert!(out.contains("lyrics: 7 tracks: 0 written"), "{out}");
    assert_eq!(mb.counts().requests, 7);
    assert_eq!(lrclib.requests(), 14, "a lookup and a search per track");
}
