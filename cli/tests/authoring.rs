//! An outside author's path, as CI walks it: `tonearm plugin new` writes a crate outside
//! this workspace; its own conformance test passes on the first build; its native and
//! component forms build and certify; the component is published to an index, served
//! over HTTP, installed into a fresh host and used there.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use tonearm_conformance::http::TestHttp;
use tonearm_plugin_api::{HttpClient, HttpRequest};

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

/// An author outside the workspace, with the forms of one plugin made from a template.
struct Author {
    dir: tempfile::TempDir,
    id: &'static str,
    crate_dir: PathBuf,
}

impl Author {
    /// Generates the `template` plugin `id` and runs its own tests.
    fn new(template: &str, id: &'static str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let crate_dir = dir.path().join(id);
        let workspace = tonearm_e2e::workspace();
        let author = Self { dir, id, crate_dir };
        let out = ok(&tonearm_in(
            &author.home(),
            &[
                "plugin",
                "new",
                template,
                id,
                "--path",
                author.crate_dir.to_str().unwrap(),
                "--tonearm",
                workspace.to_str().unwrap(),
            ],
        ));
        assert!(out.contains("plugin in"), "{out}");
        let test = std::fs::read_to_string(author.crate_dir.join("tests/conformance.rs")).unwrap();
        assert!(
            test.lines().count() <= 30,
            "the conformance test is short:\n{test}"
        );
        // Its own test: the conformance suite, on the first build.
        cargo(&author.crate_dir, &Self::target(), &["test"]);
        author
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn target() -> PathBuf {
        tonearm_e2e::workspace().join("target/templates")
    }

    /// Builds the native library.
    fn library(&self) -> PathBuf {
        let package = format!("{}-dylib", self.id);
        cargo(&self.crate_dir, &Self::target(), &["build", "-p", &package]);
        Self::target().join("debug").join(format!(
            "{}{}{}",
            std::env::consts::DLL_PREFIX,
            package.replace('-', "_"),
            std::env::consts::DLL_SUFFIX
        ))
    }

    /// Builds the component (with the other components' target folder, which has the
    /// guest bindings compiled).
    fn component(&self) -> PathBuf {
        let package = format!("{}-component", self.id);
        let components = tonearm_e2e::workspace().join("target/components");
        cargo(
            &self.crate_dir,
            &components,
            &["build", "-p", &package, "--target", "wasm32-wasip2"],
        );
        components
            .join("wasm32-wasip2/debug")
            .join(format!("{}.wasm", package.replace('-', "_")))
    }

    /// Certifies `form` through `tonearm` (with `extra` arguments).
    fn certify(&self, form: &Path, extra: &[&str]) {
        let mut args = vec!["--plugin", form.to_str().unwrap(), "conformance", self.id];
        args.extend_from_slice(extra);
        let report = ok(&tonearm_in(&self.home(), &args));
        assert!(report.contains(" 0 failed"), "{report}");
    }

    /// Replaces the first `from` in the crate's file `path` by `to`.
    fn edit(&self, path: &str, from: &str, to: &str) {
        let file = self.crate_dir.join(path);
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains(from), "{path} has no {from:?}");
        std::fs::write(&file, text.replacen(from, to, 1)).unwrap();
    }

    fn index(&self) -> PathBuf {
        self.dir.path().join("index")
    }

    /// Publishes `component` to the author's index (made on first use).
    fn publish(&self, component: &Path) {
        let (index, key) = (self.index(), self.dir.path().join("author.key"));
        let (index, key) = (index.to_str().unwrap(), key.to_str().unwrap());
        let home = self.home();
        if !self.index().exists() {
            ok(&tonearm_in(&home, &["registry", "keygen", "-o", key]));
            ok(&tonearm_in(
                &home,
                &["registry", "init", index, "--key", key],
            ));
        }
        let file = component.to_str().unwrap();
        let publish = ["registry", "publish", file, "--key", key, "--index", index];
        ok(&tonearm_in(&home, &publish));
    }

    /// Serves the index until the answer is dropped.
    fn serve(&self) -> Listening {
        let index = self.index();
        let serve = [
            "registry",
            "serve",
            index.to_str().unwrap(),
            "--addr",
            "127.0.0.1:0",
        ];
        Listening::spawn(command_in(&self.home()).args(serve))
    }

    /// The user's home.
    fn user(&self) -> PathBuf {
        self.dir.path().join("user")
    }

    /// `tonearm plugin ARGS` on the user's host, reading the index at `url`.
    fn user_plugin(&self, url: &str, args: &[&str]) -> Output {
        let root = self.index().join("root/1.json");
        let index = [
            "plugin",
            "--index",
            url,
            "--index-root",
            root.to_str().unwrap(),
        ];
        tonearm_in(&self.user(), &[&index[..], args].concat())
    }

    /// Publishes `component` to a new index, serves it, and installs it into a new user's
    /// host (consenting to what it asks); returns the user's home.
    fn publish_and_install(&self, component: &Path) -> PathBuf {
        self.publish(component);
        let server = self.serve();
        let out = ok(&self.user_plugin(&server.url, &["install", self.id, "--yes"]));
        assert!(
            out.contains(&format!("installed `{}` 0.1.0 (component", self.id)),
            "{out}"
        );
        self.user()
    }
}

#[test]
fn a_decoder_from_the_template_is_certified_published_installed_and_decodes() {
    let author = Author::new("decoder", "acme-wav");
    let (library, component) = (author.library(), author.component());
    author.certify(&library, &[]);
    author.certify(&component, &[]);
    let user = author.publish_and_install(&component);

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

#[test]
fn a_provider_from_the_template_is_certified_against_its_fake_and_syncs() {
    let author = Author::new("provider", "acme-drive");
    cargo(
        &author.crate_dir,
        &Author::target(),
        &["build", "-p", "acme-drive-fake"],
    );
    let fake_bin = Author::target()
        .join("debug")
        .join(format!("acme-drive-fake{}", std::env::consts::EXE_SUFFIX));
    let fake = Listening::spawn(&mut Command::new(fake_bin));
    let (library, component) = (author.library(), author.component());
    author.certify(&library, &["--server", &fake.url]);
    author.certify(&component, &["--server", &fake.url]);
    let user = author.publish_and_install(&component);

    // The user syncs a source on the service: the fake, with the samples put there.
    let http: Arc<dyn HttpClient> = Arc::new(TestHttp::new().unwrap());
    let control = |method: &str, path: &str, body: Vec<u8>| {
        let response = http
            .send(HttpRequest {
                method: method.into(),
                url: format!("{}/_harness/{path}", fake.url),
                headers: Vec::new(),
                body,
            })
            .unwrap();
        assert!(
            response.status < 300,
            "{method} {path}: {}",
            response.status
        );
    };
    control("POST", "reset", Vec::new());
    for fixture in &tonearm_conformance::fixtures::FixtureSet::bundled().audio {
        let name = fixture.file.replace(' ', "%20");
        control(
            "PUT",
            &format!("files/album/{name}"),
            fixture.bytes.to_vec(),
        );
    }
    let setting = format!("endpoint.api={}", fake.url);
    ok(&tonearm_in(
        &user,
        &["source", "add", "acme-drive", "--set", &setting],
    ));
    let out = ok(&tonearm_in(&user, &["sync"]));
    assert!(out.contains("7 added"), "{out}");
    let out = ok(&tonearm_in(&user, &["library", "search", "bell"]));
    assert!(
        out.contains("Bell (AAC)") && out.contains("Bell (ALAC)"),
        "{out}"
    );

    // Version 0.2.0 also reaches a CDN: the update shows that and waits for consent.
    author.edit("Cargo.toml", "version = \"0.1.0\"", "version = \"0.2.0\"");
    author.edit(
        "src/lib.rs",
        "vec![\"api.example.org\".into()]",
        "vec![\"api.example.org\".into(), \"cdn.example.org\".into()]",
    );
    author.publish(&author.component());
    let server = author.serve();
    let err = fails(&author.user_plugin(&server.url, &["update"]));
    assert!(
        err.contains("`acme-drive` 0.2.0 now asks for:")
            && err.contains("+ HTTP requests to cdn.example.org")
            && !err.contains("+ HTTP requests to api.example.org"),
        "{err}"
    );
    let out = ok(&author.user_plugin(&server.url, &["update", "--yes"]));
    assert!(out.contains("updated `acme-drive` 0.1.0 → 0.2.0"), "{out}");
    let listed = json(&tonearm_in(&user, &["plugin", "list", "--json"]));
    let active = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["manifest"]["id"] == "acme-drive")
        .unwrap()
        .clone();
    assert_eq!(active["manifest"]["version"], "0.2.0");
    let out = ok(&tonearm_in(&user, &["sync"]));
    assert!(out.contains("0 added"), "the updated plugin syncs: {out}");
}

#[test]
fn a_metadata_source_from_the_template_is_certified_and_enriches_a_track() {
    let author = Author::new("metadata", "acme-lyrics");
    cargo(
        &author.crate_dir,
        &Author::target(),
        &["build", "-p", "acme-lyrics-fake"],
    );
    let fake_bin = Author::target()
        .join("debug")
        .join(format!("acme-lyrics-fake{}", std::env::consts::EXE_SUFFIX));
    let fake = Listening::spawn(&mut Command::new(fake_bin));
    let (library, component) = (author.library(), author.component());
    author.certify(&library, &[]);
    author.certify(&component, &[]);
    let user = author.publish_and_install(&component);

    // The service knows one sample's lyrics; the user's library gets them.
    let http: Arc<dyn HttpClient> = Arc::new(TestHttp::new().unwrap());
    let put = http
        .send(HttpRequest {
            method: "PUT".into(),
            url: format!(
                "{}/_harness/lyrics?artist=Tonearm%20Ensemble&title=Tone%20(WAV)",
                fake.url
            ),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: br#"{"plain": "a tone, held", "synced": "[00:00.50] a tone, held"}"#.to_vec(),
        })
        .unwrap();
    assert_eq!(put.status, 204);
    let music = samples(&user);
    ok(&tonearm_in(&user, &["scan", music.to_str().unwrap()]));
    let setting = format!("acme-lyrics.endpoint.api={}", fake.url);
    let out = ok(&tonearm_in(
        &user,
        &[
            "enrich",
            "--only",
            "lyrics",
            "--from",
            "acme-lyrics",
            "--set",
            &setting,
        ],
    ));
    assert!(out.contains("lyrics"), "{out}");
    let listed = json(&tonearm_in(
        &user,
        &["library", "search", "tone wav", "--json"],
    ));
    let track = listed[0]["id"].as_i64().unwrap().to_string();
    let out = ok(&tonearm_in(&user, &["lyrics", &track, "--synced"]));
    assert!(out.contains("[00:00.50] a tone, held"), "{out}");
}

#[test]
fn an_installed_newer_copy_replaces_the_shipped_one_until_it_is_removed() {
    // A fixed `opus` decoder, shipped without a new `tonearm`.
    let author = Author::new("decoder", "opus");
    author.edit("Cargo.toml", "version = \"0.1.0\"", "version = \"9.0.0\"");
    let component = author.component();
    let user = author.user();
    let file = component.to_str().unwrap();
    ok(&tonearm_in(
        &user,
        &["plugin", "install", file, "--allow-unsigned"],
    ));
    let listed = json(&tonearm_in(&user, &["plugin", "list", "--json"]));
    let opus = |listed: &serde_json::Value| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["manifest"]["id"] == "opus")
            .unwrap()
            .clone()
    };
    let active = opus(&listed);
    assert_eq!(active["manifest"]["version"], "9.0.0", "{active}");
    assert_eq!(active["origin"]["type"], "wasm", "{active}");
    let replaced = active["replaced"].as_str().unwrap();
    assert!(replaced.ends_with(" 0.3.0"), "{replaced}");
    let out = ok(&tonearm_in(&user, &["plugin", "list"]));
    assert!(out.contains("which it replaces"), "{out}");

    ok(&tonearm_in(&user, &["plugin", "remove", "opus"]));
    let listed = json(&tonearm_in(&user, &["plugin", "list", "--json"]));
    assert_eq!(opus(&listed)["manifest"]["version"], "0.3.0");
}
