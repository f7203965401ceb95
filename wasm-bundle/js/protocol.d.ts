// Generated from wasm-bundle/src/protocol.rs and the core's types: do not edit.
// Regenerate with `TONEARM_WRITE_TS=1 cargo test -p tonearm-web protocol`.

export type Call = { 
/**
 * Chosen by the caller; the reply carries it back.
 */
id: number, } & ({ "method": "init", "params": { 
/**
 * The library database; `"tonearm"` when absent.
 */
database?: string, 
/**
 * The offline cache's size limit in MiB (cloud tracks played or pinned are kept
 * in the origin-private file system, encrypted); 1024 when absent, 0 for none.
 */
cacheLimitMb?: number, } } | { "method": "addFolder", "params": { 
/**
 * The source's name.
 */
name: string, 
/**
 * The picked files (sent alongside the JSON, as structured clones).
 */
files: File[], 
/**
 * Each file's path in the folder; by default its `webkitRelativePath` without the
 * folder's own name, or else its name.
 */
paths?: Array<string>, } } | { "method": "beginSignIn", "params": { 
/**
 * The source's name.
 */
name: string, 
/**
 * The storage provider plugin (`gdrive`, `onedrive`) of a new source; absent,
 * the existing source `name` signs in again (its grant was revoked or expired).
 */
provider?: string, 
/**
 * Provider settings of a new source, with `client_id` (and endpoint overrides, if
 * any); signing in again, only `client_id`, which defaults to the previous one.
 */
settings?: { [key in string]: string }, 
/**
 * Where the authorization server sends the popup back.
 */
redirectUri: string, } } | { "method": "completeSignIn", "params": { 
/**
 * The `state` the redirect carried.
 */
state: string, 
/**
 * The authorization code.
 */
code: string, } } | { "method": "cancelSignIn", "params": { 
/**
 * The `state` of [`Reply::SignIn`].
 */
state: string, } } | { "method": "removeSource", "params": { 
/**
 * The source's name.
 */
name: string, } } | { "method": "sources", "params": Record<symbol, never> } | { "method": "sync", "params": { 
/**
 * The source; all of them when absent.
 */
source?: string, 
/**
 * List everything even when a change cursor exists.
 */
full?: boolean, } } | { "method": "tracks", "params": { 
/**
 * At most this many.
 */
limit: number, 
/**
 * After skipping this many.
 */
offset?: number, } } | { "method": "search", "params": { 
/**
 * What was typed.
 */
text: string, 
/**
 * At most this many.
 */
limit: number, } } | { "method": "stats", "params": Record<symbol, never> } | { "method": "failedFiles", "params": { 
/**
 * At most this many.
 */
limit: number, } } | { "method": "open", "params": { 
/**
 * The track's id.
 */
track: number, } } | { "method": "play", "params": { 
/**
 * The stream.
 */
stream: number, } } | { "method": "pause", "params": { 
/**
 * The stream.
 */
stream: number, } } | { "method": "credit", "params": { 
/**
 * The stream.
 */
stream: number, 
/**
 * Chunks played (or dropped).
 */
count: number, } } | { "method": "seek", "params": { 
/**
 * The stream.
 */
stream: number, 
/**
 * The frame to play from.
 */
frame: number, } } | { "method": "stop", "params": { 
/**
 * The stream.
 */
stream: number, } } | { "method": "enrich", "params": { 
/**
 * The library source whose tracks to enrich; all of them when absent.
 */
source?: string, 
/**
 * What to look for; everything the loaded sources offer when absent.
 */
only?: Array<Kind>, 
/**
 * Report what would change, writing nothing.
 */
dryRun?: boolean, 
/**
 * Ask again where a source answered before.
 */
refresh?: boolean, 
/**
 * Also write medium matches, not only strong ones.
 */
acceptMedium?: boolean, 
/**
 * The metadata sources to ask, in order; every loaded one when absent.
 */
plugins?: Array<string>, 
/**
 * Each metadata source's settings (`endpoint.api`, …), by plugin id.
 */
settings?: { [key in string]: { [key in string]: string } }, } } | { "method": "artwork", "params": { 
/**
 * The track's id.
 */
track: number, 
/**
 * The album's cover rather than the track's own.
 */
album?: boolean, } } | { "method": "lyrics", "params": { 
/**
 * The track's id.
 */
track: number, } } | { "method": "editTags", "params": { 
/**
 * The track's id.
 */
track: number, 
/**
 * New values, by field.
 */
values: { [key in Field]?: Value }, } } | { "method": "provenance", "params": { 
/**
 * The track's id.
 */
track: number, } } | { "method": "playlists", "params": Record<symbol, never> } | { "method": "createPlaylist", "params": { 
/**
 * Its name, which no other playlist has.
 */
name: string, } } | { "method": "addToPlaylist", "params": { 
/**
 * The playlist's id.
 */
playlist: number, 
/**
 * The tracks' ids.
 */
tracks: Array<number>, } } | { "method": "playlistTracks", "params": { 
/**
 * The playlist's id.
 */
playlist: number, } } | { "method": "removeFromPlaylist", "params": { 
/**
 * The playlist's id.
 */
playlist: number, 
/**
 * The entry's position, from 0.
 */
index: number, } } | { "method": "moveInPlaylist", "params": { 
/**
 * The playlist's id.
 */
playlist: number, 
/**
 * Where the entry is.
 */
from: number, 
/**
 * Where it goes.
 */
to: number, } } | { "method": "renamePlaylist", "params": { 
/**
 * The playlist's id.
 */
playlist: number, 
/**
 * Its new name.
 */
name: string, } } | { "method": "deletePlaylist", "params": { 
/**
 * The playlist's id.
 */
playlist: number, } } | { "method": "playerStart", "params": { 
/**
 * Frames per second of the page's output.
 */
sampleRate: number, 
/**
 * Its channels.
 */
channels: number, 
/**
 * Seconds decoded ahead; 2 when absent.
 */
ringSeconds?: number, 
/**
 * Loudness normalisation; track gain with clipping prevention when absent.
 */
gain?: GainSettings, } } | { "method": "enqueue", "params": { 
/**
 * The tracks' ids, in order.
 */
tracks: Array<number>, 
/**
 * Right after what plays now rather than at the end.
 */
next?: boolean, } } | { "method": "dequeue", "params": { 
/**
 * The entry's id.
 */
entry: number, } } | { "method": "moveInQueue", "params": { 
/**
 * The entry's id.
 */
entry: number, 
/**
 * Its new position, from 0.
 */
to: number, } } | { "method": "clearQueue", "params": Record<symbol, never> } | { "method": "playerPlay", "params": Record<symbol, never> } | { "method": "playerPause", "params": Record<symbol, never> } | { "method": "playerToggle", "params": Record<symbol, never> } | { "method": "playerStop", "params": Record<symbol, never> } | { "method": "playerNext", "params": Record<symbol, never> } | { "method": "playerPrevious", "params": Record<symbol, never> } | { "method": "playerSeek", "params": { 
/**
 * The position, in milliseconds.
 */
ms: number, } } | { "method": "playerJump", "params": { 
/**
 * The entry's id.
 */
entry: number, } } | { "method": "playerVolume", "params": { 
/**
 * The volume.
 */
volume: number, } } | { "method": "playerRepeat", "params": { 
/**
 * Off, one or all.
 */
repeat: Repeat, } } | { "method": "playerShuffle", "params": { 
/**
 * Shuffled or not.
 */
on: boolean, } } | { "method": "playerGain", "params": { 
/**
 * How gain tags apply.
 */
gain: GainSettings, } } | { "method": "playerStatus", "params": Record<symbol, never> } | { "method": "playerCredit", "params": { 
/**
 * The epoch of the chunks played.
 */
epoch: number, 
/**
 * How many.
 */
chunks: number, } } | { "method": "pin", "params": { 
/**
 * The tracks' ids.
 */
tracks: Array<number>, } } | { "method": "unpin", "params": { 
/**
 * The tracks' ids.
 */
tracks: Array<number>, } } | { "method": "clearCache", "params": { 
/**
 * Pinned tracks too.
 */
pinnedToo?: boolean, } } | { "method": "cacheStatus", "params": Record<symbol, never> });

export type Request = { "method": "init", "params": { 
/**
 * The library database; `"tonearm"` when absent.
 */
database?: string, 
/**
 * The offline cache's size limit in MiB (cloud tracks played or pinned are kept
 * in the origin-private file system, encrypted); 1024 when absent, 0 for none.
 */
cacheLimitMb?: number, } } | { "method": "addFolder", "params": { 
/**
 * The source's name.
 */
name: string, 
/**
 * The picked files (sent alongside the JSON, as structured clones).
 */
files: File[], 
/**
 * Each file's path in the folder; by default its `webkitRelativePath` without the
 * folder's own name, or else its name.
 */
paths?: Array<string>, } } | { "method": "beginSignIn", "params": { 
/**
 * The source's name.
 */
name: string, 
/**
 * The storage provider plugin (`gdrive`, `onedrive`) of a new source; absent,
 * the existing source `name` signs in again (its grant was revoked or expired).
 */
provider?: string, 
/**
 * Provider settings of a new source, with `client_id` (and endpoint overrides, if
 * any); signing in again, only `client_id`, which defaults to the previous one.
 */
settings?: { [key in string]: string }, 
/**
 * Where the authorization server sends the popup back.
 */
redirectUri: string, } } | { "method": "completeSignIn", "params": { 
/**
 * The `state` the redirect carried.
 */
state: string, 
/**
 * The authorization code.
 */
code: string, } } | { "method": "cancelSignIn", "params": { 
/**
 * The `state` of [`Reply::SignIn`].
 */
state: string, } } | { "method": "removeSource", "params": { 
/**
 * The source's name.
 */
name: string, } } | { "method": "sources", "params": Record<symbol, never> } | { "method": "sync", "params": { 
/**
 * The source; all of them when absent.
 */
source?: string, 
/**
 * List everything even when a change cursor exists.
 */
full?: boolean, } } | { "method": "tracks", "params": { 
/**
 * At most this many.
 */
limit: number, 
/**
 * After skipping this many.
 */
offset?: number, } } | { "method": "search", "params": { 
/**
 * What was typed.
 */
text: string, 
/**
 * At most this many.
 */
limit: number, } } | { "method": "stats", "params": Record<symbol, never> } | { "method": "failedFiles", "params": { 
/**
 * At most this many.
 */
limit: number, } } | { "method": "open", "params": { 
/**
 * The track's id.
 */
track: number, } } | { "method": "play", "params": { 
/**
 * The stream.
 */
stream: number, } } | { "method": "pause", "params": { 
/**
 * The stream.
 */
stream: number, } } | { "method": "credit", "params": { 
/**
 * The stream.
 */
stream: number, 
/**
 * Chunks played (or dropped).
 */
count: number, } } | { "method": "seek", "params": { 
/**
 * The stream.
 */
stream: number, 
/**
 * The frame to play from.
 */
frame: number, } } | { "method": "stop", "params": { 
/**
 * The stream.
 */
stream: number, } } | { "method": "enrich", "params": { 
/**
 * The library source whose tracks to enrich; all of them when absent.
 */
source?: string, 
/**
 * What to look for; everything the loaded sources offer when absent.
 */
only?: Array<Kind>, 
/**
 * Report what would change, writing nothing.
 */
dryRun?: boolean, 
/**
 * Ask again where a source answered before.
 */
refresh?: boolean, 
/**
 * Also write medium matches, not only strong ones.
 */
acceptMedium?: boolean, 
/**
 * The metadata sources to ask, in order; every loaded one when absent.
 */
plugins?: Array<string>, 
/**
 * Each metadata source's settings (`endpoint.api`, …), by plugin id.
 */
settings?: { [key in string]: { [key in string]: string } }, } } | { "method": "artwork", "params": { 
/**
 * The track's id.
 */
track: number, 
/**
 * The album's cover rather than the track's own.
 */
album?: boolean, } } | { "method": "lyrics", "params": { 
/**
 * The track's id.
 */
track: number, } } | { "method": "editTags", "params": { 
/**
 * The track's id.
 */
track: number, 
/**
 * New values, by field.
 */
values: { [key in Field]?: Value }, } } | { "method": "provenance", "params": { 
/**
 * The track's id.
 */
track: number, } } | { "method": "playlists", "params": Record<symbol, never> } | { "method": "createPlaylist", "params": { 
/**
 * Its name, which no other playlist has.
 */
name: string, } } | { "method": "addToPlaylist", "params": { 
/**
 * The playlist's id.
 */
playlist: number, 
/**
 * The tracks' ids.
 */
tracks: Array<number>, } } | { "method": "playlistTracks", "params": { 
/**
 * The playlist's id.
 */
playlist: number, } } | { "method": "removeFromPlaylist", "params": { 
/**
 * The playlist's id.
 */
playlist: number, 
/**
 * The entry's position, from 0.
 */
index: number, } } | { "method": "moveInPlaylist", "params": { 
/**
 * The playlist's id.
 */
playlist: number, 
/**
 * Where the entry is.
 */
from: number, 
/**
 * Where it goes.
 */
to: number, } } | { "method": "renamePlaylist", "params": { 
/**
 * The playlist's id.
 */
playlist: number, 
/**
 * Its new name.
 */
name: string, } } | { "method": "deletePlaylist", "params": { 
/**
 * The playlist's id.
 */
playlist: number, } } | { "method": "playerStart", "params": { 
/**
 * Frames per second of the page's output.
 */
sampleRate: number, 
/**
 * Its channels.
 */
channels: number, 
/**
 * Seconds decoded ahead; 2 when absent.
 */
ringSeconds?: number, 
/**
 * Loudness normalisation; track gain with clipping prevention when absent.
 */
gain?: GainSettings, } } | { "method": "enqueue", "params": { 
/**
 * The tracks' ids, in order.
 */
tracks: Array<number>, 
/**
 * Right after what plays now rather than at the end.
 */
next?: boolean, } } | { "method": "dequeue", "params": { 
/**
 * The entry's id.
 */
entry: number, } } | { "method": "moveInQueue", "params": { 
/**
 * The entry's id.
 */
entry: number, 
/**
 * Its new position, from 0.
 */
to: number, } } | { "method": "clearQueue", "params": Record<symbol, never> } | { "method": "playerPlay", "params": Record<symbol, never> } | { "method": "playerPause", "params": Record<symbol, never> } | { "method": "playerToggle", "params": Record<symbol, never> } | { "method": "playerStop", "params": Record<symbol, never> } | { "method": "playerNext", "params": Record<symbol, never> } | { "method": "playerPrevious", "params": Record<symbol, never> } | { "method": "playerSeek", "params": { 
/**
 * The position, in milliseconds.
 */
ms: number, } } | { "method": "playerJump", "params": { 
/**
 * The entry's id.
 */
entry: number, } } | { "method": "playerVolume", "params": { 
/**
 * The volume.
 */
volume: number, } } | { "method": "playerRepeat", "params": { 
/**
 * Off, one or all.
 */
repeat: Repeat, } } | { "method": "playerShuffle", "params": { 
/**
 * Shuffled or not.
 */
on: boolean, } } | { "method": "playerGain", "params": { 
/**
 * How gain tags apply.
 */
gain: GainSettings, } } | { "method": "playerStatus", "params": Record<symbol, never> } | { "method": "playerCredit", "params": { 
/**
 * The epoch of the chunks played.
 */
epoch: number, 
/**
 * How many.
 */
chunks: number, } } | { "method": "pin", "params": { 
/**
 * The tracks' ids.
 */
tracks: Array<number>, } } | { "method": "unpin", "params": { 
/**
 * The tracks' ids.
 */
tracks: Array<number>, } } | { "method": "clearCache", "params": { 
/**
 * Pinned tracks too.
 */
pinnedToo?: boolean, } } | { "method": "cacheStatus", "params": Record<symbol, never> };

export type Reply = { "type": "ready", 
/**
 * Its plugins.
 */
plugins: Array<PluginSummary>, 
/**
 * The library's sources.
 */
sources: Array<Source>, } | { "type": "source", 
/**
 * It.
 */
source: Source, } | { "type": "signIn", 
/**
 * The authorization URL.
 */
url: string, 
/**
 * The state the redirect must carry.
 */
state: string, } | { "type": "sources", 
/**
 * By name.
 */
sources: Array<Source>, } | { "type": "synced", 
/**
 * One per source, by name.
 */
results: Array<SyncResult>, } | { "type": "tracks", 
/**
 * In the order asked for.
 */
tracks: Array<TrackRow>, } | { "type": "stats", 
/**
 * The counts.
 */
stats: LibraryStats, } | { "type": "failedFiles", 
/**
 * By source and path.
 */
files: Array<FailedFile>, } | { "type": "opened", 
/**
 * Its id.
 */
stream: number, 
/**
 * The decoder chosen.
 */
decoder: string, 
/**
 * Frames per second.
 */
sampleRate: number, 
/**
 * Channels, interleaved in each chunk.
 */
channels: number, 
/**
 * Frames in the track, when the container says.
 */
totalFrames: number | null, 
/**
 * The track.
 */
track: TrackRow, } | { "type": "enriched", 
/**
 * One per kind looked for.
 */
reports: Array<EnrichReport>, 
/**
 * The HTTP of metadata sources, since the worker started.
 */
http: HttpStats, } | { "type": "artwork", 
/**
 * It.
 */
image: Cover | null, } | { "type": "lyrics", 
/**
 * Them.
 */
lyrics: StoredLyrics | null, } | { "type": "provenance", 
/**
 * One per field.
 */
fields: Array<FieldSource>, } | { "type": "playlists", 
/**
 * By name.
 */
playlists: Array<Playlist>, } | { "type": "playlist", 
/**
 * It.
 */
playlist: Playlist, } | { "type": "seeked", 
/**
 * The frame it landed on.
 */
frame: number, } | { "type": "player", 
/**
 * Its state, entry, position, buffer and settings.
 */
status: PlayerStatus, 
/**
 * The queue in play order.
 */
queue: Array<QueueEntry>, 
/**
 * The epoch of its audio: `audio` messages of an older one are stale (a seek, a
 * skip or a stop dropped them) and the page drops what it scheduled of them.
 */
epoch: number, } | { "type": "cache", 
/**
 * Its counts and limit.
 */
status: CacheStatus, } | { "type": "done" };

export type WorkerMessage = { "kind": "reply", 
/**
 * The request's id.
 */
id: number, 
/**
 * Its answer.
 */
result: Reply, } | { "kind": "error", 
/**
 * The request's id.
 */
id: number, 
/**
 * Why, for people.
 */
error: string, } | { "kind": "event", 
/**
 * It.
 */
event: CoreEvent, } | { "kind": "stream", 
/**
 * It.
 */
event: StreamEvent, } | { "kind": "pcm", 
/**
 * The stream.
 */
stream: number, 
/**
 * The samples' buffer.
 */
buffer: ArrayBuffer, 
/**
 * Frames per second.
 */
sampleRate: number, 
/**
 * Channels.
 */
channels: number, } | { "kind": "audio", 
/**
 * The chunk's epoch (see [`Reply::Player`]).
 */
epoch: number, 
/**
 * The samples' buffer.
 */
buffer: ArrayBuffer, 
/**
 * Frames per second.
 */
sampleRate: number, 
/**
 * Channels.
 */
channels: number, };

export type StreamEvent = { "type": "ended", 
/**
 * The stream.
 */
stream: number, } | { "type": "error", 
/**
 * The stream.
 */
stream: number, 
/**
 * Why.
 */
message: string, };

export type PluginSummary = { 
/**
 * Its id.
 */
id: string, 
/**
 * Its display name.
 */
name: string, 
/**
 * Its version.
 */
version: string, 
/**
 * `storage_provider`, `decoder` or `metadata_source`.
 */
kind: string, 
/**
 * How it was loaded (`builtin` in the browser).
 */
origin: string, 
/**
 * Why it was disabled, if it was.
 */
failure: string | null, };

export type SyncResult = { 
/**
 * The source.
 */
source: string, 
/**
 * What happened, when it finished.
 */
counts: SyncCounts | null, 
/**
 * Why it stopped, when it failed (what was committed stays).
 */
error: string | null, };

export type HttpStats = { 
/**
 * Requests sent to a server.
 */
sent: number, 
/**
 * Requests answered from the cache, with nothing sent.
 */
cached: number, 
/**
 * Stale cached answers the server said are still good (`304`).
 */
revalidated: number, };

export type Cover = { 
/**
 * Its MIME type.
 */
mime: string, 
/**
 * The SHA-256 of its bytes, hex: the same image has the same one.
 */
sha256: string, 
/**
 * A `data:` URL of it.
 */
dataUrl: string, };

export type EnrichReport = { 
/**
 * What was looked for.
 */
kind: Kind, 
/**
 * Tracks looked at.
 */
tracks: number, 
/**
 * Tracks every source had answered already (no request sent).
 */
skipped: number, 
/**
 * One entry per track that was asked about.
 */
results: Array<TrackResult>, };

export type TrackResult = { 
/**
 * What was looked for.
 */
kind: Kind, 
/**
 * The track.
 */
track_id: number, 
/**
 * Its path.
 */
path: string, 
/**
 * The source whose answer decided it (the last one asked if none matched).
 */
plugin: string, 
/**
 * What came of it.
 */
outcome: Outcome, 
/**
 * The best candidate's recommendation and score, if there was one.
 */
best: [Recommendation, number] | null, 
/**
 * The fields written (or, in a dry run, that would be).
 */
changes: Array<FieldChange>, 
/**
 * Why it failed, for a failure.
 */
error: string | null, };

export type FieldChange = { 
/**
 * The field.
 */
field: Field, 
/**
 * Its value now, if any.
 */
old: Value | null, 
/**
 * The value written.
 */
new: Value, };

export type FieldSource = { 
/**
 * The field.
 */
field: Field, 
/**
 * Its value.
 */
value: Value, 
/**
 * `user` for an edit, else the plugin that wrote it.
 */
source: string, 
/**
 * The candidate's score (none for an edit).
 */
score: number | null, 
/**
 * When, in Unix milliseconds.
 */
at_ms: number, };

export type StoredLyrics = { 
/**
 * Plain text.
 */
plain: string | null, 
/**
 * Time-synced LRC, checked.
 */
synced_lrc: string | null, 
/**
 * The track has no lyrics, on purpose.
 */
instrumental: boolean, 
/**
 * The plugin they came from, or `embedded`.
 */
source: string, };

export type Kind = "tags" | "artwork" | "lyrics";

export type Outcome = "written" | "unchanged" | "no_match" | "failed";

export type Recommendation = "none" | "medium" | "strong";

export type Field = "title" | "artists" | "album" | "album_artists" | "track_number" | "track_total" | "disc_number" | "disc_total" | "year" | "musicbrainz_recording_id" | "musicbrainz_release_id" | "isrc";

export type Value = number | string | Array<string>;

export type CoreEvent = { "domain": "sync", "event": SyncEvent } | { "domain": "library", "event": LibraryEvent } | { "domain": "playback", "event": PlaybackEvent } | { "domain": "plugin", "event": PluginEvent } | { "domain": "auth", "event": AuthEvent } | { "domain": "metadata", "event": MetadataEvent } | { "domain": "cache", "event": CacheEvent };

export type SyncEvent = { "type": "started", 
/**
 * The source's name.
 */
source: string, 
/**
 * Whether it lists everything (true) or applies changes since the last cursor.
 */
full: boolean, } | { "type": "progress", 
/**
 * The source's name.
 */
source: string, 
/**
 * What has happened so far.
 */
counts: SyncCounts, } | { "type": "completed", 
/**
 * The source's name.
 */
source: string, 
/**
 * What happened.
 */
counts: SyncCounts, } | { "type": "failed", 
/**
 * The source's name.
 */
source: string, 
/**
 * Why.
 */
error: string, };

export type LibraryEvent = { "type": "tracks_changed", 
/**
 * Tracks added.
 */
added: number, 
/**
 * Tracks updated.
 */
updated: number, 
/**
 * Tracks removed.
 */
removed: number, } | { "type": "source_added", 
/**
 * Its name.
 */
source: string, } | { "type": "source_removed", 
/**
 * Its name.
 */
source: string, };

export type PlaybackEvent = { "type": "started", 
/**
 * What is playing.
 */
what: string, 
/**
 * The decoder chosen.
 */
decoder: string, 
/**
 * Frames per second.
 */
sample_rate: number, 
/**
 * Channels.
 */
channels: number, } | { "type": "completed", 
/**
 * What was playing.
 */
what: string, 
/**
 * Frames decoded.
 */
frames: number, } | { "type": "error", 
/**
 * What was playing.
 */
what: string, 
/**
 * Why.
 */
error: string, } | { "type": "buffering", 
/**
 * The queue entry.
 */
entry: number, 
/**
 * The library track.
 */
track_id: number, } | { "type": "track_started", 
/**
 * The queue entry.
 */
entry: number, 
/**
 * The library track.
 */
track_id: number, 
/**
 * Frames the output had played before this track's first one.
 */
at_frame: number, 
/**
 * The output's frames per second.
 */
sample_rate: number, } | { "type": "position", 
/**
 * The queue entry.
 */
entry: number, 
/**
 * The library track.
 */
track_id: number, 
/**
 * Milliseconds into the track.
 */
position_ms: number, 
/**
 * Its length, if known.
 */
duration_ms: number | null, } | { "type": "underrun", 
/**
 * Underruns since the player was made.
 */
count: number, } | { "type": "track_error", 
/**
 * The queue entry.
 */
entry: number, 
/**
 * The library track.
 */
track_id: number, 
/**
 * Why.
 */
error: string, } | { "type": "stopped", } | { "type": "ended", };

export type PluginEvent = { "type": "registered", 
/**
 * Its id.
 */
id: string, 
/**
 * How it was loaded.
 */
origin: string, } | { "type": "unregistered", 
/**
 * Its id.
 */
id: string, } | { "type": "failed", 
/**
 * Its id.
 */
id: string, 
/**
 * What happened.
 */
error: string, };

export type AuthEvent = { "type": "signed_in", 
/**
 * The source's name.
 */
source: string, } | { "type": "sign_in_required", 
/**
 * The source's name.
 */
source: string, 
/**
 * What the server said.
 */
reason: string, };

export type MetadataEvent = { "type": "started", 
/**
 * What is looked for.
 */
kind: string, 
/**
 * Tracks in the run.
 */
tracks: number, } | { "type": "track", 
/**
 * What was looked for.
 */
kind: string, 
/**
 * The track.
 */
track_id: number, 
/**
 * The metadata source.
 */
plugin: string, 
/**
 * `written`, `unchanged`, `no_match` or `failed`.
 */
outcome: string, 
/**
 * Fields written (for tags).
 */
fields: Array<string>, } | { "type": "finished", 
/**
 * What was looked for.
 */
kind: string, 
/**
 * Tracks something was written for.
 */
written: number, 
/**
 * Tracks whose best match the library already had.
 */
unchanged: number, 
/**
 * Tracks nothing usable was found for.
 */
no_match: number, 
/**
 * Tracks a source failed on (asked again next run).
 */
failed: number, 
/**
 * Tracks not asked about (answered before, or nothing to ask with).
 */
skipped: number, };

export type CacheEvent = { "type": "downloading", 
/**
 * The library track.
 */
track_id: number, 
/**
 * Bytes stored so far.
 */
bytes: number, 
/**
 * Bytes in all.
 */
total: number, } | { "type": "stored", 
/**
 * The library track.
 */
track_id: number, 
/**
 * Bytes it takes.
 */
bytes: number, 
/**
 * Whether it is pinned.
 */
pinned: boolean, } | { "type": "evicted", 
/**
 * The library track.
 */
track_id: number, } | { "type": "corrupt", 
/**
 * The library track.
 */
track_id: number, 
/**
 * What was wrong.
 */
error: string, } | { "type": "failed", 
/**
 * The library track.
 */
track_id: number, 
/**
 * Why.
 */
error: string, };

export type SyncCounts = { 
/**
 * Entries the provider reported so far.
 */
seen: number, 
/**
 * Audio files whose tags were read.
 */
scanned: number, 
/**
 * Files new to the library.
 */
added: number, 
/**
 * Files whose contents or path changed.
 */
updated: number, 
/**
 * Files gone from the source.
 */
removed: number, 
/**
 * Audio files that could not be read or parsed (recorded with their reason).
 */
failed: number, 
/**
 * Entries skipped because they did not change.
 */
unchanged: number, 
/**
 * Bytes fetched from the provider to read tags.
 */
bytes_read: number, };

export type Source = { 
/**
 * Row id.
 */
id: number, 
/**
 * The unique name people refer to it by.
 */
name: string, 
/**
 * The storage provider plugin's id.
 */
provider: string, 
/**
 * Provider settings (for a local folder: `root`).
 */
settings: { [key in string]: string }, 
/**
 * The committed change cursor; `None` until the first full sync completes.
 */
cursor: string | null, 
/**
 * The cursor of a full listing in progress.
 */
pending_cursor: string | null, 
/**
 * The next page of a full listing in progress.
 */
pending_page: string | null, 
/**
 * The generation of the current or last full listing.
 */
generation: number, 
/**
 * When the last sync completed (ms since the epoch).
 */
last_sync_at: number | null, 
/**
 * Why the last sync failed, if it did.
 */
last_error: string | null, };

export type TrackRow = { 
/**
 * Row id.
 */
id: number, 
/**
 * Title.
 */
title: string | null, 
/**
 * Artists, joined with `; `.
 */
artists: string, 
/**
 * Album title.
 */
album: string | null, 
/**
 * Album artists, joined with `; `.
 */
album_artists: string | null, 
/**
 * Disc number.
 */
disc_number: number | null, 
/**
 * Track number.
 */
track_number: number | null, 
/**
 * Year.
 */
year: number | null, 
/**
 * Duration in milliseconds.
 */
duration_ms: number | null, 
/**
 * Container format.
 */
file_type: string | null, 
/**
 * Sample rate.
 */
sample_rate: number | null, 
/**
 * Channels.
 */
channels: number | null, 
/**
 * The file's path within its source.
 */
path: string, 
/**
 * The source's name.
 */
source: string, };

export type Playlist = { 
/**
 * Its id.
 */
id: number, 
/**
 * Its unique name.
 */
name: string, 
/**
 * Entries in it.
 */
tracks: number, };

export type LibraryStats = { 
/**
 * Sources.
 */
sources: number, 
/**
 * Tracks.
 */
tracks: number, 
/**
 * Albums.
 */
albums: number, 
/**
 * Artists.
 */
artists: number, 
/**
 * Genres.
 */
genres: number, 
/**
 * Files whose tags could not be read.
 */
failed_files: number, 
/**
 * Total duration in milliseconds.
 */
total_duration_ms: number, 
/**
 * Total size in bytes.
 */
total_bytes: number, 
/**
 * Distinct embedded cover images.
 */
artwork: number, };

export type FailedFile = { 
/**
 * The source's name.
 */
source: string, 
/**
 * The file's path within it.
 */
path: string, 
/**
 * Why it could not be read.
 */
reason: string, 
/**
 * Whether its stream was read all the same: its track is in the library, with what
 * could be read of its tags.
 */
playable: boolean, 
/**
 * When it is read again, if the failure may pass (the provider failed, not the
 * file); absent, it is read again only when it changes.
 */
retry?: Retry, };

export type Retry = { 
/**
 * Syncs in a row that failed to read the file.
 */
failures: number, 
/**
 * From when a sync reads it again, in milliseconds since the Unix epoch.
 */
at_ms: number, };

export type PlayerStatus = { 
/**
 * Playing, paused or stopped.
 */
state: PlayState, 
/**
 * The entry being heard.
 */
entry: QueueEntry | null, 
/**
 * Position in it.
 */
position_ms: number, 
/**
 * Its length, if known.
 */
duration_ms: number | null, 
/**
 * Audio decoded ahead of what is heard.
 */
buffered_ms: number, 
/**
 * The volume, 0 to 1 (more amplifies).
 */
volume: number, 
/**
 * The repeat mode.
 */
repeat: Repeat, 
/**
 * Whether the queue is shuffled.
 */
shuffle: boolean, 
/**
 * Times the output ran dry while playing.
 */
underruns: number, 
/**
 * The output's format.
 */
format: OutputFormat, };

export type QueueEntry = { 
/**
 * This queuing's id, unique within the queue's life.
 */
entry: number, 
/**
 * The library track.
 */
track_id: number, };

export type Repeat = "off" | "one" | "all";

export type PlayState = "stopped" | "playing" | "paused";

export type OutputFormat = { 
/**
 * Frames per second.
 */
sample_rate: number, 
/**
 * Interleaved channels per frame.
 */
channels: number, };

export type GainSettings = { 
/**
 * Which gain.
 */
mode: GainMode, 
/**
 * Added to every tagged gain, in dB.
 */
preamp_db: number, 
/**
 * Applied to tracks without any gain tag, in dB.
 */
untagged_db: number, 
/**
 * Lowers the gain so the tagged peak does not clip.
 */
prevent_clipping: boolean, };

export type GainMode = "off" | "track" | "album";

export type CacheStatus = { 
/**
 * Tracks cached.
 */
tracks: number, 
/**
 * Of them, pinned.
 */
pinned: number, 
/**
 * Bytes stored.
 */
bytes: number, 
/**
 * Bytes of the pinned ones.
 */
pinned_bytes: number, 
/**
 * The size limit.
 */
limit: number, 
/**
 * Downloads running or waiting.
 */
downloading: number, };
