//! The worker's API: what the main thread sends (a [`Call`]) and what the worker posts
//! back (a [`WorkerMessage`]). `js/protocol.d.ts` is generated from these types (a test
//! fails when it is stale), so the JavaScript side is typed by the Rust it talks to.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use tonearm_core::enrich::{EnrichReport, Field, FieldSource, Kind, StoredLyrics, Value};
use tonearm_core::events::{CoreEvent, SyncCounts};
use tonearm_core::library::{FailedFile, LibraryStats, Playlist, Source, TrackRow};

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
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use ts_rs::{Config, TS};

    use super::*;

    /// The declarations of the whole API, as `js/protocol.d.ts` holds them.
    fn declarations() -> String {
        // Ids and counters stay far below 2^53: plain numbers, not bigints.
        let cfg = Config::new().with_large_int("number");
        let mut out = String::from(
            "// Generated from wasm-bundle/src/protocol.rs and the core's types: do not edit.\n\
             // Regenerate with `TONEARM_WRITE_TS=1 cargo test -p tonearm-web protocol`.\n\n",
        );
        let decls = [
            Call::decl(&cfg),
            Request::decl(&cfg),
            Reply::decl(&cfg),
            WorkerMessage::decl(&cfg),
            StreamEvent::decl(&cfg),
            PluginSummary::decl(&cfg),
            SyncResult::decl(&cfg),
            HttpStats::decl(&cfg),
            Cover::decl(&cfg),
            EnrichReport::decl(&cfg),
            tonearm_core::enrich::TrackResult::decl(&cfg),
            tonearm_core::enrich::FieldChange::decl(&cfg),
            FieldSource::decl(&cfg),
            StoredLyrics::decl(&cfg),
            Kind::decl(&cfg),
            tonearm_core::enrich::Outcome::decl(&cfg),
            tonearm_core::enrich::Recommendation::decl(&cfg),
            Field::decl(&cfg),
            Value::decl(&cfg),
            CoreEvent::decl(&cfg),
            tonearm_core::events::SyncEvent::decl(&cfg),
            tonearm_core::events::LibraryEvent::decl(&cfg),
            tonearm_core::events::PlaybackEvent::decl(&cfg),
            tonearm_core::events::PluginEvent::decl(&cfg),
            tonearm_core::events::AuthEvent::decl(&cfg),
            tonearm_core::events::MetadataEvent::decl(&cfg),
            tonearm_core::events::CacheEvent::decl(&cfg),
            SyncCounts::decl(&cfg),
            Source::decl(&cfg),
            TrackRow::decl(&cfg),
            Playlist::decl(&cfg),
            LibraryStats::decl(&cfg),
            FailedFile::decl(&cfg),
            tonearm_core::library::Retry::decl(&cfg),
        ];
        for decl in decls {
            out.push_str("export ");
            out.push_str(&decl);
            out.push_str("\n\n");
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    }

    #[test]
    fn the_typescript_declarations_are_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("js/protocol.d.ts");
        let fresh = declarations();
        if std::env::var_os("TONEARM_WRITE_TS").is_some() {
            std::fs::write(&path, &fresh).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "{} is stale: run `TONEARM_WRITE_TS=1 cargo test -p tonearm-web protocol`",
            path.display()
        );
    }

    #[test]
    fn calls_parse_from_what_the_client_sends() {
        let call: Call = serde_json::from_str(
            r#"{"id":7,"method":"search","params":{"text":"bjork","limit":5}}"#,
        )
        .unwrap();
        assert_eq!(call.id, 7);
        assert!(matches!(call.request, Request::Search { ref text, limit: 5 } if text == "bjork"));
        let call: Call = serde_json::from_str(r#"{"id":1,"method":"stats","params":{}}"#).unwrap();
        assert!(matches!(call.request, Request::Stats {}));
        let call: Call = serde_json::from_str(
            r#"{"id":2,"method":"addFolder","params":{"name":"m","files":[{},{}]}}"#,
        )
        .unwrap();
        assert!(matches!(call.request, Request::AddFolder { ref files, .. } if files.len() == 2));
        assert!(serde_json::from_str::<Call>(r#"{"id":3,"method":"format"}"#).is_err());
        let call: Call = serde_json::from_str(
            r#"{"id":4,"method":"enrich","params":{"only":["tags","lyrics"],"dryRun":true,
                "settings":{"musicbrainz":{"endpoint.api":"http://127.0.0.1:9/ws/2"}}}}"#,
        )
        .unwrap();
        assert!(matches!(
            call.request,
            Request::Enrich { only: Some(ref only), dry_run: true, ref settings, .. }
                if only == &[Kind::Tags, Kind::Lyrics] && settings["musicbrainz"].len() == 1
        ));
        let call: Call = serde_json::from_str(
            r#"{"id":5,"method":"editTags","params":{"track":3,"values":{"title":"T","year":1999,"artists":["A","B"]}}}"#,
        )
        .unwrap();
        assert!(
            matches!(call.request, Request::EditTags { track: 3, ref values } if values.len() == 3)
        );
    }
}
