//! Builds the wasm components that ship inside `tonearm` (feature `bundle-opus`) and
//! embeds them, so the default binary is the whole distribution.
//!
//! The components are built by a nested `cargo build --target wasm32-wasip2` into a
//! separate target folder: the outer build holds the lock on its own folder. The tests
//! build their components with the same arguments into the same folder, so a test run
//! compiles each component once.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

/// A component this build embeds.
struct Bundle {
    /// The package that builds it.
    package: &'static str,
    /// Its plugin file name.
    name: &'static str,
    /// The manifest of the plugin it is built from, as JSON.
    manifest: fn() -> String,
}

/// The components this build embeds (cargo features `bundle-*`).
const BUNDLES: &[Bundle] = &[
    #[cfg(feature = "bundle-opus")]
    Bundle {
        package: "tonearm-plugin-opus-component",
        name: "opus",
        // The component built from the same source states the same manifest.
        manifest: || {
            serde_json::to_string(&(tonearm_plugin_opus::DESCRIPTOR.manifest)())
                .expect("a manifest serializes")
        },
    },
];

/// Everything a bundled component is built from; a change here rebuilds it.
const SOURCES: &[&str] = &[
    "../plugin-api",
    "../plugin-component",
    "../plugins/opus",
    "../Cargo.lock",
];

fn main() {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let mut entries = String::new();
    for Bundle {
        package,
        name,
        manifest,
    } in BUNDLES
    {
        for source in SOURCES {
            println!(
                "cargo::rerun-if-changed={}",
                manifest_dir.join(source).display()
            );
        }
        let wasm = build_component(&manifest_dir, &out_dir, package);
        let bytes = fs::read(&wasm)
            .unwrap_or_else(|e| panic!("cannot read the built {}: {e}", wasm.display()));
        let embedded = out_dir.join(format!("{name}.wasm"));
        fs::write(&embedded, &bytes)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", embedded.display()));
        entries.push_str(&format!(
            "    BundledComponent {{ name: {name:?}, sha256: {:?}, bytes: include_bytes!({:?}), \
             manifest: Some({:?}) }},\n",
            sha256_hex(&bytes),
            embedded.display().to_string(),
            manifest(),
        ));
    }
    let list = format!("&[\n{entries}]\n");
    fs::write(out_dir.join("bundled.rs"), list).expect("cannot write bundled.rs into OUT_DIR");
}

/// Builds `package` for wasm32-wasip2 and returns the component's path.
fn build_component(manifest_dir: &Path, out_dir: &Path, package: &str) -> PathBuf {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let libdir = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", "wasm32-wasip2"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if !libdir.is_some_and(|dir| dir.is_dir()) {
        panic!(
            "\n\nThe default `tonearm` embeds the Opus decoder as a wasm component, which needs \
             the wasm32-wasip2 target.\nInstall it with `rustup target add wasm32-wasip2` (or \
             run ./scripts/setup), or build without it: --no-default-features --features \
             plugin-local,plugin-symphonia\n\n"
        );
    }
    let workspace = manifest_dir.join("..");
    let target_dir = components_target_dir(out_dir);
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&workspace)
        .args(["build", "--quiet", "--locked", "--profile", "component"])
        .args(["--target", "wasm32-wasip2", "-p", package])
        .arg("--target-dir")
        .arg(&target_dir);
    // The outer build's flags and wrappers are for the host target (and for clippy, when
    // it runs), not for the component; the workspace's own config still applies.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
    ] {
        command.env_remove(var);
    }
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build {package}: {e}"));
    assert!(
        status.success(),
        "building {package} for wasm32-wasip2 failed"
    );
    let wasm = target_dir
        .join("wasm32-wasip2/component")
        .join(format!("{}.wasm", package.replace('-', "_")));
    assert!(wasm.is_file(), "{} was not built", wasm.display());
    wasm
}

/// `<target>/components`, where `<target>` is the folder cargo builds this crate in
/// (the one holding `CACHEDIR.TAG`); `OUT_DIR` itself if none is found.
fn components_target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .map_or_else(|| out_dir.join("components"), |t| t.join("components"))
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
