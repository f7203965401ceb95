//! FFI-safe trait objects: the plugin's entry points, and the host's capabilities.
//!
//! Methods may only ever be appended (after `last_prefix_field`), so a library built
//! against an older minor keeps loading.

use abi_stable::sabi_trait;
use abi_stable::std_types::{RBox, ROption, RResult, RSlice, RSliceMut, RStr, RString, RVec};

use super::types::{
    FfiArtwork, FfiByteRange, FfiChangePage, FfiDirEntry, FfiError, FfiFileStat, FfiHttpRequest,
    FfiHttpResponse, FfiListPage, FfiProbeHint, FfiRead, FfiStreamSpec,
};

/// [`ByteSource`](tonearm_plugin_api::ByteSource), implemented by the host.
#[sabi_trait]
pub trait FfiByteSource: Send + Sync {
    /// The length.
    fn len(&self) -> RResult<u64, FfiError>;
    /// Reads at an offset.
    #[sabi(last_prefix_field)]
    fn read_at(&self, offset: u64, buf: RSliceMut<'_, u8>) -> RResult<usize, FfiError>;
}

/// [`FileSystem`](tonearm_plugin_api::FileSystem), implemented by the host.
#[sabi_trait]
pub trait FfiFileSystem: Send + Sync {
    /// Lists a folder.
    fn read_dir(&self, path: RStr<'_>) -> RResult<RVec<FfiDirEntry>, FfiError>;
    /// Describes a file.
    fn stat(&self, path: RStr<'_>) -> RResult<FfiFileStat, FfiError>;
    /// Reads a file at an offset.
    #[sabi(last_prefix_field)]
    fn read_at(
        &self,
        path: RStr<'_>,
        offset: u64,
        buf: RSliceMut<'_, u8>,
    ) -> RResult<usize, FfiError>;
}

/// [`HttpClient`](tonearm_plugin_api::HttpClient), implemented by the host.
#[sabi_trait]
pub trait FfiHttpClient: Send + Sync {
    /// Sends a request.
    #[sabi(last_prefix_field)]
    fn send(&self, request: FfiHttpRequest) -> RResult<FfiHttpResponse, FfiError>;
}

/// [`Log`](tonearm_plugin_api::Log), implemented by the host; `level` is 0 (trace) to 4 (error).
#[sabi_trait]
pub trait FfiLog: Send + Sync {
    /// Records a line.
    #[sabi(last_prefix_field)]
    fn log(&self, level: u8, message: RStr<'_>);
}

/// [`Clock`](tonearm_plugin_api::Clock), implemented by the host.
#[sabi_trait]
pub trait FfiClock: Send + Sync {
    /// Milliseconds since the epoch.
    #[sabi(last_prefix_field)]
    fn now_unix_ms(&self) -> i64;
}

/// [`KeyValueStore`](tonearm_plugin_api::KeyValueStore), implemented by the host.
#[sabi_trait]
pub trait FfiKeyValueStore: Send + Sync {
    /// Gets a value.
    fn get(&self, key: RStr<'_>) -> RResult<ROption<RVec<u8>>, FfiError>;
    /// Puts a value.
    fn put(&self, key: RStr<'_>, value: RSlice<'_, u8>) -> RResult<(), FfiError>;
    /// Deletes a value.
    fn delete(&self, key: RStr<'_>) -> RResult<(), FfiError>;
    /// Keys with a prefix.
    #[sabi(last_prefix_field)]
    fn keys(&self, prefix: RStr<'_>) -> RResult<RVec<RString>, FfiError>;
}

/// [`StorageProvider`](tonearm_plugin_api::StorageProvider), implemented by the plugin.
#[sabi_trait]
pub trait FfiStorageProvider: Send + Sync {
    /// See [`StorageProvider::change_cursor`](tonearm_plugin_api::StorageProvider::change_cursor).
    fn change_cursor(&self) -> RResult<RString, FfiError>;
    /// See [`StorageProvider::list`](tonearm_plugin_api::StorageProvider::list).
    fn list(&self, page_token: ROption<RStr<'_>>) -> RResult<FfiListPage, FfiError>;
    /// See [`StorageProvider::changes`](tonearm_plugin_api::StorageProvider::changes).
    fn changes(&self, cursor: RStr<'_>) -> RResult<FfiChangePage, FfiError>;
    /// See [`StorageProvider::read_range`](tonearm_plugin_api::StorageProvider::read_range).
    #[sabi(last_prefix_field)]
    fn read_range(&self, id: RStr<'_>, range: FfiByteRange) -> RResult<RVec<u8>, FfiError>;
}

/// [`DecodeSession`](tonearm_plugin_api::DecodeSession), implemented by the plugin.
#[sabi_trait]
pub trait FfiDecodeSession: Send {
    /// The stream's shape.
    fn spec(&self) -> RResult<FfiStreamSpec, FfiError>;
    /// Copies the next whole frames of interleaved samples into `out` (the host's memory).
    fn read(&mut self, out: RSliceMut<'_, f32>) -> RResult<FfiRead, FfiError>;
    /// Seeks.
    #[sabi(last_prefix_field)]
    fn seek(&mut self, frame: u64) -> RResult<u64, FfiError>;
}

/// [`Decoder`](tonearm_plugin_api::Decoder), implemented by the plugin.
#[sabi_trait]
pub trait FfiDecoder: Send + Sync {
    /// Scores a head; an error means the plugin failed, not "cannot decode".
    fn probe(&self, head: RSlice<'_, u8>, hint: &FfiProbeHint) -> RResult<u8, FfiError>;
    /// Opens a session.
    fn open(
        &self,
        source: FfiByteSource_TO<'static, RBox<()>>,
        hint: &FfiProbeHint,
    ) -> RResult<FfiDecodeSession_TO<'static, RBox<()>>, FfiError>;
    /// Stream and tags of a file, as JSON of the contract's `MediaInfo`: rich nested data,
    /// read once per file.
    #[sabi(last_prefix_field)]
    fn describe(
        &self,
        source: FfiByteSource_TO<'static, RBox<()>>,
        hint: &FfiProbeHint,
    ) -> RResult<RString, FfiError>;
}

/// [`MetadataSource`](tonearm_plugin_api::MetadataSource), implemented by the plugin. Queries,
/// candidates and lyrics cross as JSON: rich nested data, never on a hot path. Images cross
/// as bytes.
#[sabi_trait]
pub trait FfiMetadataSource: Send + Sync {
    /// Identifies a JSON [`TrackQuery`](tonearm_plugin_api::TrackQuery); answers JSON candidates.
    fn identify(&self, query_json: RStr<'_>) -> RResult<RString, FfiError>;
    /// The image a JSON [`ArtworkRequest`](tonearm_plugin_api::ArtworkRequest) names, if any.
    fn artwork(&self, request_json: RStr<'_>) -> RResult<ROption<FfiArtwork>, FfiError>;
    /// JSON [`Lyrics`](tonearm_plugin_api::Lyrics) of a JSON `TrackQuery`'s track, if any.
    #[sabi(last_prefix_field)]
    fn lyrics(&self, query_json: RStr<'_>) -> RResult<ROption<RString>, FfiError>;
}
