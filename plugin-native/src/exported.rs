//! Rust trait objects presented as FFI trait objects. Every call is run under
//! `catch_unwind`: a panic that reached the FFI boundary would abort the whole process.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use abi_stable::std_types::{
    RErr, RNone, ROk, ROption, RResult, RSlice, RSliceMut, RStr, RString, RVec,
};

use super::imported::ImportedByteSource;
use super::traits::{
    FfiByteSource, FfiByteSource_TO, FfiClock, FfiDecodeSession, FfiDecodeSession_TO, FfiDecoder,
    FfiFileSystem, FfiHttpClient, FfiKeyValueStore, FfiLog, FfiMetadataSource, FfiStorageProvider,
};
use super::types::{
    FfiArtwork, FfiByteRange, FfiChangePage, FfiDirEntry, FfiError, FfiFileStat, FfiHttpRequest,
    FfiHttpResponse, FfiListPage, FfiProbeHint, FfiRead, FfiStreamSpec,
};
use tonearm_plugin_api::decoder::{DecodeSession, Decoder};
use tonearm_plugin_api::error::{PluginError, PluginResult};
use tonearm_plugin_api::host::{
    ByteSource, Clock, FileSystem, HttpClient, KeyValueStore, Log, LogLevel,
};
use tonearm_plugin_api::metadata::{ArtworkRequest, MetadataSource, TrackQuery};
use tonearm_plugin_api::storage::StorageProvider;

/// Runs `f`, turning a panic into [`PluginError::Internal`] and the result into an FFI one.
pub(crate) fn guard<T>(f: impl FnOnce() -> PluginResult<T>) -> RResult<T, FfiError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => ROk(value),
        Ok(Err(e)) => RErr(e.into()),
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic payload".into());
            RErr(PluginError::Internal(format!("panicked: {message}")).into())
        }
    }
}

/// A [`Decoder`] as an [`FfiDecoder`].
pub(crate) struct ExportedDecoder(pub(crate) Box<dyn Decoder>);

impl FfiDecoder for ExportedDecoder {
    fn probe(&self, head: RSlice<'_, u8>, hint: &FfiProbeHint) -> RResult<u8, FfiError> {
        guard(|| self.0.probe(head.as_slice(), &hint.into()))
    }

    fn describe(
        &self,
        source: FfiByteSource_TO<'static, abi_stable::std_types::RBox<()>>,
        hint: &FfiProbeHint,
    ) -> RResult<RString, FfiError> {
        guard(|| {
            let source: Arc<dyn ByteSource> = Arc::new(ImportedByteSource(source));
            let info = self.0.describe(source, &hint.into())?;
            serde_json::to_string(&info)
                .map(Into::into)
                .map_err(|e| PluginError::Internal(format!("cannot encode media info: {e}")))
        })
    }

    fn open(
        &self,
        source: FfiByteSource_TO<'static, abi_stable::std_types::RBox<()>>,
        hint: &FfiProbeHint,
    ) -> RResult<FfiDecodeSession_TO<'static, abi_stable::std_types::RBox<()>>, FfiError> {
        guard(|| {
            let source: Arc<dyn ByteSource> = Arc::new(ImportedByteSource(source));
            let session = self.0.open(source, &hint.into())?;
            let channels = usize::from(session.spec().channels.max(1));
            let exported = ExportedSession {
                inner: session,
                pending: Vec::new(),
                offset: 0,
                channels,
                ended: false,
                deferred: None,
            };
            Ok(FfiDecodeSession_TO::from_value(
                exported,
                abi_stable::sabi_trait::TD_Opaque,
            ))
        })
    }
}

/// A [`DecodeSession`] as an [`FfiDecodeSession`]: fills the host's buffer from as many
/// decoded chunks as fit, so small-packet codecs cross the boundary a few times less.
pub(crate) struct ExportedSession {
    inner: Box<dyn DecodeSession>,
    pending: Vec<f32>,
    offset: usize,
    channels: usize,
    ended: bool,
    /// An error met after samples were already copied; reported on the next call.
    deferred: Option<PluginError>,
}

impl FfiDecodeSession for ExportedSession {
    fn spec(&self) -> RResult<FfiStreamSpec, FfiError> {
        guard(|| Ok(self.inner.spec().into()))
    }

    fn read(&mut self, mut out: RSliceMut<'_, f32>) -> RResult<FfiRead, FfiError> {
        guard(|| {
            if let Some(error) = self.deferred.take() {
                return Err(error);
            }
            let out = out.as_mut_slice();
            let room = out.len() / self.channels * self.channels;
            if room == 0 {
                return Err(PluginError::Invalid(
                    "the read buffer is smaller than one frame".into(),
                ));
            }
            let mut n = 0;
            while n < room {
                if self.offset >= self.pending.len() {
                    if self.ended {
                        break;
                    }
                    self.offset = 0;
                    match self.inner.read(&mut self.pending) {
                        Ok(0) => {
                            self.pending.clear();
                            self.ended = true;
                            break;
                        }
                        Ok(_) => {}
                        Err(e) if n == 0 => return Err(e),
                        Err(e) => {
                            self.pending.clear();
                            self.deferred = Some(e);
                            break;
                        }
                    }
                }
                let take = (room - n).min(self.pending.len() - self.offset);
                out[n..n + take].copy_from_slice(&self.pending[self.offset..self.offset + take]);
                self.offset += take;
                n += take;
            }
            Ok(FfiRead {
                samples: n,
                remaining: self.pending.len() - self.offset,
            })
        })
    }

    fn seek(&mut self, frame: u64) -> RResult<u64, FfiError> {
        self.pending.clear();
        self.offset = 0;
        self.ended = false;
        self.deferred = None;
        guard(|| self.inner.seek(frame))
    }
}

/// A [`StorageProvider`] as an [`FfiStorageProvider`].
pub(crate) struct ExportedProvider(pub(crate) Box<dyn StorageProvider>);

impl FfiStorageProvider for ExportedProvider {
    fn change_cursor(&self) -> RResult<RString, FfiError> {
        guard(|| self.0.change_cursor().map(Into::into))
    }

    fn list(&self, page_token: ROption<RStr<'_>>) -> RResult<FfiListPage, FfiError> {
        guard(|| {
            self.0
                .list(page_token.into_option().map(|t| t.as_str()))
                .map(Into::into)
        })
    }

    fn changes(&self, cursor: RStr<'_>) -> RResult<FfiChangePage, FfiError> {
        guard(|| self.0.changes(cursor.as_str()).map(Into::into))
    }

    fn read_range(&self, id: RStr<'_>, range: FfiByteRange) -> RResult<RVec<u8>, FfiError> {
        guard(|| self.0.read_range(id.as_str(), range.into()).map(Into::into))
    }
}

/// A [`MetadataSource`] as an [`FfiMetadataSource`].
pub(crate) struct ExportedMetadata(pub(crate) Box<dyn MetadataSource>);

impl FfiMetadataSource for ExportedMetadata {
    fn identify(&self, query_json: RStr<'_>) -> RResult<RString, FfiError> {
        guard(|| {
            let query: TrackQuery = parse(query_json, "track query")?;
            encode(&self.0.identify(&query)?, "candidates").map(Into::into)
        })
    }

    fn artwork(&self, request_json: RStr<'_>) -> RResult<ROption<FfiArtwork>, FfiError> {
        guard(|| {
            let request: ArtworkRequest = parse(request_json, "artwork request")?;
            Ok(self.0.artwork(&request)?.map(FfiArtwork::from).into())
        })
    }

    fn lyrics(&self, query_json: RStr<'_>) -> RResult<ROption<RString>, FfiError> {
        guard(|| {
            let query: TrackQuery = parse(query_json, "track query")?;
            let lyrics = match self.0.lyrics(&query)? {
                Some(lyrics) => Some(RString::from(encode(&lyrics, "lyrics")?)),
                None => None,
            };
            Ok(lyrics.into())
        })
    }
}

/// Parses the host's JSON argument `what`.
fn parse<T: serde::de::DeserializeOwned>(json: RStr<'_>, what: &str) -> PluginResult<T> {
    serde_json::from_str(json.as_str()).map_err(|e| PluginError::Invalid(format!("{what}: {e}")))
}

/// Encodes an answer `what` as JSON.
fn encode<T: serde::Serialize>(value: &T, what: &str) -> PluginResult<String> {
    serde_json::to_string(value)
        .map_err(|e| PluginError::Internal(format!("cannot encode {what}: {e}")))
}

/// A [`ByteSource`] as an [`FfiByteSource`].
pub(crate) struct ExportedByteSource(pub(crate) Arc<dyn ByteSource>);

impl FfiByteSource for ExportedByteSource {
    fn len(&self) -> RResult<u64, FfiError> {
        guard(|| self.0.len())
    }

    fn read_at(&self, offset: u64, mut buf: RSliceMut<'_, u8>) -> RResult<usize, FfiError> {
        guard(|| self.0.read_at(offset, buf.as_mut_slice()))
    }
}

/// A [`FileSystem`] as an [`FfiFileSystem`].
pub(crate) struct ExportedFileSystem(pub(crate) Arc<dyn FileSystem>);

impl FfiFileSystem for ExportedFileSystem {
    fn read_dir(&self, path: RStr<'_>) -> RResult<RVec<FfiDirEntry>, FfiError> {
        guard(|| {
            Ok(self
                .0
                .read_dir(path.as_str())?
                .into_iter()
                .map(Into::into)
                .collect())
        })
    }

    fn stat(&self, path: RStr<'_>) -> RResult<FfiFileStat, FfiError> {
        guard(|| self.0.stat(path.as_str()).map(Into::into))
    }

    fn read_at(
        &self,
        path: RStr<'_>,
        offset: u64,
        mut buf: RSliceMut<'_, u8>,
    ) -> RResult<usize, FfiError> {
        guard(|| self.0.read_at(path.as_str(), offset, buf.as_mut_slice()))
    }
}

/// An [`HttpClient`] as an [`FfiHttpClient`].
pub(crate) struct ExportedHttp(pub(crate) Arc<dyn HttpClient>);

impl FfiHttpClient for ExportedHttp {
    fn send(&self, request: FfiHttpRequest) -> RResult<FfiHttpResponse, FfiError> {
        guard(|| self.0.send(request.into()).map(Into::into))
    }
}

/// A [`Log`] as an [`FfiLog`].
pub(crate) struct ExportedLog(pub(crate) Arc<dyn Log>);

pub(crate) fn level_to_u8(level: LogLevel) -> u8 {
    match level {
        LogLevel::Trace => 0,
        LogLevel::Debug => 1,
        LogLevel::Info => 2,
        LogLevel::Warn => 3,
        LogLevel::Error => 4,
    }
}

pub(crate) fn level_from_u8(level: u8) -> LogLevel {
    match level {
        0 => LogLevel::Trace,
        1 => LogLevel::Debug,
        2 => LogLevel::Info,
        3 => LogLevel::Warn,
        _ => LogLevel::Error,
    }
}

impl FfiLog for ExportedLog {
    fn log(&self, level: u8, message: RStr<'_>) {
        let _ = guard(|| {
            self.0.log(level_from_u8(level), message.as_str());
            Ok(())
        });
    }
}

/// A [`Clock`] as an [`FfiClock`].
pub(crate) struct ExportedClock(pub(crate) Arc<dyn Clock>);

impl FfiClock for ExportedClock {
    fn now_unix_ms(&self) -> i64 {
        guard(|| Ok(self.0.now_unix_ms())).unwrap_or(0)
    }
}

/// A [`KeyValueStore`] as an [`FfiKeyValueStore`].
pub(crate) struct ExportedState(pub(crate) Arc<dyn KeyValueStore>);

impl FfiKeyValueStore for ExportedState {
    fn get(&self, key: RStr<'_>) -> RResult<ROption<RVec<u8>>, FfiError> {
        guard(|| {
            Ok(match self.0.get(key.as_str())? {
                Some(v) => ROption::RSome(v.into()),
                None => RNone,
            })
        })
    }

    fn put(&self, key: RStr<'_>, value: RSlice<'_, u8>) -> RResult<(), FfiError> {
        guard(|| self.0.put(key.as_str(), value.as_slice()))
    }

    fn delete(&self, key: RStr<'_>) -> RResult<(), FfiError> {
        guard(|| self.0.delete(key.as_str()))
    }

    fn keys(&self, prefix: RStr<'_>) -> RResult<RVec<RString>, FfiError> {
        guard(|| {
            Ok(self
                .0
                .keys(prefix.as_str())?
                .into_iter()
                .map(RString::from)
                .collect())
        })
    }
}
