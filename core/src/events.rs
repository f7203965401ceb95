//! The one typed event bus every part of the host reports on.

use serde::Serialize;
use tokio::sync::broadcast;

/// Everything the core tells the outside world.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "domain", content = "event", rename_all = "snake_case")]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub enum CoreEvent {
    /// Syncing a source.
    Sync(SyncEvent),
    /// The library's contents changed.
    Library(LibraryEvent),
    /// Decoding for playback.
    Playback(PlaybackEvent),
    /// Plugins came, went or failed.
    Plugin(PluginEvent),
    /// Signing in to the services sources live in.
    Auth(AuthEvent),
    /// Enriching tracks from metadata sources.
    Metadata(MetadataEvent),
    /// Offline copies of cloud tracks.
    Cache(CacheEvent),
}

/// The offline cache's work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub enum CacheEvent {
    /// A track is being downloaded into the cache.
    Downloading {
        /// The library track.
        #[cfg_attr(feature = "typescript", ts(type = "number"))]
        track_id: i64,
        /// Bytes stored so far.
        #[cfg_attr(feature = "typescript", ts(type = "number"))]
        bytes: u64,
        /// Bytes in all.
        #[cfg_attr(feature = "typescript", ts(type = "number"))]
        total: u64,
    },
    /// A track is in the cache.
    Stored {
        /// The library track.
        #[cfg_attr(feature = "typescript", ts(type = "number"))]
        track_id: i64,
        /// Bytes it takes.
        #[cfg_attr(feature = "typescript", ts(type = "number"))]
        bytes: u64,
        /// Whether it is pinned.
        pinned: bool,
    },
    /// A track left the cache to make room.
    Evicted {
        /// The library track.
        #[cfg_attr(feature = "typescript", ts(type = "number"))]
        track_id: i64,
    },
    /// A cached copy had been changed on disk: it was dropped and is fetched again.
    Corrupt {
        /// The library track.
        #[cfg_attr(feature = "typescript", ts(type = "number"))]
        track_id: i64,
        /// What was wrong.
        error: String,
    },
    /// Storing a track failed.
    Failed {
        /// The library track.
        #[cfg_attr(feature = "typescript", ts(type = "number"))]
        track_id: i64,
        /// Why.
        error: String,
    },
}

/// Enrichment's progress: tags, covers and lyrics from metadata sources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub enum MetadataEvent {
    /// A run for one kind (`tags`, `artwork`, `lyrics`) began.
    Started {
        /// What is looked for.
        kind: String,
        /// Tracks in the run.
        tracks: u64,
    },
    /// A source answered about one track.
    Track {
        /// What was looked for.
        kind: String,
        /// The track.
        track_id: i64,
        /// The metadata source.
        plugin: String,
        /// `written`, `unchanged`, `no_match` or `failed`.
        outcome: String,
        /// Fields written (for tags).
        fields: Vec<String>,
    },
    /// The run for one kind ended.
    Finished {
        /// What was looked for.
        kind: String,
        /// Tracks something was written for.
        written: u64,
        /// Tracks whose best match the library already had.
        unchanged: u64,
        /// Tracks nothing usable was found for.
        no_match: u64,
        /// Tracks a source failed on (asked again next run).
        failed: u64,
        /// Tracks not asked about (answered before, or nothing to ask with).
        skipped: u64,
    },
}

/// Sign-in state of sources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub enum AuthEvent {
    /// `source` is signed in (again).
    SignedIn {
        /// The source's name.
        source: String,
    },
    /// `source`'s grant is gone; syncing it waits until someone signs in again.
    SignInRequired {
        /// The source's name.
        source: String,
        /// What the server said.
        reason: String,
    },
}

/// Counters of one sync run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct SyncCounts {
    /// Entries the provider reported so far.
    pub seen: u64,
    /// Audio files whose tags were read.
    pub scanned: u64,
    /// Files new to the library.
    pub added: u64,
    /// Files whose contents or path changed.
    pub updated: u64,
    /// Files gone from the source.
    pub removed: u64,
    /// Audio files that could not be read or parsed (recorded with their reason).
    pub failed: u64,
    /// Entries skipped because they did not change.
    pub unchanged: u64,
    /// Bytes fetched from the provider to read tags.
    pub bytes_read: u64,
}

/// Progress of a sync.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub enum SyncEvent {
    /// A sync of `source` began.
    Started {
        /// The source's name.
        source: String,
        /// Whether it lists everything (true) or applies changes since the last cursor.
        full: bool,
    },
    /// A batch was committed.
    Progress {
        /// The source's name.
        source: String,
        /// What has happened so far.
        counts: SyncCounts,
    },
    /// The sync finished and its cursor is saved.
    Completed {
        /// The source's name.
        source: String,
        /// What happened.
        counts: SyncCounts,
    },
    /// The sync stopped on an error; what was committed stays, and the next sync resumes.
    Failed {
        /// The source's name.
        source: String,
        /// Why.
        error: String,
    },
}

/// Changes to the library, summarised per committed batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub enum LibraryEvent {
    /// Tracks were added, updated or removed.
    TracksChanged {
        /// Tracks added.
        added: u64,
        /// Tracks updated.
        updated: u64,
        /// Tracks removed.
        removed: u64,
    },
    /// A source was added.
    SourceAdded {
        /// Its name.
        source: String,
    },
    /// A source and its tracks were removed.
    SourceRemoved {
        /// Its name.
        source: String,
    },
}

/// Decoding progress.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub enum PlaybackEvent {
    /// A stream was opened.
    Started {
        /// What is playing.
        what: String,
        /// The decoder chosen.
        decoder: String,
        /// Frames per second.
        sample_rate: u32,
        /// Channels.
        channels: u16,
    },
    /// The stream ended.
    Completed {
        /// What was playing.
        what: String,
        /// Frames decoded.
        frames: u64,
    },
    /// Decoding failed.
    Error {
        /// What was playing.
        what: String,
        /// Why.
        error: String,
    },
    /// The player is opening a track to play it (after a skip, a seek or a start).
    Buffering {
        /// The queue entry.
        #[cfg_attr(feature = "typescript", ts(type = "number"))]
        entry: u64,
        /// The library track.
        #[cfg_attr(feature = "typescript", ts(type = "number"))]
        track_id: i64,
    },
    /// A queue entry began to be heard, at frame `at_frame` of the output.
    TrackStarted {
        /// The queue entry.
        #[cfg_attr(feature = "typescript", ts(type = "number"))]
        entry: u64,
        /// The library track.
        #[cfg_attr(feature = "typescript", ts(type = "number"))]
        track_id: i64,
        /// Frames the output had played before this track's first one.
        #[cfg_attr(feature = "typescript", ts(type = "number"))]
        at_frame: u64,
        /// The output's frames per second.
        sample_rate: u32,
    },
    /// Where playback is, about once a second and after every seek.
    Position {
        /// The queue entry.
        #[cfg_attr(feature = "typescript", ts(type = "number"))]
        entry: u64,
        /// The library track.
        #[cfg_attr(feature = "typescript", ts(type = "number"))]
        track_id: i64,
        /// Milliseconds into the track.
        #[cfg_attr(feature = "typescript", ts(type = "number"))]
        position_ms: u64,
        /// Its length, if known.
        #[cfg_attr(feature = "typescript", ts(type = "number | null"))]
        duration_ms: Option<u64>,
    },
    /// The output ran dry while playing: a gap was heard.
    Underrun {
        /// Underruns since the player was made.
        #[cfg_attr(feature = "typescript", ts(type = "number"))]
        count: u64,
    },
    /// A queued track could not be played; the queue moves on.
    TrackError {
        /// The queue entry.
        #[cfg_attr(feature = "typescript", ts(type = "number"))]
        entry: u64,
        /// The library track.
        #[cfg_attr(feature = "typescript", ts(type = "number"))]
        track_id: i64,
        /// Why.
        error: String,
    },
    /// The player was stopped.
    Stopped {},
    /// The queue played to its end.
    Ended {},
}

/// Plugin lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub enum PluginEvent {
    /// A plugin was registered.
    Registered {
        /// Its id.
        id: String,
        /// How it was loaded.
        origin: String,
    },
    /// A plugin was unregistered.
    Unregistered {
        /// Its id.
        id: String,
    },
    /// A plugin failed (panicked or broke its contract) and is no longer used.
    Failed {
        /// Its id.
        id: String,
        /// What happened.
        error: String,
    },
}

/// One bus per core; cheap to clone.
#[derive(Debug, Clone)]
pub struct EventBus {
    sender: broadcast::Sender<CoreEvent>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new(1024)
    }
}

impl EventBus {
    /// A bus that buffers `capacity` events for its slowest subscriber.
    pub fn new(capacity: usize) -> Self {
        Self {
            sender: broadcast::channel(capacity.max(1)).0,
        }
    }

    /// Publishes an event; with no subscriber it is dropped.
    pub fn emit(&self, event: CoreEvent) {
        tracing::trace!(?event, "event");
        // An error only means nobody is listening, which is fine.
        let _ = self.sender.send(event);
    }

    /// A new subscription that sees every event from now on.
    pub fn subscribe(&self) -> Subscription {
        Subscription {
            receiver: self.sender.subscribe(),
        }
    }
}

/// What a subscriber receives.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// The next event.
    Event(CoreEvent),
    /// The subscriber fell behind and this many events were dropped for it.
    Missed(u64),
}

/// One subscriber's view of the bus.
#[derive(Debug)]
pub struct Subscription {
    receiver: broadcast::Receiver<CoreEvent>,
}

impl Subscription {
    /// Waits for the next event; `None` once the bus is gone.
    pub async fn recv(&mut self) -> Option<Received> {
        match self.receiver.recv().await {
            Ok(event) => Some(Received::Event(event)),
            Err(broadcast::error::RecvError::Lagged(n)) => Some(Received::Missed(n)),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<Received> {
        match self.receiver.try_recv() {
            Ok(event) => Some(Received::Event(event)),
            Err(broadcast::error::TryRecvError::Lagged(n)) => Some(Received::Missed(n)),
            Err(_) => None,
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn ev(n: u64) -> CoreEvent {
        CoreEvent::Library(LibraryEvent::TracksChanged {
            added: n,
            updated: 0,
            removed: 0,
        })
    }

    #[tokio::test]
    async fn lagging_subscribers_are_told_how_many_they_missed() {
        let bus = EventBus::new(2);
        let mut sub = bus.subscribe();
        for n in 0..5 {
            bus.emit(ev(n));
        }
        assert_eq!(sub.recv().await, Some(Received::Missed(3)));
        assert_eq!(sub.recv().await, Some(Received::Event(ev(3))));
        assert_eq!(sub.recv().await, Some(Received::Event(ev(4))));
        assert_eq!(sub.try_recv(), None);
    }

    #[test]
    fn events_serialise_with_tags() {
        let json = serde_json::to_string(&ev(1)).unwrap();
        assert_eq!(
            json,
            r#"{"domain":"library","event":{"type":"tracks_changed","added":1,"updated":0,"removed":0}}"#
        );
    }
}
