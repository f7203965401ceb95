//! Loading native plugin libraries: checks before any plugin code runs, then the
//! library's plugins as the contract's traits.

use std::path::{Path, PathBuf};

use abi_stable::library::{LibraryError, lib_header_from_path};
use tonearm_plugin_api::{
    HostContext, PluginError, PluginManifest, PluginResult, VersionMismatch, api_version,
    check_api_compatibility,
};
use tonearm_plugin_native::{Imported, PluginLibrary_Ref};

use super::preflight;

/// Why a native library was refused.
#[derive(Debug, thiserror::Error)]
pub enum NativeLoadError {
    /// Not a loadable Tonearm plugin library: not a shared library, truncated, no root
    /// module, another abi_stable, or a type layout that differs (the text says how).
    #[error("{path} is not a usable Tonearm plugin library: {reason}")]
    Library {
        /// The file.
        path: PathBuf,
        /// abi_stable's explanation, including any type-layout difference.
        reason: String,
    },
    /// Built against a `tonearm-plugin-native` whose FFI this host cannot call: while the
    /// API is 0.x, a native library must be built for the host's API minor version.
    #[error(
        "{path} was built against tonearm-plugin-native {library}, but this host uses {host}: \
         native libraries are not carried across 0.x API versions; rebuild it against \
         tonearm-plugin-native {host_minor}.x (or ship it as a wasm component, which keeps \
         loading)"
    )]
    AbiVersion {
        /// The file.
        path: PathBuf,
        /// The version the library was built against.
        library: String,
        /// The version this host uses.
        host: String,
        /// The host's major.minor, for the advice.
        host_minor: String,
    },
    /// The library states an API version that does not parse.
    #[error("{path}: the library states plugin API version {stated:?}, which is not a version")]
    BadVersion {
        /// The file.
        path: PathBuf,
        /// What it states.
        stated: String,
    },
    /// Built for an incompatible plugin API.
    #[error("{mismatch}")]
    Version {
        /// The file.
        path: PathBuf,
        /// Both versions.
        mismatch: Box<VersionMismatch>,
    },
    /// The library's manifests could not be read.
    #[error("{path}: cannot read its plugin manifests: {error}")]
    Manifests {
        /// The file.
        path: PathBuf,
        /// Why.
        error: PluginError,
    },
}

/// A loaded native plugin library (never unloaded: code of a library must outlive every
/// object it handed out).
pub struct NativeLibrary {
    module: PluginLibrary_Ref,
    path: PathBuf,
    manifests: Vec<PluginManifest>,
}

impl NativeLibrary {
    /// Loads the library at `path`: checks abi_stable's header and the layout of every type
    /// crossing the boundary, then the plugin API version, before running any plugin code;
    /// then reads its manifests.
    pub fn load(path: &Path) -> Result<Self, NativeLoadError> {
        let library_error = |e: LibraryError| match e {
            LibraryError::IncompatibleVersionNumber {
                expected_version,
                actual_version,
                ..
            } => NativeLoadError::AbiVersion {
                path: path.to_owned(),
                library: actual_version.to_string(),
                host_minor: format!("{}.{}", expected_version.major, expected_version.minor),
                host: expected_version.to_string(),
            },
            other => NativeLoadError::Library {
                path: path.to_owned(),
                reason: explain(&other),
            },
        };
        preflight::check(path).map_err(|reason| NativeLoadError::Library {
            path: path.to_owned(),
            reason,
        })?;
        let header = lib_header_from_path(path).map_err(library_error)?;
        let module = header
            .init_root_module::<PluginLibrary_Ref>()
            .map_err(library_error)?;

        let stated = module.api_version().as_str();
        let version = semver::Version::parse(stated).map_err(|_| NativeLoadError::BadVersion {
            path: path.to_owned(),
            stated: stated.to_owned(),
        })?;
        check_api_compatibility(&path.display().to_string(), &version, &api_version()).map_err(
            |mismatch| NativeLoadError::Version {
                path: path.to_owned(),
                mismatch: Box::new(mismatch),
            },
        )?;

        let manifests_error = |error| NativeLoadError::Manifests {
            path: path.to_owned(),
            error,
        };
        let json = (module.manifests())()
            .into_result()
            .map_err(|e| manifests_error(e.into()))?;
        let manifests: Vec<PluginManifest> = serde_json::from_str(json.as_str())
            .map_err(|e| manifests_error(PluginError::Corrupt(format!("manifest JSON: {e}"))))?;
        Ok(Self {
            module,
            path: path.to_owned(),
            manifests,
        })
    }

    /// Where it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The plugins it holds.
    pub fn manifests(&self) -> &[PluginManifest] {
        &self.manifests
    }

    /// Creates an instance of the plugin at `index` with the capabilities in `ctx`.
    pub fn instantiate(&self, index: usize, ctx: &HostContext) -> PluginResult<Imported> {
        let instance = (self.module.instantiate())(index, ctx.into())
            .into_result()
            .map_err(PluginError::from)?;
        Ok(instance.into())
    }
}

/// abi_stable's reports run to pages; lead with one line that says what happened and
/// what to do.
fn explain(error: &LibraryError) -> String {
    use LibraryError as E;
    let gist = match error {
        E::OpenError { .. } => "the platform cannot load it as a shared library",
        E::GetSymbolError { .. } => {
            "it exports no Tonearm root module (was it built with export_plugins!?)"
        }
        E::ParseVersionError(_) | E::IncompatibleVersionNumber { .. } => {
            "it was built against an incompatible version of tonearm-plugin-native; rebuild it"
        }
        E::AbiInstability(_) => {
            "it was built against a different plugin interface (type layouts differ); rebuild it against this Tonearm"
        }
        E::RootModule { .. } => "its root module failed to initialise",
        _ => "abi_stable refused it",
    };
    format!("{gist}\n{}", error.to_string().trim())
}
