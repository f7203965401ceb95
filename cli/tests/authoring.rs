//! An outside author's path, as CI walks it: `tonearm plugin new` writes a crate outside
//! this workspace; its own conformance test passes on the first build; its native and
//! component forms build and certify; the component is published to an index, served
//! over HTTP, installed into a fresh host and decodes a file there.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod common;
use common::*;

/// `cargo ARGS` in `dir`, into `target` (shared between runs, so only the new crate
/// compiles each time).
fn cargo(dir: &Path, target: &Path, args: &[&str]) {
    let status = Command::new(env!("CARGO"))
        .current_dir(dir)
        .args(args)
        .arg("--quiet")
        .arg("--target-dir")
        .arg(target)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "cargo {args:?} failed in {}",
        dir.display()
    );
}

fn tonearm_in(home: &Path, args: &[&str]) -> std::process::Output {
    command_in(home)
        .arg("--library")
        .arg(home.join("library.db"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn a_decoder_from_the_template_is_certified_published_installed_and_decodes() {
    let outside = tempfile::tempdir().unwrap();
    let author = outside.path().join("author");
    let crate_dir = outside.path().join("acme-wav");
    let workspace = tonearm_e2e::workspace();
    let out = ok(&tonearm_in(
        &author,
        &[
            "plugin",
            "new",
            "decoder",
            "acme-wav",
            "--path",
            crate_dir.to_str().unwrap(),
            "--tonearm",
            workspace.to_str().unwrap(),
        ],
    ));
    assert!(out.contains("a Decoder plugin in"), "{out}");
    let test = std::fs::read_to_string(crate_dir.join("tests/conformance.rs")).unwrap();
    assert!(
        test.lines().count() <= 30,
        "the conformance test is short:\n{test}"
    );

    // Its own test: the conformance suite, on the first build.
    let target = workspace.join("target/templates");
    cargo(&crate_dir, &target, &["test"]);
    // Every form, certified by the host that will load it.
    cargo(&crate_dir, &target, &["build", "-p", "acme-wav-dylib"]);
    let components = workspace.join("target/components");
    cargo(
        &crate_dir,
        &components,
        &[
            "build",
            "-p",
            "acme-wav-component",
            "--target",
            "wasm32-wasip2",
        ],
    );
    let library: PathBuf = target.join("debug").join(format!(
        "{}acme_wav_dylib{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    let component = components.join("wasm32-wasip2/debug/acme_wav_component.wasm");
    for form in [&library, &component] {
        let report = ok(&tonearm_in(
            &author,
            &[
                "--plugin",
                form.to_str().unwrap(),
                "conformance",
                "acme-wav",
            ],
        ));
        assert!(report.contains(" 0 failed"), "{report}");
    }

    // Published to an index, served, installed from it by a user.
    let index = outside.path().join("index");
    let key = outside.path().join("author.key");
    ok(&tonearm_in(
        &author,
        &["registry", "keygen", "-o", key.to_str().unwrap()],
    ));
    ok(&tonearm_in(
        &author,
        &[
            "registry",
            "init",
            index.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
    ));
    ok(&tonearm_in(
        &author,
        &[
            "registry",
            "publish",
            component.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--index",
            index.to_str().unwrap(),
        ],
    ));
    let mut server = command_in(&author)
        .args([
            "registry",
            "serve",
            index.to_str().unwrap(),
            "--addr",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap();
    let user = outside.path().join("user");
    let root = index.join("root/1.json");
    let installed = tonearm_in(
        &user,
        &[
            "plugin",
            "--index",
            url,
            "--index-root",
            root.to_str().unwrap(),
            "install",
            "acme-wav",
        ],
    );
    let _ = server.kill();
    let _ = server.wait();
    let out = ok(&installed);
    assert!(
        out.contains("installed `acme-wav` 0.1.0 (component"),
        "{out}"
    );

    // The user's host decodes a WAV file with it, and nothing else.
    let music = samples(&user);
    let wav = user.join("out.wav");
    let out = ok(&tonearm_in(
        &user,
        &[
            "--no-builtins",
            "decode",
            music.join("06 tone.wav").to_str().unwrap(),
            "-o",
            wav.to_str().unwrap(),
        ],
    ));
    assert!(
        out.contains("22050 frames") && out.contains("acme-wav"),
        "{out}"
    );
}
