//! The stable contract between the Tonearm host and its plugins.
//!
//! Every source of music is a plugin of one of three kinds — a [`StorageProvider`], a
//! [`Decoder`] or a [`MetadataSource`] — defined here once as synchronous Rust traits over
//! plain data. A plugin never performs I/O of its own: it receives a [`HostContext`] whose
//! capabilities (granted-root filesystem, HTTP, byte sources, state, log, clock) the host
//! implements, checks and traces. The same impl can therefore be linked in, loaded as a
//! native library or run as a sandboxed component, and behaves identically in each.
//!
//! A plugin crate exports a [`PluginDescriptor`]; the final binary chooses which descriptors
//! to link and submits them with [`register_builtin!`]. Nothing here depends on how a
//! plugin is shipped: `tonearm-plugin-native` exports a descriptor as a native library and
//! `tonearm-plugin-component` as a sandboxed wasm component, each in one line.

pub mod decoder;
pub mod error;
pub mod folder_tree;
pub mod host;
pub mod manifest;
pub mod metadata;
pub mod registration;
pub mod storage;
pub mod version;

pub use decoder::{DecodeSession, Decoder, MediaInfo, PROBE_HEAD_LEN, ProbeHint, StreamSpec};
pub use error::{PluginError, PluginResult};
pub use folder_tree::{Folder, FolderTree};
pub use host::{
    ByteSource, ByteSourceReader, Clock, DirEntry, EntryKind, FileStat, FileSystem, HostContext,
    HttpClient, HttpRequest, HttpResponse, KeyValueStore, Log, LogLevel, MemoryByteSource,
};
pub use manifest::{
    Capabilities, FormatClaims, MagicPattern, OAuthSpec, PluginKind, PluginManifest, RateLimit,
};
pub use metadata::{
    Artwork, ArtworkRequest, Candidate, Fingerprint, Lyrics, MetadataFeatures, MetadataSource,
    TrackQuery, TrackTags,
};
pub use registration::{BuiltinPlugin, Instantiate, PluginDescriptor, builtin_plugins};
pub use storage::{
    ByteRange, Change, ChangePage, ContentHash, ListPage, RemoteEntry, StorageProvider,
    extension_of,
};
pub use version::{API_VERSION, VersionMismatch, api_version, check_api_compatibility};

#[doc(hidden)]
pub use inventory as __inventory;
#[doc(hidden)]
pub use semver;
