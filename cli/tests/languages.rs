//! A plugin written in another language: `plugins/lrclib-python`, built with
//! componentize-py, passes the conformance suite, is published to an index, installed from
//! it over HTTP, and enriches a track's lyrics from the fake LRCLIB.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use tonearm_fakes::lrclib::{FakeLrclib, LyricsRecord};

mod common;
use common::*;

#[test]
fn a_python_plugin_is_certified_installed_from_an_index_and_finds_lyrics() {
    let component = tonearm_e2e::python_component("lrclib-python");
    let dir = tempfile::tempdir().unwrap();
    let author = dir.path().join("author");
    let report = ok(&tonearm_in(
        &author,
        &[
            "--plugin",
            component.to_str().unwrap(),
            "conformance",
            "lrclib-python",
        ],
    ));
    assert!(report.contains("9 passed, 0 failed"), "{report}");

    let (index, key) = (dir.path().join("index"), dir.path().join("author.key"));
    let (index_arg, key_arg) = (index.to_str().unwrap(), key.to_str().unwrap());
    ok(&tonearm_in(&author, &["registry", "keygen", "-o", key_arg]));
    ok(&tonearm_in(
        &author,
        &["registry", "init", index_arg, "--key", key_arg],
    ));
    let component_arg = component.to_str().unwrap();
    let publish = [
        "registry",
        "publish",
        component_arg,
        "--key",
        key_arg,
        "--index",
        index_arg,
    ];
    let out = ok(&tonearm_in(&author, &publish));
    assert!(
        out.contains("published `lrclib-python` 0.1.0 (wasm32-wasip2"),
        "{out}"
    );
    let server = Listening::spawn(command_in(&author).args([
        "registry",
        "serve",
        index_arg,
        "--addr",
        "127.0.0.1:0",
    ]));
    let url = server.url.clone();

    let user = dir.path().join("user");
    let root = index.join("root/1.json");
    let install = [
        "plugin",
        "--index",
        &url,
        "--index-root",
        root.to_str().unwrap(),
    ];
    let installed = tonearm_in(
        &user,
        &[&install[..], &["install", "lrclib-python", "--yes"]].concat(),
    );
    drop(server);
    let out = ok(&installed);
    assert!(
        out.contains("installed `lrclib-python` 0.1.0 (component"),
        "{out}"
    );

    // LRCLIB knows the track on another album: `/api/get` misses, the search finds it.
    let lrclib = FakeLrclib::start().unwrap();
    lrclib.add(LyricsRecord {
        track: "Tone (WAV)".into(),
        artist: "Tonearm Ensemble".into(),
        album: "Other album".into(),
        duration_s: 1.05,
        plain: Some("a tone, held".into()),
        synced: Some("[00:00.50] a tone, held".into()),
        instrumental: false,
    });
    let music = samples(&user);
    ok(&tonearm_in(&user, &["scan", music.to_str().unwrap()]));
    let setting = format!("lrclib-python.endpoint.api={}", lrclib.url());
    ok(&tonearm_in(
        &user,
        &[
            "enrich",
            "--only",
            "lyrics",
            "--from",
            "lrclib-python",
            "--set",
            &setting,
        ],
    ));
    let listed = json(&tonearm_in(
        &user,
        &["library", "search", "tone wav", "--json"],
    ));
    let track = listed[0]["id"].as_i64().unwrap().to_string();
    let out = ok(&tonearm_in(&user, &["lyrics", &track, "--synced"]));
    assert!(out.contains("[00:00.50] a tone, held"), "{out}");
}
