//! The shape of the workspace: the contract and the plugin crates depend on nothing that
//! belongs to one way of loading a plugin.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::process::Command;

/// The normal (non-dev, non-build) dependencies of `package`, one name a line.
fn dependencies(package: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(tonearm_e2e::workspace())
        .args([
            "tree",
            "--offline",
            "--locked",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(["--format", "{p}", "-p", package])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_contract_and_the_plugins_depend_on_no_loading_mode() {
    const LOADING: &[&str] = &["abi_stable", "wit-bindgen", "wasmtime"];
    for package in [
        "tonearm-plugin-api",
        "tonearm-plugin-local",
        "tonearm-plugin-symphonia",
        "tonearm-plugin-opus",
        "tonearm-plugin-gdrive",
        "tonearm-plugin-onedrive",
        "tonearm-conformance",
    ] {
        let deps = dependencies(package);
        assert!(
            deps.iter().any(|d| d == "tonearm-plugin-api") || package == "tonearm-plugin-api",
            "{package}: {deps:?}"
        );
        let found: Vec<_> = deps
            .iter()
            .filter(|d| LOADING.contains(&d.as_str()))
            .collect();
        assert!(found.is_empty(), "{package} depends on {found:?}");
    }
    // The export crates carry exactly their own mechanism.
    assert!(dependencies("tonearm-plugin-native").contains(&"abi_stable".to_owned()));
    assert!(!dependencies("tonearm-plugin-native").contains(&"wasmtime".to_owned()));
}
