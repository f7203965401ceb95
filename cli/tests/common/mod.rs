//! What the `tonearm` command's tests share: an isolated command, output checks, sample
//! folders, and signing in to the fake Google Drive.

#![allow(dead_code, clippy::unwrap_used)] // Each test crate uses its own share; tests fail loudly.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tonearm_conformance::fixtures::FixtureSet;
use tonearm_fakes::drive::FakeDrive;
use tonearm_fakes::oauth::FakeOAuth;

/// The `tonearm` command, blind to this machine's own config, plugins and library.
///
/// Compiled components are cached by content, so the cache is shared with the other tests.
pub fn isolated() -> Command {
    static HOME: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let home = HOME
        .get_or_init(|| {
            let home = tempfile::tempdir().unwrap();
            let warm = command_in(home.path())
                .args(["plugin", "list"])
                .output()
                .unwrap();
            assert!(warm.status.success(), "{warm:?}");
            home
        })
        .path();
    command_in(home)
}

pub fn command_in(home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tonearm"));
    command
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CACHE_HOME", tonearm_e2e::xdg_cache_home())
        .env_remove("TONEARM_LIBRARY")
        .env_remove("TONEARM_CONFIG")
        .env_remove("TONEARM_INDEX")
        .env_remove("TONEARM_INDEX_ROOT");
    command
}

pub fn tonearm(library: &Path, args: &[&str]) -> Output {
    isolated()
        .arg("--library")
        .arg(library)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("the tonearm binary runs")
}

pub fn ok(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "failed: {}\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

pub fn fails(output: &Output) -> String {
    assert!(
        !output.status.success(),
        "should have failed: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn json(output: &Output) -> serde_json::Value {
    serde_json::from_str(&ok(output)).expect("valid JSON")
}

pub fn samples(dir: &Path) -> PathBuf {
    let music = dir.join("music with spaces & ünïcode");
    std::fs::create_dir_all(&music).unwrap();
    for f in &FixtureSet::bundled().audio {
        std::fs::write(music.join(&f.file), &f.bytes).unwrap();
    }
    music
}

/// Follows the sign-in address as a browser would: the fake approves at once and
/// redirects to the CLI's loopback listener. Returns the code the redirect carried.
pub fn approve_in_browser(url: &str) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let answer = client.get(url).send().await.unwrap();
        assert_eq!(answer.status().as_u16(), 302, "{answer:?}");
        let location = answer.headers()["location"].to_str().unwrap().to_owned();
        let page = client.get(&location).send().await.unwrap();
        assert!(page.text().await.unwrap().contains("Signed in"));
        let url = reqwest::Url::parse(&location).unwrap();
        url.query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .unwrap()
    })
}

/// What signing in a Google Drive source through the CLI showed.
pub struct SignedIn {
    /// The sign-in address the CLI printed.
    pub url: String,
    /// The code the fake's redirect carried.
    pub code: String,
    /// The CLI's standard output.
    pub out: String,
    /// Its trace-level log.
    pub logs: String,
}

/// Adds the Google Drive source `name` to `lib`, signed in to `oauth` (approved at once)
/// and reading `drive`.
pub fn sign_in_gdrive(lib: &Path, oauth: &FakeOAuth, drive: &FakeDrive, name: &str) -> SignedIn {
    let set = |k: &str, v: String| format!("{k}={v}");
    let mut child = isolated()
        .arg("--library")
        .arg(lib)
        .args(["-vvv", "source", "add", "gdrive", "--name", name])
        .args([
            "--client-id",
            "tonearm-test",
            "--no-browser",
            "--timeout",
            "60",
        ])
        .args(["--set", &set("endpoint.api", drive.url())])
        .args(["--set", &set("endpoint.authorize", oauth.authorize_url())])
        .args(["--set", &set("endpoint.token", oauth.token_url())])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut logs = String::new();
    let url = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "no sign-in URL in: {logs}"
        );
        logs.push_str(&line);
        if let Some(url) = line.trim().strip_prefix(&oauth.authorize_url()) {
            break format!("{}{url}", oauth.authorize_url());
        }
    };
    let code = approve_in_browser(&url);
    stderr.read_to_string(&mut logs).unwrap();
    let status = child.wait().unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(status.success(), "{out}\n{logs}");
    SignedIn {
        url,
        code,
        out,
        logs,
    }
}

/// `tonearm ARGS` for the machine whose home is `home`, with its library there and no
/// input.
pub fn tonearm_in(home: &Path, args: &[&str]) -> Output {
    command_in(home)
        .arg("--library")
        .arg(home.join("library.db"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// A child process that prints an address on its first line, killed when dropped.
pub struct Listening {
    child: std::process::Child,
    /// The address, without a trailing `/`.
    pub url: String,
}

impl Listening {
    /// Spawns `command` and reads its address.
    pub fn spawn(command: &mut Command) -> Self {
        let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .trim_end_matches('/')
            .to_owned();
        Self { child, url }
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
