//! The library as the sync engine and the apps see it: one [`LibraryStore`] interface,
//! kept in SQLite by the native host and in IndexedDB by the browser bundle.
//!
//! A store's promises, which [`conformance`] checks for any implementation: every
//! [`LibraryStore::apply_batch`] is atomic together with the plugin state and the sync
//! position it carries, so a killed sync loses nothing and duplicates nothing; albums,
//! artists and genres that the store's writes left without tracks are gone after
//! [`LibraryStore::remove_orphans`]; search matches every word
//! of a query as a word prefix, ignoring case and accents.

pub mod conformance;
mod model;
pub mod search;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

pub use model::{
    ArtworkRef, AudioProperties, CursorUpdate, FailedFile, FileWrite, KnownFile, LibraryStats,
    MAX_EMBEDDED_IMAGE, Playlist, ReplayGain, Retry, ScannedTrack, Source, TrackLocation, TrackRow,
};

use crate::{MaybeSend, MaybeSync};

/// Why a library operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No source has this name.
    #[error("no source named `{0}`")]
    NoSuchSource(String),
    /// A source with this name exists.
    #[error("a source named `{0}` already exists")]
    SourceExists(String),
    /// No track has this id.
    #[error("no track with id {0}")]
    NoSuchTrack(i64),
    /// No playlist has this id.
    #[error("no playlist with id {0}")]
    NoSuchPlaylist(i64),
    /// No playlist has this name.
    #[error("no playlist named `{0}`")]
    NoSuchPlaylistNamed(String),
    /// A playlist with this name exists.
    #[error("a playlist named `{0}` already exists")]
    PlaylistExists(String),
    /// A playlist has no entry at this position.
    #[error("playlist {playlist} has no entry {index} (it has {len})")]
    NoSuchPlaylistEntry {
        /// The playlist.
        playlist: i64,
        /// The position asked for, from 0.
        index: u32,
        /// How many entries it has.
        len: u32,
    },
    /// Stored data could not be decoded.
    #[error("corrupt library data: {0}")]
    Corrupt(String),
    /// The storage underneath failed (a database error, a browser refusing storage).
    #[error("library storage failed: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// A storage failure described by `message`.
    pub fn storage(message: impl Into<String>) -> Self {
        Self::Storage(message.into().into())
    }
}

/// Results of library operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// A change to a playlist's entries, carried out alike by every store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaylistEdit {
    /// Removes the entry at this position.
    Remove(u32),
    /// Moves the entry at `from` to position `to`.
    Move {
        /// Where it is.
        from: u32,
        /// Where it goes.
        to: u32,
    },
}

impl PlaylistEdit {
    /// Applies the edit to `tracks`, the entries of playlist `playlist` in order.
    pub fn apply(self, playlist: i64, tracks: &mut Vec<i64>) -> StoreResult<()> {
        let len = tracks.len();
        let past_end = |index: u32| StoreError::NoSuchPlaylistEntry {
            playlist,
            index,
            len: u32::try_from(len).unwrap_or(u32::MAX),
        };
        let check = |index: u32| {
            usize::try_from(index)
                .ok()
                .filter(|&i| i < len)
                .ok_or_else(|| past_end(index))
        };
        match self {
            Self::Remove(index) => {
                tracks.remove(check(index)?);
            }
            Self::Move { from, to } => {
                let (from, to) = (check(from)?, check(to)?);
                let track = tracks.remove(from);
                tracks.insert(to, track);
            }
        }
        Ok(())
    }
}

/// A change to one key of a source's plugin state: a new value, or `None` to delete it.
pub type StateChange = (String, Option<Vec<u8>>);

/// Where the library lives: sources with their sync position, files, tracks, playlists and
/// the plugin state of each source.
///
/// Futures are `Send` natively (a sync runs on many threads) and not in the browser (where
/// IndexedDB's handles are tied to the worker's one thread).
pub trait LibraryStore: Clone + MaybeSend + MaybeSync + 'static {
    /// Adds a source named `name` served by the provider plugin `provider`.
    fn add_source(
        &self,
        name: &str,
        provider: &str,
        settings: &BTreeMap<String, String>,
    ) -> impl Future<Output = StoreResult<Source>> + MaybeSend;

    /// Every source, by name.
    fn sources(&self) -> impl Future<Output = StoreResult<Vec<Source>>> + MaybeSend;

    /// The source named `name`.
    fn source(&self, name: &str) -> impl Future<Output = StoreResult<Source>> + MaybeSend;

    /// Removes a source with its files, tracks and state.
    fn remove_source(&self, name: &str) -> impl Future<Output = StoreResult<()>> + MaybeSend;

    /// The files of `source_id` among `remote_ids`, by remote id.
    fn known_files(
        &self,
        source_id: i64,
        remote_ids: &[&str],
    ) -> impl Future<Output = StoreResult<HashMap<String, KnownFile>>> + MaybeSend;

    /// The files of `source_id` whose last read failed for a reason that may pass and is
    /// due again at `now_ms`, as the provider last listed them.
    fn retries_due(
        &self,
        source_id: i64,
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<Vec<tonearm_plugin_api::RemoteEntry>>> + MaybeSend;

    /// Starts a full listing of `source_id` from the change cursor `cursor`; returns the
    /// listing's generation, stamped on every file it sees.
    fn begin_listing(
        &self,
        source_id: i64,
        cursor: &str,
    ) -> impl Future<Output = StoreResult<i64>> + MaybeSend;

    /// Finishes a full listing: files it did not see are removed, and its cursor becomes
    /// the source's change cursor. Returns how many files were removed.
    fn finish_listing(
        &self,
        source_id: i64,
        generation: i64,
    ) -> impl Future<Output = StoreResult<u64>> + MaybeSend;

    /// Forgets the change cursor so the next sync lists everything again.
    fn reset_cursor(&self, source_id: i64) -> impl Future<Output = StoreResult<()>> + MaybeSend;

    /// Records that a sync finished (`error: None`) or failed.
    fn record_sync_result(
        &self,
        source_id: i64,
        error: Option<&str>,
    ) -> impl Future<Output = StoreResult<()>> + MaybeSend;

    /// Writes one batch of changes to `source_id`, the provider's `state` changes made
    /// while producing it, and the sync `position` it reached, in one transaction: a
    /// resumed sync never sees a position without the state that led to it.
    fn apply_batch(
        &self,
        source_id: i64,
        generation: i64,
        writes: Vec<FileWrite>,
        state: Vec<StateChange>,
        position: CursorUpdate,
    ) -> impl Future<Output = StoreResult<()>> + MaybeSend;

    /// Removes albums, artists, genres and artwork that writes through this store left
    /// without tracks. A store may skip the sweep when none of its writes since the last
    /// one could have left any (the SQLite store keeps that fact with the writes).
    fn remove_orphans(&self) -> impl Future<Output = StoreResult<()>> + MaybeSend;

    /// Tracks ordered by album artists, album, disc, track number and path.
    fn tracks(
        &self,
        limit: u32,
        offset: u32,
    ) -> impl Future<Output = StoreResult<Vec<TrackRow>>> + MaybeSend;

    /// Tracks matching every word of `text`, best matches first.
    fn search(
        &self,
        text: &str,
        limit: u32,
    ) -> impl Future<Output = StoreResult<Vec<TrackRow>>> + MaybeSend;

    /// One track.
    fn track(&self, id: i64) -> impl Future<Output = StoreResult<TrackRow>> + MaybeSend;

    /// Where a track's bytes are.
    fn track_location(
        &self,
        id: i64,
    ) -> impl Future<Output = StoreResult<TrackLocation>> + MaybeSend;

    /// Files whose tags could not be read, by source and path.
    fn failed_files(
        &self,
        limit: u32,
    ) -> impl Future<Output = StoreResult<Vec<FailedFile>>> + MaybeSend;

    /// Counts over the whole library.
    fn stats(&self) -> impl Future<Output = StoreResult<LibraryStats>> + MaybeSend;

    /// Creates an empty playlist and returns its id.
    fn create_playlist(&self, name: &str) -> impl Future<Output = StoreResult<i64>> + MaybeSend;

    /// Appends a track to a playlist.
    fn append_to_playlist(
        &self,
        playlist_id: i64,
        track_id: i64,
    ) -> impl Future<Output = StoreResult<()>> + MaybeSend;

    /// The tracks of a playlist in order. Positions in the other playlist calls count
    /// in this list, from 0.
    fn playlist_tracks(
        &self,
        playlist_id: i64,
    ) -> impl Future<Output = StoreResult<Vec<TrackRow>>> + MaybeSend;

    /// Every playlist, by name.
    fn playlists(&self) -> impl Future<Output = StoreResult<Vec<Playlist>>> + MaybeSend;

    /// Renames a playlist (to a name no other playlist has).
    fn rename_playlist(
        &self,
        playlist_id: i64,
        name: &str,
    ) -> impl Future<Output = StoreResult<()>> + MaybeSend;

    /// Deletes a playlist (its tracks stay in the library).
    fn delete_playlist(
        &self,
        playlist_id: i64,
    ) -> impl Future<Output = StoreResult<()>> + MaybeSend;

    /// Removes the entry at `index` of a playlist.
    fn remove_from_playlist(
        &self,
        playlist_id: i64,
        index: u32,
    ) -> impl Future<Output = StoreResult<()>> + MaybeSend;

    /// Moves the entry at `from` of a playlist to position `to`.
    fn move_in_playlist(
        &self,
        playlist_id: i64,
        from: u32,
        to: u32,
    ) -> impl Future<Output = StoreResult<()>> + MaybeSend;

    /// The plugin state of a source.
    fn load_state(
        &self,
        source_id: i64,
    ) -> impl Future<Output = StoreResult<BTreeMap<String, Vec<u8>>>> + MaybeSend;

    /// Applies changes to the plugin state of a source, atomically.
    fn save_state(
        &self,
        source_id: i64,
        changes: &[StateChange],
    ) -> impl Future<Output = StoreResult<()>> + MaybeSend;
}

/// The content hash of an entry as stores keep it: `algorithm:value`.
pub fn hash_text(entry: &tonearm_plugin_api::RemoteEntry) -> Option<String> {
    entry
        .content_hash
        .as_ref()
        .map(|h| format!("{}:{}", h.algorithm, h.value))
}

/// The content hash that [`hash_text`] wrote.
pub fn hash_from_text(text: &str) -> Option<tonearm_plugin_api::ContentHash> {
    let (algorithm, value) = text.split_once(':')?;
    Some(tonearm_plugin_api::ContentHash {
        algorithm: algorithm.to_owned(),
        value: value.to_owned(),
    })
}

/// Names joined for display: `A; B`.
pub fn display_names(names: &[String]) -> String {
    names.join("; ")
}
