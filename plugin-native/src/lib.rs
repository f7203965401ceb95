//! Native plugin libraries: the FFI-safe mirror of the Tonearm plugin contract, built on
//! abi_stable, and [`export_plugins!`], which exports a plugin crate's descriptors as a
//! `cdylib` the host can load.
//!
//! abi_stable is unmaintained since 2023, so nothing outside this crate names it: a plugin
//! author writes the ordinary trait impl from `tonearm-plugin-api` and one
//! [`export_plugins!`] line; the host's loader (`tonearm-loader`) opens the library.
//! Replacing the mechanism would touch only this crate and the loader's `native` module.
//!
//! Data that crosses often or is simple has `StableAbi` mirrors ([`types`]), checked for
//! layout by abi_stable at load. The manifest (read once at load) and metadata queries
//! (rich, rare) cross as JSON of the contract's own serde types. Both directions live
//! here: a library exports plugins and imports the host's capabilities, and a host does the
//! reverse.

// abi_stable's derives and trait-object machinery expand to unsafe impls; the unsafe is
// theirs, and the layout checks they generate are what make loading sound.
#![allow(unsafe_code)]
// abi_stable's naming (`PluginLibrary_Ref`) and its generated impls (see
// shared/TOOLCHAIN-NOTES.md) trip these style lints in generated code only.
#![allow(non_camel_case_types, non_local_definitions)]

mod exported;
mod imported;
mod module;
mod traits;
pub mod types;

use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RResult, RStr, RString};

pub use imported::{ImportedDecoder, ImportedMetadata, ImportedProvider};
pub use module::{FfiHostContext, FfiInstance, PluginLibrary, PluginLibrary_Ref};
pub use types::FfiError;

use self::exported::{ExportedDecoder, ExportedMetadata, ExportedProvider, guard};
use self::traits::{FfiDecoder_TO, FfiMetadataSource_TO, FfiStorageProvider_TO};
use tonearm_plugin_api::{HostContext, Instantiate, PluginDescriptor, PluginError, PluginManifest};

/// One plugin instance a library made, as the contract's traits.
pub enum Imported {
    /// A storage provider.
    StorageProvider(ImportedProvider),
    /// A decoder.
    Decoder(ImportedDecoder),
    /// A metadata source.
    MetadataSource(ImportedMetadata),
}

impl From<FfiInstance> for Imported {
    fn from(instance: FfiInstance) -> Self {
        match instance {
            FfiInstance::StorageProvider(p) => Self::StorageProvider(ImportedProvider(p)),
            FfiInstance::Decoder(d) => Self::Decoder(ImportedDecoder(d)),
            FfiInstance::MetadataSource(m) => Self::MetadataSource(ImportedMetadata(m)),
        }
    }
}

#[doc(hidden)]
pub use abi_stable as __abi_stable;
#[doc(hidden)]
pub use tonearm_plugin_api as __api;

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
/// // In a crate with `crate-type = ["cdylib"]` that depends on tonearm-plugin-native,
/// // abi_stable (its export attribute names the crate) and the plugin crate:
/// tonearm_plugin_native::export_plugins!(my_plugin::DESCRIPTOR);
/// ```
///
/// The `api_version = "…";` form overrides the stated API version, for testing how hosts
/// refuse libraries built for other versions.
#[macro_export]
macro_rules! export_plugins {
    (api_version = $api:expr; $($descriptor:path),+ $(,)?) => {
        #[doc(hidden)]
        pub mod __tonearm_native_library {
            static DESCRIPTORS: &[&$crate::__api::PluginDescriptor] = &[$(&$descriptor),+];

            extern "C" fn manifests() -> $crate::__abi_stable::std_types::RResult<
                $crate::__abi_stable::std_types::RString,
                $crate::FfiError,
            > {
                $crate::export_manifests(DESCRIPTORS)
            }

            extern "C" fn instantiate(
                index: usize,
                ctx: $crate::FfiHostContext,
            ) -> $crate::__abi_stable::std_types::RResult<$crate::FfiInstance, $crate::FfiError> {
                $crate::export_instantiate(DESCRIPTORS, index, ctx)
            }

            /// The library's root module.
            #[$crate::__abi_stable::export_root_module]
            pub fn tonearm_root_module() -> $crate::PluginLibrary_Ref {
                $crate::export_library($api, manifests, instantiate)
            }
        }
    };
    ($($descriptor:path),+ $(,)?) => {
        $crate::export_plugins!(api_version = $crate::__api::API_VERSION; $($descriptor),+);
    };
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use tonearm_plugin_api::PluginResult;
    use tonearm_plugin_api::decoder::{DecodeSession, Decoder, ProbeHint, StreamSpec};
    use tonearm_plugin_api::host::{ByteSource, MemoryByteSource};

    /// Stereo, three chunks of 20,000 frames each: larger than the host's first buffer.
    struct BigChunks;

    struct BigSession(u32);

    impl Decoder for BigChunks {
        fn probe(&self, _: &[u8], _: &ProbeHint) -> PluginResult<u8> {
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
        fn probe(&self, _: &[u8], _: &ProbeHint) -> PluginResult<u8> {
            Ok(1)
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
        let err = decoder.probe(b"", &ProbeHint::default()).unwrap_err();
        assert!(
            matches!(&err, PluginError::Internal(m) if m.contains("probe panics")),
            "{err}"
        );
    }

    /// Reports tags of its own; opens nothing.
    struct Tagged;

    impl Decoder for Tagged {
        fn probe(&self, _: &[u8], _: &ProbeHint) -> PluginResult<u8> {
            Ok(0)
        }

        fn open(
            &self,
            _: Arc<dyn ByteSource>,
            _: &ProbeHint,
        ) -> PluginResult<Box<dyn DecodeSession>> {
            Err(PluginError::Unsupported("describe only".into()))
        }

        fn describe(
            &self,
            source: Arc<dyn ByteSource>,
            _: &ProbeHint,
        ) -> PluginResult<tonearm_plugin_api::MediaInfo> {
            Ok(tonearm_plugin_api::MediaInfo {
                stream: BigSession(0).spec(),
                tags: tonearm_plugin_api::TrackTags {
                    title: Some(format!("{} bytes", source.len()?)),
                    artists: vec!["Zoë".into(), "Ann".into()],
                    year: Some(1999),
                    ..Default::default()
                },
            })
        }
    }

    #[test]
    fn media_info_crosses_the_boundary_with_its_tags_or_from_a_session() {
        let source = || Arc::new(MemoryByteSource::new(b"abc".to_vec()));
        let info = through_the_boundary(Tagged)
            .describe(source(), &ProbeHint::default())
            .unwrap();
        assert_eq!(info.tags.title.as_deref(), Some("3 bytes"));
        assert_eq!(info.tags.artists, ["Zoë", "Ann"]);
        assert_eq!(info.tags.year, Some(1999));
        assert_eq!(info.stream.total_frames, Some(60_000));

        // A decoder without its own `describe` reports the spec of a session it opens.
        let info = through_the_boundary(BigChunks)
            .describe(source(), &ProbeHint::default())
            .unwrap();
        assert_eq!((info.stream.sample_rate, info.stream.channels), (48_000, 2));
        assert_eq!(info.tags, tonearm_plugin_api::TrackTags::default());
    }
}
