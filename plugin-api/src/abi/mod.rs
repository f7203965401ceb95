//! Native plugin libraries: the FFI-safe mirror of the contract, built on abi_stable.
//!
//! abi_stable is unmaintained since 2023, so nothing outside this module names it: a
//! plugin author writes the ordinary trait impl and one [`export_plugins!`] line; the host
//! calls [`NativeLibrary::load`]. Replacing the mechanism would touch only this module.
//!
//! Data that crosses often or is simple has `StableAbi` mirrors ([`types`]), checked for
//! layout by abi_stable at load. The manifest (read once at load) and metadata queries
//! (rich, rare) cross as JSON of the contract's own serde types.

// abi_stable's derives and trait-object machinery expand to unsafe impls; the unsafe is
// theirs, and the layout checks they generate are what make loading sound.
#![allow(unsafe_code)]
// abi_stable's naming (`PluginLibrary_Ref`) and its generated impls (see
// shared/TOOLCHAIN-NOTES.md) trip these style lints in generated code only.
#![allow(non_camel_case_types, non_local_definitions)]

mod exported;
mod imported;
mod module;
mod preflight;
mod traits;
pub mod types;

use std::path::{Path, PathBuf};

use abi_stable::library::lib_header_from_path;
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RResult, RStr, RString};

pub use imported::{ImportedDecoder, ImportedMetadata, ImportedProvider};
pub use module::{FfiHostContext, FfiInstance, PluginLibrary, PluginLibrary_Ref};
pub use types::FfiError;

use self::exported::{ExportedDecoder, ExportedMetadata, ExportedProvider, guard};
use self::traits::{FfiDecoder_TO, FfiMetadataSource_TO, FfiStorageProvider_TO};
use crate::error::{PluginError, PluginResult};
use crate::host::HostContext;
use crate::manifest::PluginManifest;
use crate::registration::{Instantiate, PluginDescriptor};
use crate::version::{VersionMismatch, api_version, check_api_compatibility};

#[doc(hidden)]
pub use abi_stable as __abi_stable;

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

/// One instance made by a native library.
pub enum NativeInstance {
    /// A storage provider.
    StorageProvider(ImportedProvider),
    /// A decoder.
    Decoder(ImportedDecoder),
    /// A metadata source.
    MetadataSource(ImportedMetadata),
}

impl NativeLibrary {
    /// Loads the library at `path`: checks abi_stable's header and the layout of every type
    /// crossing the boundary, then the plugin API version, before running any plugin code;
    /// then reads its manifests.
    pub fn load(path: &Path) -> Result<Self, NativeLoadError> {
        let library_error = |e: abi_stable::library::LibraryError| NativeLoadError::Library {
            path: path.to_owned(),
            reason: explain(&e),
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
    pub fn instantiate(&self, index: usize, ctx: &HostContext) -> PluginResult<NativeInstance> {
        let instance = (self.module.instantiate())(index, ctx.into())
            .into_result()
            .map_err(PluginError::from)?;
        Ok(match instance {
            FfiInstance::StorageProvider(p) => NativeInstance::StorageProvider(ImportedProvider(p)),
            FfiInstance::Decoder(d) => NativeInstance::Decoder(ImportedDecoder(d)),
            FfiInstance::MetadataSource(m) => NativeInstance::MetadataSource(ImportedMetadata(m)),
        })
    }
}

/// Plugin side, for [`export_plugins!`]: the manifests of `descriptors` as JSON.
#[doc(hidden)]
pub fn export_manifests(descriptors: &[&PluginDescriptor]) -> RResult<RString, FfiError> {
    guard(|| {
        let manifests: Vec<PluginManifest> = descriptors.iter().map(|d| (d.manifest)()).collect();
        serde_json::to_string(&manifests)
            .map(Into::into)
            .map_err(|e| PluginError::Internal(format!("cannot encode manifests: {e}")))
    })
}

/// Plugin side, for [`export_plugins!`]: creates plugin `index`.
#[doc(hidden)]
pub fn export_instantiate(
    descriptors: &[&PluginDescriptor],
    index: usize,
    ctx: FfiHostContext,
) -> RResult<FfiInstance, FfiError> {
    guard(|| {
        let descriptor = descriptors.get(index).ok_or_else(|| {
            PluginError::Invalid(format!("the library has no plugin number {index}"))
        })?;
        let ctx = HostContext::from(ctx);
        Ok(match descriptor.instantiate {
            Instantiate::StorageProvider(create) => FfiInstance::StorageProvider(
                FfiStorageProvider_TO::from_value(ExportedProvider(create(&ctx)?), TD_Opaque),
            ),
            Instantiate::Decoder(create) => FfiInstance::Decoder(FfiDecoder_TO::from_value(
                ExportedDecoder(create(&ctx)?),
                TD_Opaque,
            )),
            Instantiate::MetadataSource(create) => FfiInstance::MetadataSource(
                FfiMetadataSource_TO::from_value(ExportedMetadata(create(&ctx)?), TD_Opaque),
            ),
        })
    })
}

/// Plugin side, for [`export_plugins!`]: the root module.
#[doc(hidden)]
pub fn export_library(
    api_version: &'static str,
    manifests: extern "C" fn() -> RResult<RString, FfiError>,
    instantiate: extern "C" fn(usize, FfiHostContext) -> RResult<FfiInstance, FfiError>,
) -> PluginLibrary_Ref {
    PluginLibrary {
        api_version: RStr::from_str(api_version),
        manifests,
        instantiate,
    }
    .leak_into_prefix()
}

/// Exports plugin descriptors as a native plugin library (a `cdylib`).
///
/// ```text
/// // In a crate with `crate-type = ["cdylib"]` that depends on tonearm-plugin-api,
/// // abi_stable, and the plugin crate:
/// tonearm_plugin_api::export_plugins!(my_plugin::DESCRIPTOR);
/// ```
///
/// The `api_version = "…";` form overrides the stated API version, for testing how hosts
/// refuse libraries built for other versions.
#[macro_export]
macro_rules! export_plugins {
    (api_version = $api:expr; $($descriptor:path),+ $(,)?) => {
        #[doc(hidden)]
        pub mod __tonearm_native_library {
            static DESCRIPTORS: &[&$crate::PluginDescriptor] = &[$(&$descriptor),+];

            extern "C" fn manifests() -> $crate::abi::__abi_stable::std_types::RResult<
                $crate::abi::__abi_stable::std_types::RString,
                $crate::abi::FfiError,
            > {
                $crate::abi::export_manifests(DESCRIPTORS)
            }

            extern "C" fn instantiate(
                index: usize,
                ctx: $crate::abi::FfiHostContext,
            ) -> $crate::abi::__abi_stable::std_types::RResult<$crate::abi::FfiInstance, $crate::abi::FfiError> {
                $crate::abi::export_instantiate(DESCRIPTORS, index, ctx)
            }

            /// The library's root module.
            #[$crate::abi::__abi_stable::export_root_module]
            pub fn tonearm_root_module() -> $crate::abi::PluginLibrary_Ref {
                $crate::abi::export_library($api, manifests, instantiate)
            }
        }
    };
    ($($descriptor:path),+ $(,)?) => {
        $crate::export_plugins!(api_version = $crate::API_VERSION; $($descriptor),+);
    };
}

/// abi_stable's reports run to pages; lead with one line that says what happened and
/// what to do.
fn explain(error: &abi_stable::library::LibraryError) -> String {
    use abi_stable::library::LibraryError as E;
    let gist = match error {
        E::OpenError { .. } => "the platform cannot load it as a shared library",
        E::GetSymbolError { .. } => {
            "it exports no Tonearm root module (was it built with export_plugins!?)"
        }
        E::ParseVersionError(_) | E::IncompatibleVersionNumber { .. } => {
            "it was built against an incompatible version of tonearm-plugin-api; rebuild it"
        }
        E::AbiInstability(_) => {
            "it was built against a different plugin interface (type layouts differ); rebuild it against this Tonearm"
        }
        E::RootModule { .. } => "its root module failed to initialise",
        _ => "abi_stable refused it",
    };
    format!("{gist}\n{}", error.to_string().trim())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::decoder::{DecodeSession, Decoder, ProbeHint, StreamSpec};
    use crate::host::{ByteSource, MemoryByteSource};

    /// Stereo, three chunks of 20,000 frames each: larger than the host's first buffer.
    struct BigChunks;

    struct BigSession(u32);

    impl Decoder for BigChunks {
        fn probe(&self, _: &[u8], _: &ProbeHint) -> u8 {
            panic!("probe panics")
        }

        fn open(
            &self,
            source: Arc<dyn ByteSource>,
            _: &ProbeHint,
        ) -> PluginResult<Box<dyn DecodeSession>> {
            assert_eq!(source.len()?, 3, "the byte source crosses the boundary");
            Ok(Box::new(BigSession(0)))
        }
    }

    impl DecodeSession for BigSession {
        fn spec(&self) -> StreamSpec {
            StreamSpec {
                sample_rate: 48000,
                channels: 2,
                total_frames: Some(60_000),
                codec: "big".into(),
                bits_per_sample: None,
            }
        }

        fn read(&mut self, out: &mut Vec<f32>) -> PluginResult<usize> {
            out.clear();
            if self.0 == 3 {
                return Ok(0);
            }
            let base = self.0 * 40_000;
            out.extend((0..40_000).map(|i| (base + i) as f32));
            self.0 += 1;
            Ok(20_000)
        }

        fn seek(&mut self, _: u64) -> PluginResult<u64> {
            Err(PluginError::Unsupported("no seeking".into()))
        }
    }

    fn through_the_boundary(decoder: impl Decoder + 'static) -> ImportedDecoder {
        ImportedDecoder(FfiDecoder_TO::from_value(
            ExportedDecoder(Box::new(decoder)),
            TD_Opaque,
        ))
    }

    #[test]
    fn chunks_larger_than_the_host_buffer_arrive_whole_and_in_order() {
        let decoder = through_the_boundary(BigChunks);
        let mut session = decoder
            .open(
                Arc::new(MemoryByteSource::new(b"abc".to_vec())),
                &ProbeHint::default(),
            )
            .unwrap();
        assert_eq!(session.spec().channels, 2);
        let (mut all, mut chunk) = (Vec::new(), Vec::new());
        loop {
            let frames = session.read(&mut chunk).unwrap();
            if frames == 0 {
                break;
            }
            assert_eq!(chunk.len(), frames * 2, "whole frames only");
            all.extend_from_slice(&chunk);
        }
        assert_eq!(all.len(), 120_000);
        assert!(
            all.iter().enumerate().all(|(i, &s)| s == i as f32),
            "in order, nothing lost or repeated"
        );
        assert!(
            matches!(session.seek(0), Err(PluginError::Unsupported(_))),
            "errors keep their kind"
        );
    }

    /// One small chunk, then a corrupt packet.
    struct ThenCorrupt(bool);

    impl Decoder for ThenCorrupt {
        fn probe(&self, _: &[u8], _: &ProbeHint) -> u8 {
            1
        }

        fn open(
            &self,
            _: Arc<dyn ByteSource>,
            _: &ProbeHint,
        ) -> PluginResult<Box<dyn DecodeSession>> {
            Ok(Box::new(ThenCorrupt(false)))
        }
    }

    impl DecodeSession for ThenCorrupt {
        fn spec(&self) -> StreamSpec {
            StreamSpec {
                sample_rate: 8000,
                channels: 1,
                total_frames: None,
                codec: "x".into(),
                bits_per_sample: None,
            }
        }

        fn read(&mut self, out: &mut Vec<f32>) -> PluginResult<usize> {
            if std::mem::replace(&mut self.0, true) {
                return Err(PluginError::Corrupt("bad packet".into()));
            }
            out.clear();
            out.extend_from_slice(&[0.5; 100]);
            Ok(100)
        }

        fn seek(&mut self, _: u64) -> PluginResult<u64> {
            Ok(0)
        }
    }

    #[test]
    fn samples_decoded_before_an_error_are_delivered_first() {
        let decoder = through_the_boundary(ThenCorrupt(false));
        let mut session = decoder
            .open(
                Arc::new(MemoryByteSource::new(b"abc".to_vec())),
                &ProbeHint::default(),
            )
            .unwrap();
        let mut chunk = Vec::new();
        assert_eq!(session.read(&mut chunk).unwrap(), 100);
        assert_eq!(chunk, [0.5; 100]);
        assert!(matches!(
            session.read(&mut chunk),
            Err(PluginError::Corrupt(_))
        ));
    }

    #[test]
    fn a_panic_on_the_plugin_side_comes_back_as_an_error() {
        let decoder = through_the_boundary(BigChunks);
        let err = decoder.try_probe(b"", &ProbeHint::default()).unwrap_err();
        assert!(
            matches!(&err, PluginError::Internal(m) if m.contains("probe panics")),
            "{err}"
        );
        assert_eq!(decoder.probe(b"", &ProbeHint::default()), 0);
    }
}
