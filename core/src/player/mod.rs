//! The player: a queue, decoding ahead into a lock-free ring, gapless changes of track,
//! seeking, gain, and the events of all of it. One engine for every platform.
//!
//! [`Player::new`] makes three parts:
//!
//! - the [`Player`] handle the app holds: queue edits and transport (play, pause, seek,
//!   next…), and a [`PlayerStatus`] on demand;
//! - the [`Engine`], which the platform's driver pumps: it asks for tracks to be opened
//!   and decodes them into the ring ahead of the output;
//! - the [`Output`], the ring's consuming end, which an audio callback (or a file writer,
//!   or a clock) reads without locks or allocation.
//!
//! Each track is converted to the output's one format (rate, channels) and gain as it is
//! decoded, and the next track's samples follow the last one's in the ring with nothing
//! between them: gapless is the decoders' trimming plus this. Where each track starts in
//! the output is reported at the exact frame ([`PlaybackEvent::TrackStarted`]).
//!
//! [`PlaybackEvent::TrackStarted`]: crate::events::PlaybackEvent::TrackStarted

mod convert;
mod engine;
mod gain;
mod queue;
mod ring;

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;

use crate::events::EventBus;
use crate::library::ReplayGain;
use crate::playback::Stream;

pub use convert::{ConvertError, OutputFormat};
pub use engine::{Engine, OpenRequest};
pub use gain::{GainMode, GainSettings};
pub use queue::{Queue, QueueEntry, Repeat};
pub use ring::{Output, OutputFailure};

/// Why the player cannot play something.
#[derive(Debug, thiserror::Error)]
pub enum PlayerError {
    /// The track could not be opened.
    #[error("cannot open track {track_id}: {reason}")]
    Open {
        /// The library track.
        track_id: i64,
        /// Why.
        reason: String,
    },
    /// Decoding failed.
    #[error("decoding {what} failed: {error}")]
    Decode {
        /// The input.
        what: String,
        /// What the decoder said.
        error: String,
    },
    /// The track's format cannot be converted to the output's.
    #[error(transparent)]
    Convert(#[from] ConvertError),
}

/// An opened track, as a driver hands it to [`Engine::opened`].
pub struct OpenedTrack {
    /// The decoding stream.
    pub stream: Stream,
    /// The track's gain tags.
    pub gain: ReplayGain,
    /// The source it comes from (opening times are kept per source).
    pub source: String,
}

/// Whether the player plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub enum PlayState {
    /// Nothing is playing.
    Stopped,
    /// Audio is playing (or buffering).
    Playing,
    /// Paused where it was.
    Paused,
}

/// How the player plays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlayerSettings {
    /// Seconds of audio decoded ahead into the ring.
    pub ring_seconds: f32,
    /// Loudness normalisation.
    pub gain: GainSettings,
}

impl Default for PlayerSettings {
    fn default() -> Self {
        Self {
            ring_seconds: 2.0,
            gain: GainSettings::default(),
        }
    }
}

/// What the player is doing, for a status line or a UI.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct PlayerStatus {
    /// Playing, paused or stopped.
    pub state: PlayState,
    /// The entry being heard.
    pub entry: Option<QueueEntry>,
    /// Position in it.
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub position_ms: u64,
    /// Its length, if known.
    #[cfg_attr(feature = "typescript", ts(type = "number | null"))]
    pub duration_ms: Option<u64>,
    /// Audio decoded ahead of what is heard.
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub buffered_ms: u64,
    /// The volume, 0 to 1 (more amplifies).
    pub volume: f32,
    /// The repeat mode.
    pub repeat: Repeat,
    /// Whether the queue is shuffled.
    pub shuffle: bool,
    /// Times the output ran dry while playing.
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub underruns: u64,
    /// The output's format.
    pub format: OutputFormat,
}

/// Transport commands, carried out by the engine at its next pump.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Command {
    Play,
    Pause,
    Stop,
    Seek(u64),
    Next,
    Previous,
    Jump(u64),
}

/// Where a track's audio starts in the ring.
#[derive(Debug, Clone)]
struct Mark {
    /// Ring frame index of its first frame.
    at: u64,
    /// The same frame's index in what the output has played.
    output_at: u64,
    entry: QueueEntry,
    /// Output frames into the track at `at` (non-zero after a seek).
    offset: u64,
    /// Output frames in the whole track, if known.
    length: Option<u64>,
    announced: bool,
}

/// What the handle and the engine share behind a lock (never the output).
#[derive(Debug)]
struct Control {
    queue: Queue,
    commands: Vec<Command>,
    state: PlayState,
    marks: VecDeque<Mark>,
    settings: PlayerSettings,
}

/// What the handle, the engine and the output share.
struct Inner {
    control: Mutex<Control>,
    shared: Arc<ring::Shared>,
    format: OutputFormat,
    wake: Mutex<Option<Box<dyn Fn() + Send + Sync>>>,
}

impl Inner {
    fn control(&self) -> MutexGuard<'_, Control> {
        // A panic elsewhere while holding the lock leaves plain data, still usable.
        self.control.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn settings(&self) -> PlayerSettings {
        self.control().settings
    }

    /// The mark of what the output is playing now.
    fn audible(&self) -> Option<Mark> {
        let heard = self.shared.heard();
        let control = self.control();
        control
            .marks
            .iter()
            .take_while(|m| m.at <= heard)
            .last()
            .cloned()
    }

    fn position_ms(&self, mark: &Mark) -> u64 {
        let frames = mark.offset + self.shared.heard().saturating_sub(mark.at);
        frames * 1000 / u64::from(self.format.sample_rate.max(1))
    }

    fn command(&self, command: Command) {
        self.control().commands.push(command);
        self.wake();
    }

    fn wake(&self) {
        if let Some(wake) = self.wake.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            wake();
        }
    }
}

/// The app's handle on the player: cheap to clone, callable from any thread.
#[derive(Clone)]
pub struct Player {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Player {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Player")
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl Player {
    /// A player whose output plays `format`, reporting on `bus`; returns the handle, the
    /// engine for the platform's driver, and the output for its audio callback.
    pub fn new(
        format: OutputFormat,
        settings: PlayerSettings,
        bus: EventBus,
    ) -> (Self, Engine, Output) {
        let format = OutputFormat {
            sample_rate: format.sample_rate.max(1),
            channels: format.channels.max(1),
        };
        let frames =
            (f64::from(format.sample_rate) * f64::from(settings.ring_seconds.max(0.05))) as usize;
        let (producer, consumer) =
            rtrb::RingBuffer::new((frames.max(1024)) * usize::from(format.channels));
        let shared = Arc::new(ring::Shared::new());
        let inner = Arc::new(Inner {
            control: Mutex::new(Control {
                queue: Queue::new(),
                commands: Vec::new(),
                state: PlayState::Stopped,
                marks: VecDeque::new(),
                settings,
            }),
            shared: shared.clone(),
            format,
            wake: Mutex::new(None),
        });
        let engine = Engine::new(inner.clone(), producer, format, bus);
        let output = Output::new(consumer, shared, format);
        (Self { inner }, engine, output)
    }

    /// Has `wake` called whenever the engine has a command to carry out (a driver that
    /// sleeps between pumps wakes on it).
    pub fn on_command(&self, wake: impl Fn() + Send + Sync + 'static) {
        *self.inner.wake.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(wake));
    }

    /// Queues `tracks` at the end.
    pub fn append(&self, tracks: &[i64]) -> Vec<QueueEntry> {
        let added = self.inner.control().queue.append(tracks);
        self.inner.wake();
        added
    }

    /// Queues `tracks` right after what plays now.
    pub fn play_next(&self, tracks: &[i64]) -> Vec<QueueEntry> {
        let added = self.inner.control().queue.play_next(tracks);
        self.inner.wake();
        added
    }

    /// Removes a queue entry; false if it was not queued. What plays now plays on.
    pub fn remove(&self, entry: u64) -> bool {
        self.inner.control().queue.remove(entry)
    }

    /// Moves a queue entry to position `to`; false if it was not queued.
    pub fn move_to(&self, entry: u64, to: usize) -> bool {
        self.inner.control().queue.move_to(entry, to)
    }

    /// Empties the queue; what plays now plays to its end.
    pub fn clear(&self) {
        self.inner.control().queue.clear();
    }

    /// The queue in play order.
    pub fn queue(&self) -> Vec<QueueEntry> {
        self.inner.control().queue.entries().to_vec()
    }

    /// Sets the repeat mode.
    pub fn set_repeat(&self, repeat: Repeat) {
        self.inner.control().queue.set_repeat(repeat);
    }

    /// Shuffles the queue (drawing from `seed`) or restores its order.
    pub fn set_shuffle(&self, on: bool, seed: u64) {
        self.inner.control().queue.set_shuffle(on, seed);
    }

    /// Plays: resumes when paused, else starts the current (or first) entry.
    pub fn play(&self) {
        self.inner.command(Command::Play);
    }

    /// Pauses where it is.
    pub fn pause(&self) {
        self.inner.command(Command::Pause);
    }

    /// Pauses when playing, plays otherwise.
    pub fn toggle(&self) {
        let playing = self.inner.control().state == PlayState::Playing;
        self.inner.command(if playing {
            Command::Pause
        } else {
            Command::Play
        });
    }

    /// Stops, dropping what was decoded ahead.
    pub fn stop(&self) {
        self.inner.command(Command::Stop);
    }

    /// Moves to `ms` into what plays now.
    pub fn seek(&self, ms: u64) {
        self.inner.command(Command::Seek(ms));
    }

    /// Moves by `delta_ms` (negative: back) from where it is now.
    pub fn seek_by(&self, delta_ms: i64) {
        let position = self.status().position_ms;
        let target = match u64::try_from(delta_ms) {
            Ok(forward) => position.saturating_add(forward),
            Err(_) => position.saturating_sub(delta_ms.unsigned_abs()),
        };
        self.seek(target);
    }

    /// Plays the next entry.
    pub fn next(&self) {
        self.inner.command(Command::Next);
    }

    /// Plays the previous entry (or, three seconds into a track, the same from its start).
    pub fn previous(&self) {
        self.inner.command(Command::Previous);
    }

    /// Plays queue entry `entry`.
    pub fn jump(&self, entry: u64) {
        self.inner.command(Command::Jump(entry));
    }

    /// Sets the volume: 0 silent, 1 as decoded (applied at the output, at once).
    pub fn set_volume(&self, volume: f32) {
        self.inner.shared.set_volume(volume.clamp(0.0, 4.0));
    }

    /// Sets how gain tags are applied, from the next track opened.
    pub fn set_gain(&self, gain: GainSettings) {
        self.inner.control().settings.gain = gain;
    }

    /// What the player is doing now.
    pub fn status(&self) -> PlayerStatus {
        let shared = &self.inner.shared;
        let audible = self.inner.audible();
        let heard = shared.heard();
        let pushed = shared.pushed.load(Ordering::Acquire);
        let rate = u64::from(self.inner.format.sample_rate);
        let control = self.inner.control();
        PlayerStatus {
            state: control.state,
            entry: audible.as_ref().map(|m| m.entry),
            position_ms: audible
                .as_ref()
                .map_or(0, |m| (m.offset + heard.saturating_sub(m.at)) * 1000 / rate),
            duration_ms: audible
                .as_ref()
                .and_then(|m| m.length)
                .map(|f| f * 1000 / rate),
            buffered_ms: pushed.saturating_sub(heard) * 1000 / rate,
            volume: shared.volume(),
            repeat: control.queue.repeat(),
            shuffle: control.queue.shuffled(),
            underruns: shared.underruns.load(Ordering::Relaxed),
            format: self.inner.format,
        }
    }
}

#[cfg(test)]
mod tests;
