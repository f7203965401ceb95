//! Export Tonearm plugins as sandboxed WebAssembly components.
//!
//! A plugin crate implements the contract of `tonearm-plugin-api` once; a thin `cdylib`
//! crate next to it exports its descriptor with [`export_component!`] and is built with
//! `cargo build --target wasm32-wasip2`. The result is a component of the WIT world in
//! `wit/since_v0.3.0/`, which the host runs in wasmtime with only the capabilities the
//! plugin's manifest asks for.
//!
//! `wit/` keeps one frozen folder per API version: hosts bind every version they still
//! support, so a component built against an older folder keeps loading. Authors who do not
//! write Rust build against the newest folder with their language's component tooling.

#[doc(hidden)]
pub mod convert;
#[cfg(all(target_arch = "wasm32", target_os = "wasi"))]
#[doc(hidden)]
pub mod guest;

#[doc(hidden)]
pub use tonearm_plugin_api as __api;

/// The version of the WIT package `tonearm:plugin` that [`export_component!`] builds
/// against: the newest folder under `wit/`.
pub const WIT_VERSION: &str = "0.3.0";

/// Every WIT version in `wit/`, oldest first, each with its folder name.
pub const WIT_VERSIONS: &[&str] = &["0.1.0", "0.2.0", "0.3.0"];

/// Exports a plugin descriptor as a wasm component (on `wasm32-wasip*` targets; elsewhere
/// it expands to nothing, so the crate still builds in a native workspace build).
///
/// ```text
/// // A crate with crate-type = ["cdylib"], built with --target wasm32-wasip2:
/// tonearm_plugin_component::export_component!(my_plugin::DESCRIPTOR);
/// ```
#[macro_export]
macro_rules! export_component {
    ($descriptor:path) => {
        #[cfg(all(target_arch = "wasm32", target_os = "wasi"))]
        mod __tonearm_component {
            struct Plugin;
            impl $crate::guest::ComponentPlugin for Plugin {
                const DESCRIPTOR: &'static $crate::__api::PluginDescriptor = &$descriptor;
            }
            type Exported = $crate::guest::Component<Plugin>;
            $crate::guest::bindings::__export_plugin_component!(Exported with_types_in $crate::guest::bindings);
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The constants name exactly the folders in `wit/`, and the newest is the one built.
    #[test]
    fn wit_versions_match_the_folders() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("wit");
        let mut found: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        found.sort();
        let expected: Vec<String> = WIT_VERSIONS.iter().map(|v| format!("since_v{v}")).collect();
        assert_eq!(found, expected);
        assert_eq!(WIT_VERSIONS.last(), Some(&WIT_VERSION));
        for version in WIT_VERSIONS {
            let wit =
                std::fs::read_to_string(dir.join(format!("since_v{version}/tonearm.wit"))).unwrap();
            assert!(
                wit.contains(&format!("package tonearm:plugin@{version};")),
                "since_v{version} declares its own version"
            );
        }
    }

    /// The API version of the contract and the newest WIT version move together.
    #[test]
    fn the_newest_wit_is_the_contract_version() {
        assert_eq!(WIT_VERSION, tonearm_plugin_api::API_VERSION);
    }
}
