//! FFI trait objects presented as the contract's Rust traits.

use std::sync::Arc;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RArc, RBox, RSlice, RSliceMut, RStr, RString};

use super::exported::{
    ExportedByteSource, ExportedClock, ExportedFileSystem, ExportedHttp, ExportedLog,
    ExportedState, level_to_u8,
};
use super::module::{FfiHostContext, FfiSetting};
use super::traits::{
    FfiByteSource_TO, FfiClock_TO, FfiDecodeSession_TO, FfiDecoder_TO, FfiFileSystem_TO,
    FfiHttpClient_TO, FfiKeyValueStore_TO, FfiLog_TO, FfiMetadataSource_TO, FfiStorageProvider_TO,
};
use tonearm_plugin_api::decoder::{DecodeSession, Decoder, MediaInfo, ProbeHint, StreamSpec};
use tonearm_plugin_api::error::{PluginError, PluginResult};
use tonearm_plugin_api::host::{
    ByteSource, Clock, DirEntry, FileStat, FileSystem, HostContext, HttpClient, HttpRequest,
    HttpResponse, KeyValueStore, Log, LogLevel,
};
use tonearm_plugin_api::metadata::{
    Artwork, ArtworkRequest, Candidate, Lyrics, MetadataSource, TrackQuery,
};
use tonearm_plugin_api::storage::{ByteRange, ChangePage, ListPage, StorageProvider};

fn from_ffi<T>(r: abi_stable::std_types::RResult<T, super::types::FfiError>) -> PluginResult<T> {
    r.into_result().map_err(Into::into)
}

/// An [`FfiByteSource_TO`] as a [`ByteSource`].
pub(crate) struct ImportedByteSource(pub(crate) FfiByteSource_TO<'static, RBox<()>>);

impl ByteSource for ImportedByteSource {
    fn len(&self) -> PluginResult<u64> {
        from_ffi(self.0.len())
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> PluginResult<usize> {
        from_ffi(self.0.read_at(offset, RSliceMut::from_mut_slice(buf)))
    }
}

/// An [`FfiDecoder_TO`] as a [`Decoder`].
pub struct ImportedDecoder(pub(crate) FfiDecoder_TO<'static, RBox<()>>);

impl Decoder for ImportedDecoder {
    fn probe(&self, head: &[u8], hint: &ProbeHint) -> PluginResult<u8> {
        from_ffi(self.0.probe(RSlice::from_slice(head), &hint.into()))
    }

    fn describe(&self, source: Arc<dyn ByteSource>, hint: &ProbeHint) -> PluginResult<MediaInfo> {
        let source = FfiByteSource_TO::from_value(ExportedByteSource(source), TD_Opaque);
        let json = from_ffi(self.0.describe(source, &hint.into()))?;
        serde_json::from_str(json.as_str())
            .map_err(|e| PluginError::Corrupt(format!("the plugin's media info: {e}")))
    }

    fn open(
        &self,
        source: Arc<dyn ByteSource>,
        hint: &ProbeHint,
    ) -> PluginResult<Box<dyn DecodeSession>> {
        let source = FfiByteSource_TO::from_value(ExportedByteSource(source), TD_Opaque);
        let session = from_ffi(self.0.open(source, &hint.into()))?;
        let spec: StreamSpec = from_ffi(session.spec())?.into();
        let channels = usize::from(spec.channels.max(1));
        Ok(Box::new(ImportedSession {
            inner: session,
            spec,
            want: INITIAL_READ_SAMPLES.max(channels),
        }))
    }
}

/// Samples the host first offers a native decoder per read, before it knows its chunks.
const INITIAL_READ_SAMPLES: usize = 16 * 1024;

/// An [`FfiDecodeSession_TO`] as a [`DecodeSession`]. The plugin writes straight into the
/// caller's buffer, sized to the decoder's last chunk so that, as chunks are usually all
/// alike, resizing it costs nothing.
struct ImportedSession {
    inner: FfiDecodeSession_TO<'static, RBox<()>>,
    spec: StreamSpec,
    want: usize,
}

impl DecodeSession for ImportedSession {
    fn spec(&self) -> StreamSpec {
        self.spec.clone()
    }

    fn read(&mut self, out: &mut Vec<f32>) -> PluginResult<usize> {
        out.resize(self.want, 0.0);
        let read = match from_ffi(self.inner.read(RSliceMut::from_mut_slice(out))) {
            Ok(read) => read,
            Err(e) => {
                out.clear();
                return Err(e);
            }
        };
        let written = read.samples;
        if written > 0 {
            self.want = (written + read.remaining).max(usize::from(self.spec.channels.max(1)));
        }
        out.truncate(written);
        Ok(written / usize::from(self.spec.channels.max(1)))
    }

    fn seek(&mut self, frame: u64) -> PluginResult<u64> {
        from_ffi(self.inner.seek(frame))
    }
}

/// An [`FfiStorageProvider_TO`] as a [`StorageProvider`].
pub struct ImportedProvider(pub(crate) FfiStorageProvider_TO<'static, RBox<()>>);

impl StorageProvider for ImportedProvider {
    fn change_cursor(&self) -> PluginResult<String> {
        from_ffi(self.0.change_cursor()).map(|s| s.into_string())
    }

    fn list(&self, page_token: Option<&str>) -> PluginResult<ListPage> {
        from_ffi(self.0.list(page_token.map(RStr::from_str).into())).map(Into::into)
    }

    fn changes(&self, cursor: &str) -> PluginResult<ChangePage> {
        from_ffi(self.0.changes(RStr::from_str(cursor))).map(Into::into)
    }

    fn read_range(&self, id: &str, range: ByteRange) -> PluginResult<Vec<u8>> {
        from_ffi(self.0.read_range(RStr::from_str(id), range.into())).map(|v| v.into_vec())
    }
}

/// An [`FfiMetadataSource_TO`] as a [`MetadataSource`].
pub struct ImportedMetadata(pub(crate) FfiMetadataSource_TO<'static, RBox<()>>);

impl MetadataSource for ImportedMetadata {
    fn identify(&self, query: &TrackQuery) -> PluginResult<Vec<Candidate>> {
        let json = to_json(query, "query")?;
        let answer = from_ffi(self.0.identify(RStr::from_str(&json)))?;
        from_json(&answer, "candidates")
    }

    fn artwork(&self, request: &ArtworkRequest) -> PluginResult<Option<Artwork>> {
        let json = to_json(request, "artwork request")?;
        let answer = from_ffi(self.0.artwork(RStr::from_str(&json)))?;
        Ok(answer.into_option().map(Artwork::from))
    }

    fn lyrics(&self, query: &TrackQuery) -> PluginResult<Option<Lyrics>> {
        let json = to_json(query, "query")?;
        match from_ffi(self.0.lyrics(RStr::from_str(&json)))?.into_option() {
            Some(answer) => from_json(&answer, "lyrics").map(Some),
            None => Ok(None),
        }
    }
}

/// Encodes the host's argument `what` as JSON.
fn to_json<T: serde::Serialize>(value: &T, what: &str) -> PluginResult<String> {
    serde_json::to_string(value)
        .map_err(|e| PluginError::Internal(format!("cannot encode {what}: {e}")))
}

/// Parses the plugin's JSON answer `what`.
fn from_json<T: serde::de::DeserializeOwned>(json: &RString, what: &str) -> PluginResult<T> {
    serde_json::from_str(json.as_str()).map_err(|e| {
        PluginError::Corrupt(format!("the plugin answered {what} that do not parse: {e}"))
    })
}

struct ImportedFileSystem(FfiFileSystem_TO<'static, RArc<()>>);

impl FileSystem for ImportedFileSystem {
    fn read_dir(&self, path: &str) -> PluginResult<Vec<DirEntry>> {
        from_ffi(self.0.read_dir(RStr::from_str(path)))
            .map(|v| v.into_iter().map(Into::into).collect())
    }

    fn stat(&self, path: &str) -> PluginResult<FileStat> {
        from_ffi(self.0.stat(RStr::from_str(path))).map(Into::into)
    }

    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> PluginResult<usize> {
        from_ffi(
            self.0
                .read_at(RStr::from_str(path), offset, RSliceMut::from_mut_slice(buf)),
        )
    }
}

struct ImportedHttp(FfiHttpClient_TO<'static, RArc<()>>);

impl HttpClient for ImportedHttp {
    fn send(&self, request: HttpRequest) -> PluginResult<HttpResponse> {
        from_ffi(self.0.send(request.into())).map(Into::into)
    }
}

struct ImportedLog(FfiLog_TO<'static, RArc<()>>);

impl Log for ImportedLog {
    fn log(&self, level: LogLevel, message: &str) {
        self.0.log(level_to_u8(level), RStr::from_str(message));
    }
}

struct ImportedClock(FfiClock_TO<'static, RArc<()>>);

impl Clock for ImportedClock {
    fn now_unix_ms(&self) -> i64 {
        self.0.now_unix_ms()
    }
}

struct ImportedState(FfiKeyValueStore_TO<'static, RArc<()>>);

impl KeyValueStore for ImportedState {
    fn get(&self, key: &str) -> PluginResult<Option<Vec<u8>>> {
        from_ffi(self.0.get(RStr::from_str(key))).map(|v| v.into_option().map(|v| v.into_vec()))
    }

    fn put(&self, key: &str, value: &[u8]) -> PluginResult<()> {
        from_ffi(self.0.put(RStr::from_str(key), RSlice::from_slice(value)))
    }

    fn delete(&self, key: &str) -> PluginResult<()> {
        from_ffi(self.0.delete(RStr::from_str(key)))
    }

    fn keys(&self, prefix: &str) -> PluginResult<Vec<String>> {
        from_ffi(self.0.keys(RStr::from_str(prefix)))
            .map(|v| v.into_iter().map(|s| s.into_string()).collect())
    }
}

impl From<&HostContext> for FfiHostContext {
    fn from(ctx: &HostContext) -> Self {
        FfiHostContext {
            log: FfiLog_TO::from_ptr(RArc::new(ExportedLog(ctx.log.clone())), TD_Opaque),
            clock: FfiClock_TO::from_ptr(RArc::new(ExportedClock(ctx.clock.clone())), TD_Opaque),
            fs: ctx
                .fs
                .clone()
                .map(|fs| FfiFileSystem_TO::from_ptr(RArc::new(ExportedFileSystem(fs)), TD_Opaque))
                .into(),
            http: ctx
                .http
                .clone()
                .map(|h| FfiHttpClient_TO::from_ptr(RArc::new(ExportedHttp(h)), TD_Opaque))
                .into(),
            state: ctx
                .state
                .clone()
                .map(|s| FfiKeyValueStore_TO::from_ptr(RArc::new(ExportedState(s)), TD_Opaque))
                .into(),
            settings: ctx
                .settings
                .iter()
                .map(|(k, v)| FfiSetting {
                    key: k.as_str().into(),
                    value: v.as_str().into(),
                })
                .collect(),
        }
    }
}

impl From<FfiHostContext> for HostContext {
    fn from(ctx: FfiHostContext) -> Self {
        let mut host = HostContext::new(
            Arc::new(ImportedLog(ctx.log)),
            Arc::new(ImportedClock(ctx.clock)),
        );
        host.fs = ctx
            .fs
            .into_option()
            .map(|fs| Arc::new(ImportedFileSystem(fs)) as Arc<dyn FileSystem>);
        host.http = ctx
            .http
            .into_option()
            .map(|h| Arc::new(ImportedHttp(h)) as Arc<dyn HttpClient>);
        host.state = ctx
            .state
            .into_option()
            .map(|s| Arc::new(ImportedState(s)) as Arc<dyn KeyValueStore>);
        host.settings = ctx
            .settings
            .into_iter()
            .map(|s| (s.key.into_string(), s.value.into_string()))
            .collect();
        host
    }
}
