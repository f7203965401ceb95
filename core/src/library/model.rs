//! The library's data types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tonearm_plugin_api::{RemoteEntry, TrackTags};

/// A place music is synced from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct Source {
    /// Row id.
    pub id: i64,
    /// The unique name people refer to it by.
    pub name: String,
    /// The storage provider plugin's id.
    pub provider: String,
    /// Provider settings (for a local folder: `root`).
    pub settings: BTreeMap<String, String>,
    /// The committed change cursor; `None` until the first full sync completes.
    pub cursor: Option<String>,
    /// The cursor of a full listing in progress.
    pub pending_cursor: Option<String>,
    /// The next page of a full listing in progress.
    pub pending_page: Option<String>,
    /// The generation of the current or last full listing.
    pub generation: i64,
    /// When the last sync completed (ms since the epoch).
    pub last_sync_at: Option<i64>,
    /// Why the last sync failed, if it did.
    pub last_error: Option<String>,
}

/// Technical properties of an audio file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AudioProperties {
    /// Duration in milliseconds.
    pub duration_ms: Option<u64>,
    /// Frames per second.
    pub sample_rate: Option<u32>,
    /// Channels.
    pub channels: Option<u8>,
    /// Bits per sample (lossless formats).
    pub bit_depth: Option<u8>,
    /// Audio bitrate in kbit/s.
    pub bitrate_kbps: Option<u32>,
    /// The container format (`flac`, `mpeg`, `mp4`, …).
    pub file_type: Option<String>,
}

/// Loudness normalisation tags.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplayGain {
    /// Track gain in dB.
    pub track_gain: Option<f64>,
    /// Track peak, linear.
    pub track_peak: Option<f64>,
    /// Album gain in dB.
    pub album_gain: Option<f64>,
    /// Album peak, linear.
    pub album_peak: Option<f64>,
    /// Opus R128 track gain, Q7.8 dB.
    pub r128_track_gain: Option<i64>,
    /// Opus R128 album gain, Q7.8 dB.
    pub r128_album_gain: Option<i64>,
}

/// Cover art embedded in a file, identified by content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtworkRef {
    /// SHA-256 of the image bytes, hex.
    pub sha256: String,
    /// Its MIME type, if stated.
    pub mime: Option<String>,
    /// Its size in bytes.
    pub byte_len: u64,
    /// The image, for a store that keeps images (shared by every track of a sync that
    /// embeds the same one); `None` past [`MAX_EMBEDDED_IMAGE`] or where not kept.
    #[serde(skip)]
    pub bytes: Option<std::sync::Arc<[u8]>>,
}

/// The largest embedded image kept: covers are far smaller; a larger one is referenced
/// only.
pub const MAX_EMBEDDED_IMAGE: usize = 16 << 20;

/// Everything read from one audio file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScannedTrack {
    /// Its tags.
    pub tags: TrackTags,
    /// Its audio properties.
    pub audio: AudioProperties,
    /// Its loudness tags.
    pub gain: ReplayGain,
    /// Its front cover, if embedded.
    pub artwork: Option<ArtworkRef>,
    /// Why its tags could not be read, for a file whose stream was read all the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_problem: Option<String>,
}

/// A file the library already has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownFile {
    /// Row id.
    pub id: i64,
    /// The provider's id.
    pub remote_id: String,
    /// Its path.
    pub path: String,
    /// Its size.
    pub size: u64,
    /// Its modification time.
    pub modified_ms: Option<i64>,
    /// Its content hash, `algorithm:value`.
    pub content_hash: Option<String>,
    /// Whether its tags were read (`ok`) or failed (`error`).
    pub ok: bool,
    /// When a read that failed for a passing reason is tried again.
    pub retry: Option<Retry>,
}

/// A read that failed for a reason that may pass (the provider failed, not the file):
/// when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct Retry {
    /// Syncs in a row that failed to read the file.
    pub failures: u32,
    /// From when a sync reads it again, in milliseconds since the Unix epoch.
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub at_ms: i64,
}

impl Retry {
    /// The wait after the second failure in a row; it doubles after each further one.
    const FIRST_WAIT_MS: i64 = 60_000;
    /// The longest wait.
    const MAX_WAIT_MS: i64 = 24 * 3600 * 1000;

    /// The retry after a failure at `now_ms`, `previous` being the retry that failed (if
    /// any): the next sync tries again, and after that the waits double from a minute
    /// to a day, so a file that keeps failing does not slow every sync.
    pub fn after(previous: Option<Retry>, now_ms: i64) -> Self {
        let failures = previous.map_or(1, |r| r.failures.saturating_add(1));
        let wait = match failures {
            1 => 0,
            n => Self::FIRST_WAIT_MS
                .saturating_mul(1i64 << (n - 2).min(20))
                .min(Self::MAX_WAIT_MS),
        };
        Self {
            failures,
            at_ms: now_ms.saturating_add(wait),
        }
    }

    /// Whether a sync at `now_ms` reads the file again.
    pub fn due(&self, now_ms: i64) -> bool {
        self.at_ms <= now_ms
    }
}

/// One change to write in a batch.
#[derive(Debug, Clone)]
pub enum FileWrite {
    /// Tags were read.
    Scanned {
        /// The file.
        entry: RemoteEntry,
        /// What was read.
        track: Box<ScannedTrack>,
        /// Bytes fetched to read it.
        bytes_read: u64,
    },
    /// The file could not be read or parsed.
    Failed {
        /// The file.
        entry: RemoteEntry,
        /// Why.
        reason: String,
        /// Bytes fetched before it failed.
        bytes_read: u64,
        /// When to read it again, if the reason may pass; `None`: the file itself is at
        /// fault (damaged, unsupported) and is read again only when it changes.
        retry: Option<Retry>,
    },
    /// Contents unchanged; only path, time or hash may differ.
    Unchanged {
        /// The file as listed now.
        entry: RemoteEntry,
    },
    /// The file with `from_id` now has `entry`'s id and path; its track stays.
    Moved {
        /// The old id.
        from_id: String,
        /// The file as it is now.
        entry: RemoteEntry,
    },
    /// The file is gone.
    Removed {
        /// Its id.
        remote_id: String,
    },
}

/// What a batch does to the source's sync position, in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CursorUpdate {
    /// Nothing.
    None,
    /// A full listing moved on to this page (`None`: the listing is done).
    ListingPage(Option<String>),
    /// The change cursor moved on.
    Cursor(String),
}

/// A track as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct TrackRow {
    /// Row id.
    pub id: i64,
    /// Title.
    pub title: Option<String>,
    /// Artists, joined with `; `.
    pub artists: String,
    /// Album title.
    pub album: Option<String>,
    /// Album artists, joined with `; `.
    pub album_artists: Option<String>,
    /// Disc number.
    pub disc_number: Option<i64>,
    /// Track number.
    pub track_number: Option<i64>,
    /// Year.
    pub year: Option<i64>,
    /// Duration in milliseconds.
    pub duration_ms: Option<i64>,
    /// Container format.
    pub file_type: Option<String>,
    /// Sample rate.
    pub sample_rate: Option<i64>,
    /// Channels.
    pub channels: Option<i64>,
    /// The file's path within its source.
    pub path: String,
    /// The source's name.
    pub source: String,
}

/// Where a track's bytes are, and what playing them needs besides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackLocation {
    /// The track.
    pub track_id: i64,
    /// Its source.
    pub source: Source,
    /// The provider's id of the file.
    pub remote_id: String,
    /// Its path.
    pub path: String,
    /// Its size.
    pub size: u64,
    /// Its loudness tags, for the player's normalisation.
    #[serde(default)]
    pub gain: ReplayGain,
    /// The file's content hash as listed (`algorithm:value`), if the source gives one.
    #[serde(default)]
    pub content_hash: Option<String>,
    /// When the file was last modified, as listed.
    #[serde(default)]
    pub modified_ms: Option<i64>,
}

impl TrackLocation {
    /// Which version of the file this is: its content hash, else its size and time.
    pub fn version(&self) -> String {
        match &self.content_hash {
            Some(hash) => hash.clone(),
            None => format!(
                "size:{}:modified:{}",
                self.size,
                self.modified_ms.unwrap_or(0)
            ),
        }
    }
}

/// A playlist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct Playlist {
    /// Its id.
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub id: i64,
    /// Its unique name.
    pub name: String,
    /// Entries in it.
    pub tracks: u32,
}

/// Counts over the whole library.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct LibraryStats {
    /// Sources.
    pub sources: i64,
    /// Tracks.
    pub tracks: i64,
    /// Albums.
    pub albums: i64,
    /// Artists.
    pub artists: i64,
    /// Genres.
    pub genres: i64,
    /// Files whose tags could not be read.
    pub failed_files: i64,
    /// Total duration in milliseconds.
    pub total_duration_ms: i64,
    /// Total size in bytes.
    pub total_bytes: i64,
    /// Distinct embedded cover images.
    pub artwork: i64,
}

/// A file that could not be read, or whose tags could not be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct FailedFile {
    /// The source's name.
    pub source: String,
    /// The file's path within it.
    pub path: String,
    /// Why it could not be read.
    pub reason: String,
    /// Whether its stream was read all the same: its track is in the library, with what
    /// could be read of its tags.
    #[serde(default)]
    pub playable: bool,
    /// When it is read again, if the failure may pass (the provider failed, not the
    /// file); absent, it is read again only when it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "typescript", ts(optional))]
    pub retry: Option<Retry>,
}
