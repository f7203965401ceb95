//! Plugins from an index, as a publisher and a user meet them: `tonearm registry` makes,
//! signs and serves an index; `tonearm plugin` finds, installs, uses, updates and removes
//! plugins from it over HTTP; and what the index does not vouch for is refused with its
//! cause, nothing installed.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;
use common::*;

/// A user's machine: its own home (config, data, installed plugins) and library.
struct Host {
    home: tempfile::TempDir,
}

impl Host {
    fn new() -> Self {
        Self {
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn command(&self) -> Command {
        let mut command = command_in(self.home.path());
        command
            .arg("--library")
            .arg(self.home.path().join("library.db"))
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    /// `tonearm plugin ARGS` reading the index at `url`, trusting `root`.
    fn plugin(&self, index: &Index, url: &str, args: &[&str]) -> Output {
        let mut command = self.command();
        command.arg("plugin").args(args);
        command
            .env("TONEARM_INDEX", url)
            .env("TONEARM_INDEX_ROOT", index.root());
        command.output().unwrap()
    }

    fn installed(&self, id: &str) -> bool {
        self.home
            .path()
            .join("data/tonearm/plugins/installed")
            .join(id)
            .join("installed.json")
            .exists()
    }
}

/// A publisher's index folder and key.
struct Index {
    dir: tempfile::TempDir,
}

impl Index {
    /// A new index whose one key signs everything, and `files` published to it.
    fn with(files: &[&Path], extra: &[&str]) -> Self {
        let index = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        let publisher = Host::new();
        ok(&publisher.run(&["registry", "keygen", "-o", index.key().to_str().unwrap()]));
        let (folder, key) = (index.folder(), index.key());
        let mut init = vec![
            "registry",
            "init",
            folder.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ];
        init.extend_from_slice(extra);
        ok(&publisher.run(&init));
        for file in files {
            index.publish(file, &index.key());
        }
        index
    }

    fn folder(&self) -> PathBuf {
        self.dir.path().join("index")
    }

    fn key(&self) -> PathBuf {
        self.dir.path().join("key.txt")
    }

    fn root(&self) -> PathBuf {
        self.folder().join("root/1.json")
    }

    fn publish(&self, file: &Path, key: &Path) -> Output {
        Host::new().run(&[
            "registry",
            "publish",
            file.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--index",
            self.folder().to_str().unwrap(),
        ])
    }

    /// `tonearm registry serve` on a free port, stopped when dropped.
    fn serve(&self, dir: &Path) -> Listening {
        let serve = [
            "registry",
            "serve",
            dir.to_str().unwrap(),
            "--addr",
            "127.0.0.1:0",
        ];
        Listening::spawn(Host::new().command().args(serve))
    }
}

fn quiet() -> PathBuf {
    tonearm_e2e::native_library("tonearm-test-plugin-quiet")
}

fn symphonia() -> PathBuf {
    tonearm_e2e::wasm_component("tonearm-plugin-symphonia-component")
}

fn nosy() -> PathBuf {
    tonearm_e2e::wasm_component("tonearm-test-plugin-nosy-component")
}

fn loaded(listed: &serde_json::Value, id: &str) -> Option<serde_json::Value> {
    listed
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["manifest"]["id"] == id)
        .cloned()
}

#[test]
fn a_signed_plugin_goes_from_publish_to_installed_used_and_removed() {
    let index = Index::with(&[&quiet(), &symphonia(), &nosy()], &[]);
    let served = index.serve(&index.folder());
    let host = Host::new();
    let plugin = |args: &[&str]| host.plugin(&index, &served.url, args);

    let found = ok(&plugin(&["search"]));
    for id in ["quiet", "symphonia", "nosy-provider"] {
        assert!(found.contains(id), "{found}");
    }
    assert!(
        found.contains("HTTP requests to api.allowed.example"),
        "{found}"
    );

    // A native library, signed by a publisher the root trusts: it runs unsandboxed, which
    // the user consents to; then it is installed and loaded.
    let err = fails(&plugin(&["install", "quiet@^0.3"]));
    assert!(
        err.contains("+ running as native code, outside the sandbox"),
        "{err}"
    );
    assert!(!host.installed("quiet"));
    let out = ok(&plugin(&["install", "quiet@^0.3", "--yes"]));
    assert!(out.contains("installed `quiet` 0.3.0 (native"), "{out}");
    let listed = json(&host.run(&["plugin", "list", "--json"]));
    let quiet = loaded(&listed, "quiet").expect("the installed plugin loads at start");
    assert!(
        quiet["origin"]["path"]
            .as_str()
            .unwrap()
            .contains("plugins/installed/quiet/0.3.0/"),
        "{quiet}"
    );

    // A plugin that asks for the network: only with consent, which a script gives with --yes.
    let err = fails(&plugin(&["install", "nosy-provider"]));
    assert!(
        err.contains("+ HTTP requests to api.allowed.example") && err.contains("--yes"),
        "{err}"
    );
    assert!(
        !host.installed("nosy-provider"),
        "nothing installed without consent"
    );
    ok(&plugin(&["install", "nosy-provider", "--yes"]));
    assert!(host.installed("nosy-provider"));

    // The same version as the builtin copy: installed, and the builtin stays active.
    let out = ok(&plugin(&["install", "symphonia"]));
    assert!(out.contains("is as new and stays active"), "{out}");
    let out = ok(&host.run(&["plugin", "list"]));
    assert!(
        out.contains("installed but not active: `symphonia` 0.3.0")
            && out.contains("not newer than the builtin 0.3.0 copy"),
        "{out}"
    );
    // Without builtins, the installed component is the one that decodes.
    let listed = json(&host.run(&["--no-builtins", "plugin", "list", "--json"]));
    assert_eq!(
        loaded(&listed, "symphonia").unwrap()["origin"]["type"],
        "wasm"
    );
    let music = samples(host.home.path());
    let local = tonearm_e2e::native_library("tonearm-plugin-local-dylib");
    let only_installed = |args: &[&str]| {
        let mut all = vec!["--no-builtins", "--plugin", local.to_str().unwrap()];
        all.extend_from_slice(args);
        host.run(&all)
    };
    let out = ok(&only_installed(&["scan", music.to_str().unwrap()]));
    assert!(out.contains("7 added"), "{out}");
    let wav = host.home.path().join("pad.wav");
    let out = ok(&only_installed(&[
        "decode",
        "pad",
        "-o",
        wav.to_str().unwrap(),
    ]));
    assert!(out.contains("72000 frames"), "{out}");

    let out = ok(&plugin(&["info", "symphonia"]));
    assert!(
        out.contains("(signed)") && out.contains("not active"),
        "{out}"
    );
    ok(&plugin(&["pin", "quiet"]));
    let out = ok(&plugin(&["update"]));
    assert!(
        out.contains("`quiet` is pinned at 0.3.0") && out.contains("up to date"),
        "{out}"
    );

    ok(&plugin(&["remove", "quiet"]));
    let listed = json(&host.run(&["plugin", "list", "--json"]));
    assert!(loaded(&listed, "quiet").is_none());
    assert!(!host.installed("quiet"));
    let err = fails(&plugin(&["remove", "quiet"]));
    assert!(err.contains("not installed"), "{err}");
}

#[test]
fn what_the_index_does_not_vouch_for_is_refused_and_nothing_is_installed() {
    let index = Index::with(&[&quiet()], &[]);
    let folder = index.folder();
    let url = folder.to_str().unwrap();
    let host = Host::new();

    // A package changed after it was signed.
    let package = std::fs::read_dir(folder.join("packages/quiet/0.3.0"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&package).unwrap();
    let original = bytes.clone();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&package, &bytes).unwrap();
    let err = fails(&host.plugin(&index, url, &["install", "quiet", "--yes"]));
    assert!(err.contains("was changed"), "{err}");
    assert!(!host.installed("quiet"));
    std::fs::write(&package, original).unwrap();

    // A key the root does not name cannot publish.
    let stranger = index.dir.path().join("stranger.txt");
    ok(&Host::new().run(&["registry", "keygen", "-o", stranger.to_str().unwrap()]));
    let err = fails(&index.publish(&nosy(), &stranger));
    assert!(err.contains("no publisher in the index's root"), "{err}");

    // A rollback: the host saw a newer snapshot, then is served an older copy.
    let old = index.dir.path().join("old");
    copy_dir(&folder, &old);
    ok(&index.publish(&nosy(), &index.key()));
    ok(&host.plugin(&index, url, &["search"]));
    let err = fails(&host.plugin(&index, old.to_str().unwrap(), &["search"]));
    assert!(err.contains("a rollback"), "{err}");

    // Native libraries only with a signature; components without one only when asked.
    let err = fails(&host.plugin(&index, url, &["install", quiet().to_str().unwrap()]));
    assert!(err.contains("runs unsandboxed"), "{err}");
    let component = nosy();
    let component = component.to_str().unwrap();
    let err = fails(&host.plugin(&index, url, &["install", component]));
    assert!(err.contains("--allow-unsigned"), "{err}");
    assert!(!host.installed("nosy-provider"));
    let out = ok(&host.plugin(
        &index,
        url,
        &["install", component, "--allow-unsigned", "--yes"],
    ));
    assert!(out.contains("(unsigned)"), "{out}");
    assert!(host.installed("nosy-provider"));

    // A frozen index: its timestamp expired.
    let frozen = Index::with(&[], &["--timestamp-days", "0"]);
    let err = fails(&host.plugin(&frozen, frozen.folder().to_str().unwrap(), &["search"]));
    assert!(err.contains("expired"), "{err}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
