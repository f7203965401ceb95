//! The worker's API: what the main thread sends (a [`Call`]) and what the worker posts
//! back (a [`WorkerMessage`]). `js/protocol.d.ts` is generated from these types (a test
//! fails when it is stale), so the JavaScript side is typed by the Rust it talks to.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use tonearm_core::cache::CacheStatus;
use tonearm_core::enrich::{EnrichReport, Field, FieldSource, Kind, StoredLyrics, Value};
use tonearm_core::events::{CoreEvent, SyncCounts};
use tonearm_core::library::{FailedFile, LibraryStats, Playlist, Source, TrackRow};
use tonearm_core::player::{GainSettings, PlayerStatus, QueueEntry, Repeat};

/// A request with the id its reply will carry: `{ id, method, params }`.
#[derive(Debug, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Call {
    /// Chosen by the caller; the reply carries it back.
    pub id: u32,
    /// What to do.
    #[serde(flatten)]
    pub request: Request,
}

/// What the main thread can ask of the worker. Every call has `params`, `{}` when there
/// is nothing to say.
#[derive(Debug, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "method", content = "params", rename_all = "camelCase")]
pub enum Request {
    /// Starts the core and opens the library (`database` names the IndexedDB database).
    /// Answers [`Reply::Ready`].
    Init {
        /// The library database; `"tonearm"` when absent.
        #[serde(default)]
        #[cfg_attr(test, ts(optional))]
        database: Option<String>,
        /// The offline cache's size limit in MiB (cloud tracks played or pinned are kept
        /// in the origin-private file system, encrypted); 1024 when absent, 0 for none.
        #[serde(default, rename = "cacheLimitMb")]
        #[cfg_attr(test, ts(optional))]
        cache_limit_mb: Option<u64>,
    },
    /// Adds a picked folder as the source `name`, or grants it again to an existing local
    /// source (file handles do not survive a reload). Answers [`Reply::Source`].
    AddFolder {
        /// The source's name.
        name: String,
        /// The picked files (sent alongside the JSON, as structured clones).
        #[cfg_attr(test, ts(type = "File[]"))]
        files: Vec<IgnoredAny>,
        /// Each file's path in the folder; by default its `webkitRelativePath` without the
        /// folder's own name, or else its name.
        #[serde(default)]
        #[cfg_attr(test, ts(optional))]
        paths: Option<Vec<String>>,
    },
    /// Starts signing a cloud source in: the worker makes the PKCE authorization URL and
    /// state; the main thread opens it in a popup. Answers [`Reply::SignIn`].
    BeginSignIn {
        /// The source's name.
        name: String,
        /// The storage provider plugin (`gdrive`, `onedrive`) of a new source; absent,
        /// the existing source `name` signs in again (its grant was revoked or expired).
        #[serde(default)]
        #[cfg_attr(test, ts(optional))]
        provider: Option<String>,
        /// Provider settings of a new source, with `client_id` (and endpoint overrides, if
        /// any); signing in again, only `client_id`, which defaults to the previous one.
        #[serde(default)]
        #[cfg_attr(test, ts(as = "Option<_>", optional))]
        settings: BTreeMap<String, String>,
        /// Where the authorization server sends the popup back.
        #[serde(rename = "redirectUri")]
        redirect_uri: String,
    },
    /// Finishes a sign-in with what the popup came back with; the worker checks `state`,
    /// exchanges `code` and adds the source. Answers [`Reply::Source`].
    CompleteSignIn {
        /// The `state` the redirect carried.
        state: String,
        /// The authorization code.
        code: String,
    },
    /// Forgets a sign-in whose popup was refused or closed. Answers [`Reply::Done`].
    CancelSignIn {
        /// The `state` of [`Reply::SignIn`].
        state: String,
    },
    /// Removes a source with its tracks and sign-in. Answers [`Reply::Done`].
    RemoveSource {
        /// The source's name.
        name: String,
    },
    /// The sources. Answers [`Reply::Sources`].
    Sources {},
    /// Syncs one source, or every source; progress arrives as `sync` events. Answers
    /// [`Reply::Synced`].
    Sync {
        /// The source; all of them when absent.
        #[serde(default)]
        #[cfg_attr(test, ts(optional))]
        source: Option<String>,
        /// List everything even when a change cursor exists.
        #[serde(default)]
        #[cfg_attr(test, ts(as = "Option<_>", optional))]
        full: bool,
    },
    /// Tracks in album order. Answers [`Reply::Tracks`].
    Tracks {
        /// At most this many.
        limit: u32,
        /// After skipping this many.
        #[serde(default)]
        #[cfg_attr(test, ts(as = "Option<_>", optional))]
        offset: u32,
    },
    /// Tracks matching every word of `text`, best first. Answers [`Reply::Tracks`].
    Search {
        /// What was typed.
        text: String,
        /// At most this many.
        limit: u32,
    },
    /// Counts over the library. Answers [`Reply::Stats`].
    Stats {},
    /// Files whose tags could not be read. Answers [`Reply::FailedFiles`].
    FailedFiles {
        /// At most this many.
        limit: u32,
    },
    /// Opens a track of the library for playback, paused. Answers [`Reply::Opened`].
    Open {
        /// The track's id.
        track: i64,
    },
    /// Starts or resumes sending a stream's PCM. Answers [`Reply::Done`].
    Play {
        /// The stream.
        stream: u32,
    },
    /// Stops sending a stream's PCM. Answers [`Reply::Done`].
    Pause {
        /// The stream.
        stream: u32,
    },
    /// The main thread played `count` chunks: as many more may be sent. Answers
    /// [`Reply::Done`].
    Credit {
        /// The stream.
        stream: u32,
        /// Chunks played (or dropped).
        count: u32,
    },
    /// Moves a stream to `frame`. Answers [`Reply::Seeked`].
    Seek {
        /// The stream.
        stream: u32,
        /// The frame to play from.
        frame: u64,
    },
    /// Closes a stream. Answers [`Reply::Done`].
    Stop {
        /// The stream.
        stream: u32,
    },
    /// Looks the library's tracks up in the metadata sources and writes what matches
    /// closely enough (tags with their provenance, covers, lyrics), then what each
    /// source answered, so the next run asks nothing again about unchanged tracks.
    /// Progress arrives as `metadata` events. Answers [`Reply::Enriched`].
    Enrich {
        /// The library source whose tracks to enrich; all of them when absent.
        #[serde(default)]
        #[cfg_attr(test, ts(optional))]
        source: Option<String>,
        /// What to look for; everything the loaded sources offer when absent.
        #[serde(default)]
        #[cfg_attr(test, ts(optional))]
        only: Option<Vec<Kind>>,
        /// Report what would change, writing nothing.
        #[serde(default, rename = "dryRun")]
        #[cfg_attr(test, ts(as = "Option<_>", optional))]
        dry_run: bool,
        /// Ask again where a source answered before.
        #[serde(default)]
        #[cfg_attr(test, ts(as = "Option<_>", optional))]
        refresh: bool,
        /// Also write medium matches, not only strong ones.
        #[serde(default, rename = "acceptMedium")]
        #[cfg_attr(test, ts(as = "Option<_>", optional))]
        accept_medium: bool,
        /// The metadata sources to ask, in order; every loaded one when absent.
        #[serde(default)]
        #[cfg_attr(test, ts(optional))]
        plugins: Option<Vec<String>>,
        /// Each metadata source's settings (`endpoint.api`, …), by plugin id.
        #[serde(default)]
        #[cfg_attr(test, ts(as = "Option<_>", optional))]
        settings: BTreeMap<String, BTreeMap<String, String>>,
    },
    /// A track's front cover, or its album's (the one most of its tracks have). Answers
    /// [`Reply::Artwork`].
    Artwork {
        /// The track's id.
        track: i64,
        /// The album's cover rather than the track's own.
        #[serde(default)]
        #[cfg_attr(test, ts(as = "Option<_>", optional))]
        album: bool,
    },
    /// A track's lyrics. Answers [`Reply::Lyrics`].
    Lyrics {
        /// The track's id.
        track: i64,
    },
    /// Sets fields of a track as the user: enrichment never writes over them. Answers
    /// [`Reply::Done`].
    EditTags {
        /// The track's id.
        track: i64,
        /// New values, by field.
        values: BTreeMap<Field, Value>,
    },
    /// Where each written or edited field of a track came from. Answers
    /// [`Reply::Provenance`].
    Provenance {
        /// The track's id.
        track: i64,
    },
    /// Every playlist, by name. Answers [`Reply::Playlists`].
    Playlists {},
    /// Creates an empty playlist. Answers [`Reply::Playlist`].
    CreatePlaylist {
        /// Its name, which no other playlist has.
        name: String,
    },
    /// Appends tracks to a playlist, in order. Answers [`Reply::Done`].
    AddToPlaylist {
        /// The playlist's id.
        playlist: i64,
        /// The tracks' ids.
        tracks: Vec<i64>,
    },
    /// A playlist's tracks in order; positions count in this list from 0. Answers
    /// [`Reply::Tracks`].
    PlaylistTracks {
        /// The playlist's id.
        playlist: i64,
    },
    /// Removes the entry at `index`. Answers [`Reply::Done`].
    RemoveFromPlaylist {
        /// The playlist's id.
        playlist: i64,
        /// The entry's position, from 0.
        index: u32,
    },
    /// Moves the entry at `from` to position `to`. Answers [`Reply::Done`].
    MoveInPlaylist {
        /// The playlist's id.
        playlist: i64,
        /// Where the entry is.
        from: u32,
        /// Where it goes.
        to: u32,
    },
    /// Renames a playlist. Answers [`Reply::Done`].
    RenamePlaylist {
        /// The playlist's id.
        playlist: i64,
        /// Its new name.
        name: String,
    },
    /// Deletes a playlist (its tracks stay in the library). Answers [`Reply::Done`].
    DeletePlaylist {
        /// The playlist's id.
        playlist: i64,
    },
    /// Starts the player, whose audio arrives as `audio` messages in the page's format
    /// (`sampleRate` × `channels`, an AudioContext's): every track is converted to it.
    /// Starting again in the same format answers the running player. Answers
    /// [`Reply::Player`], as every player call does.
    PlayerStart {
        /// Frames per second of the page's output.
        #[serde(rename = "sampleRate")]
        sample_rate: u32,
        /// Its channels.
        channels: u16,
        /// Seconds decoded ahead; 2 when absent.
        #[serde(default, rename = "ringSeconds")]
        #[cfg_attr(test, ts(optional))]
        ring_seconds: Option<f32>,
        /// Loudness normalisation; track gain with clipping prevention when absent.
        #[serde(default)]
        #[cfg_attr(test, ts(optional))]
        gain: Option<GainSettings>,
    },
    /// Queues library tracks at the end, or right after what plays now.
    Enqueue {
        /// The tracks' ids, in order.
        tracks: Vec<i64>,
        /// Right after what plays now rather than at the end.
        #[serde(default)]
        #[cfg_attr(test, ts(as = "Option<_>", optional))]
        next: bool,
    },
    /// Removes a queue entry (what plays now plays on).
    Dequeue {
        /// The entry's id.
        entry: u64,
    },
    /// Moves a queue entry to position `to`.
    MoveInQueue {
        /// The entry's id.
        entry: u64,
        /// Its new position, from 0.
        to: usize,
    },
    /// Empties the queue (what plays now plays to its end).
    ClearQueue {},
    /// Plays: resumes when paused, else starts the current (or first) entry.
    PlayerPlay {},
    /// Pauses where it is.
    PlayerPause {},
    /// Pauses when playing, plays otherwise.
    PlayerToggle {},
    /// Stops, dropping what was decoded ahead.
    PlayerStop {},
    /// Plays the next entry.
    PlayerNext {},
    /// Plays the previous entry (or, three seconds into a track, the same from its start).
    PlayerPrevious {},
    /// Moves to `ms` into what plays now.
    PlayerSeek {
        /// The position, in milliseconds.
        ms: u64,
    },
    /// Plays queue entry `entry`.
    PlayerJump {
        /// The entry's id.
        entry: u64,
    },
    /// Sets the volume: 0 silent, 1 as decoded.
    PlayerVolume {
        /// The volume.
        volume: f32,
    },
    /// Sets the repeat mode.
    PlayerRepeat {
        /// Off, one or all.
        repeat: Repeat,
    },
    /// Shuffles the queue (nothing plays twice before every entry played) or restores its
    /// order.
    PlayerShuffle {
        /// Shuffled or not.
        on: bool,
    },
    /// Sets loudness normalisation, from the next track opened.
    PlayerGain {
        /// How gain tags apply.
        gain: GainSettings,
    },
    /// What the player is doing.
    PlayerStatus {},
    /// The page played `chunks` of the player's `audio` messages of `epoch`: as many
    /// more may be sent.
    PlayerCredit {
        /// The epoch of the chunks played.
        epoch: u32,
        /// How many.
        chunks: u32,
    },
    /// Downloads cloud tracks into the offline cache (now, if not there) and pins them
    /// there whatever its size limit. Answers [`Reply::Cache`].
    Pin {
        /// The tracks' ids.
        tracks: Vec<i64>,
    },
    /// Lets pinned tracks go when the cache needs room. Answers [`Reply::Cache`].
    Unpin {
        /// The tracks' ids.
        tracks: Vec<i64>,
    },
    /// Empties the offline cache. Answers [`Reply::Cache`].
    ClearCache {
        /// Pinned tracks too.
        #[serde(default, rename = "pinnedToo")]
        #[cfg_attr(test, ts(as = "Option<_>", optional))]
        pinned_too: bool,
    },
    /// What the offline cache holds. Answers [`Reply::Cache`].
    CacheStatus {},
}

/// A cover image, ready for an `<img>`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Cover {
    /// Its MIME type.
    pub mime: String,
    /// The SHA-256 of its bytes, hex: the same image has the same one.
    pub sha256: String,
    /// A `data:` URL of it.
    #[serde(rename = "dataUrl")]
    pub data_url: String,
}

/// A plugin as the app lists it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct PluginSummary {
    /// Its id.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// `storage_provider`, `decoder` or `metadata_source`.
    pub kind: String,
    /// How it was loaded (`builtin` in the browser).
    pub origin: String,
    /// Why it was disabled, if it was.
    pub failure: Option<String>,
}

/// What the worker's HTTP for metadata sources did, since the worker started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct HttpStats {
    /// Requests sent to a server.
    pub sent: u64,
    /// Requests answered from the cache, with nothing sent.
    pub cached: u64,
    /// Stale cached answers the server said are still good (`304`).
    pub revalidated: u64,
}

/// How syncing one source ended.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SyncResult {
    /// The source.
    pub source: String,
    /// What happened, when it finished.
    pub counts: Option<SyncCounts>,
    /// Why it stopped, when it failed (what was committed stays).
    pub error: Option<String>,
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Reply {
    /// The core runs.
    Ready {
        /// Its plugins.
        plugins: Vec<PluginSummary>,
        /// The library's sources.
        sources: Vec<Source>,
    },
    /// A source was added or granted again.
    Source {
        /// It.
        source: Source,
    },
    /// Open `url` in a popup; the redirect carries `state` back.
    SignIn {
        /// The authorization URL.
        url: String,
        /// The state the redirect must carry.
        state: String,
    },
    /// The sources.
    Sources {
        /// By name.
        sources: Vec<Source>,
    },
    /// Syncs ended.
    Synced {
        /// One per source, by name.
        results: Vec<SyncResult>,
    },
    /// Tracks.
    Tracks {
        /// In the order asked for.
        tracks: Vec<TrackRow>,
    },
    /// Counts over the library.
    Stats {
        /// The counts.
        stats: LibraryStats,
    },
    /// Files whose tags could not be read.
    FailedFiles {
        /// By source and path.
        files: Vec<FailedFile>,
    },
    /// A stream is open, paused.
    Opened {
        /// Its id.
        stream: u32,
        /// The decoder chosen.
        decoder: String,
        /// Frames per second.
        #[serde(rename = "sampleRate")]
        sample_rate: u32,
        /// Channels, interleaved in each chunk.
        channels: u16,
        /// Frames in the track, when the container says.
        #[serde(rename = "totalFrames")]
        total_frames: Option<u64>,
        /// The track.
        track: TrackRow,
    },
    /// An enrichment run ended.
    Enriched {
        /// One per kind looked for.
        reports: Vec<EnrichReport>,
        /// The HTTP of metadata sources, since the worker started.
        http: HttpStats,
    },
    /// A cover, if there is one.
    Artwork {
        /// It.
        image: Option<Cover>,
    },
    /// Lyrics, if the track has any.
    Lyrics {
        /// Them.
        lyrics: Option<StoredLyrics>,
    },
    /// Where a track's written and edited fields came from.
    Provenance {
        /// One per field.
        fields: Vec<FieldSource>,
    },
    /// The playlists.
    Playlists {
        /// By name.
        playlists: Vec<Playlist>,
    },
    /// A playlist was created.
    Playlist {
        /// It.
        playlist: Playlist,
    },
    /// A stream moved.
    Seeked {
        /// The frame it landed on.
        frame: u64,
    },
    /// What the player is doing, after a player call.
    Player {
        /// Its state, entry, position, buffer and settings.
        status: PlayerStatus,
        /// The queue in play order.
        queue: Vec<QueueEntry>,
        /// The epoch of its audio: `audio` messages of an older one are stale (a seek, a
        /// skip or a stop dropped them) and the page drops what it scheduled of them.
        epoch: u32,
    },
    /// What the offline cache holds, after a cache call.
    Cache {
        /// Its counts and limit.
        status: CacheStatus,
    },
    /// Done; nothing to say.
    Done,
}

/// What happened to a stream, outside any reply.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum StreamEvent {
    /// Every chunk was sent.
    Ended {
        /// The stream.
        stream: u32,
    },
    /// Decoding failed; the stream sends nothing more.
    Error {
        /// The stream.
        stream: u32,
        /// Why.
        message: String,
    },
}

/// Everything the worker posts to the main thread.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum WorkerMessage {
    /// A request succeeded.
    Reply {
        /// The request's id.
        id: u32,
        /// Its answer.
        result: Box<Reply>,
    },
    /// A request failed.
    Error {
        /// The request's id.
        id: u32,
        /// Why, for people.
        error: String,
    },
    /// An event of the core's bus.
    Event {
        /// It.
        event: CoreEvent,
    },
    /// Something happened to a stream.
    Stream {
        /// It.
        event: StreamEvent,
    },
    /// PCM: interleaved `f32` samples, the buffer transferred rather than copied.
    Pcm {
        /// The stream.
        stream: u32,
        /// The samples' buffer.
        #[cfg_attr(test, ts(type = "ArrayBuffer"))]
        buffer: (),
        /// Frames per second.
        #[serde(rename = "sampleRate")]
        sample_rate: u32,
        /// Channels.
        channels: u16,
    },
    /// The player's audio: interleaved `f32` samples in its output format, the buffer
    /// transferred rather than copied. The page plays the chunks of the newest epoch
    /// back to back and credits each one it played (`playerCredit`).
    Audio {
        /// The chunk's epoch (see [`Reply::Player`]).
        epoch: u32,
        /// The samples' buffer.
        #[cfg_attr(test, ts(type = "ArrayBuffer"))]
        buffer: (),
        /// Frames per second.
        #[serde(rename = "sampleRate")]
        sample_rate: u32,
        /// Channels.
        channels: u16,
    },
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
