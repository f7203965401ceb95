//! Helpers for the cross-crate tests and benchmarks: native plugin libraries built on
//! demand from this workspace.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, OnceLock, PoisonError};

/// The workspace's root folder.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds the `cdylib` package `package` (once per process) in the profile this code was
/// built in, and returns the library's path.
///
/// # Panics
///
/// If the build fails: tests cannot go on without the library.
pub fn native_library(package: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(path) = built.get(package) {
        return path.clone();
    }
    let release = !cfg!(debug_assertions);
    let mut cargo = Command::new(option_env!("CARGO").unwrap_or("cargo"));
    cargo
        .current_dir(workspace())
        .args(["build", "--quiet", "-p", package]);
    if release {
        cargo.arg("--release");
    }
    let status = cargo
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build {package}: {e}"));
    assert!(status.success(), "building {package} failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace().join("target"), PathBuf::from);
    let file = format!(
        "{}{}{}",
        std::env::consts::DLL_PREFIX,
        package.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    );
    let path = target
        .join(if release { "release" } else { "debug" })
        .join(file);
    assert!(path.is_file(), "{} was not built", path.display());
    built.insert(package.to_owned(), path.clone());
    path
}

/// Builds the component package `package` for `wasm32-wasip2` (once per process; a no-op
/// when up to date) and returns the component's path.
///
/// The arguments and target folder are the ones `cli/build.rs` uses for the components it
/// bundles, so a test run compiles each component once.
///
/// # Panics
///
/// If the build fails: tests cannot go on without the component.
pub fn wasm_component(package: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(path) = built.get(package) {
        return path.clone();
    }
    let status = Command::new(option_env!("CARGO").unwrap_or("cargo"))
        .current_dir(workspace())
        .args(["build", "--quiet", "--locked", "--profile", "component"])
        .args(["--target", "wasm32-wasip2", "-p", package])
        .arg("--target-dir")
        .arg(components_target_dir())
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build {package}: {e}"));
    assert!(
        status.success(),
        "building {package} for wasm32-wasip2 failed (is the target installed? ./scripts/setup)"
    );
    let path = components_target_dir()
        .join("wasm32-wasip2/component")
        .join(format!("{}.wasm", package.replace('-', "_")));
    assert!(path.is_file(), "{} was not built", path.display());
    built.insert(package.to_owned(), path.clone());
    path
}

/// Builds the plugin written in Python at `plugins/NAME` with its `build` script (once per
/// process; only when its sources changed since the last build) and returns the
/// component's path.
///
/// # Panics
///
/// If the build fails: tests cannot go on without the component.
pub fn python_component(name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(path) = built.get(name) {
        return path.clone();
    }
    let dir = workspace().join("plugins").join(name);
    let out = components_target_dir()
        .join("python")
        .join(format!("{}.wasm", name.replace('-', "_")));
    let modified = |path: &std::path::Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let newest_source = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().and_then(|e| modified(&e.path())))
        .max();
    if modified(&out).is_none_or(|built| newest_source.is_some_and(|source| source > built)) {
        std::fs::create_dir_all(out.parent().unwrap_or(&dir))
            .unwrap_or_else(|e| panic!("cannot create the output folder: {e}"));
        let status = Command::new(dir.join("build"))
            .arg(&out)
            .status()
            .unwrap_or_else(|e| panic!("cannot run {}/build: {e}", dir.display()));
        assert!(
            status.success(),
            "building {name} failed (python3 with venv and PyPI needed: ./scripts/setup --test)"
        );
    }
    built.insert(name.to_owned(), out.clone());
    out
}

/// A shared `XDG_CACHE_HOME` for the `tonearm` command in tests: compiled components are
/// cached by content, so every test and run may share it (a cold compile costs seconds).
pub fn xdg_cache_home() -> PathBuf {
    workspace().join("target/wasm-cache")
}

/// The compile cache the `tonearm` command uses under [`xdg_cache_home`], for tests that
/// make their own wasm runtime.
pub fn component_cache() -> PathBuf {
    xdg_cache_home().join("tonearm/components")
}

/// Where components are built: `components` in the workspace's target folder.
fn components_target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace().join("target"), PathBuf::from)
        .join("components")
}

/// The `p` quantile (0 to 1) of `sorted`, nearest rank.
///
/// # Panics
///
/// If `sorted` is empty.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Decodes all of `bytes` with `decoder`, as the host would open a file with extension `ext`.
///
/// # Panics
///
/// If opening or reading fails: callers decode fixtures that must decode.
pub fn decode_all(
    decoder: &dyn tonearm_plugin_api::Decoder,
    bytes: &std::sync::Arc<[u8]>,
    ext: &str,
) -> Vec<f32> {
    use tonearm_plugin_api::{MemoryByteSource, ProbeHint};
    let hint = ProbeHint {
        extension: Some(ext.into()),
        mime: None,
    };
    let mut session = decoder
        .open(std::sync::Arc::new(MemoryByteSource(bytes.clone())), &hint)
        .unwrap_or_else(|e| panic!("open failed: {e}"));
    let (mut all, mut chunk) = (Vec::new(), Vec::new());
    while session
        .read(&mut chunk)
        .unwrap_or_else(|e| panic!("read failed: {e}"))
        > 0
    {
        all.extend_from_slice(&chunk);
    }
    all
}

pub mod bench_library;
pub mod cloud;
pub mod symphonia_direct;

/// How far two builds of one lossy decoder may differ per sample: transcendental functions
/// come natively from the platform's libm and in wasm from Rust's own, and may differ in the
/// last bit. Lossless decoding involves none and must match bit for bit.
pub const LOSSY_MAX_DIFFERENCE: f32 = 1e-6;

/// Panics unless `a` and `b`, two decodes of `what`, have the same length and differ by at
/// most [`LOSSY_MAX_DIFFERENCE`] per sample; returns the largest difference.
pub fn assert_same_pcm(a: &[f32], b: &[f32], what: &str) -> f32 {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    let worst = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    assert!(
        worst <= LOSSY_MAX_DIFFERENCE,
        "{what}: differs by up to {worst:e}"
    );
    worst
}

/// The plugin authors' guide, whose Rust examples run as doc tests: the decoder there
/// compiles and decodes.
#[doc = include_str!("../../../docs/write-a-plugin.md")]
pub mod write_a_plugin {}
