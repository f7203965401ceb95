//! The decoding half of the player: tracks in, the output's samples into the ring.
//!
//! Sans I/O, so one engine serves every platform: it never opens a track or waits itself.
//! It asks its driver to open tracks ([`Engine::take_requests`]), is handed them back
//! ([`Engine::opened`]), and is pumped ([`Engine::pump`]), which decodes as far as the ring
//! has room and says how long the driver may wait before pumping again. Natively the
//! driver is a thread; in the browser worker, a timer.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::events::{CoreEvent, EventBus, PlaybackEvent};
use crate::playback::Stream;

use super::convert::{Converter, OutputFormat};
use super::queue::QueueEntry;
use super::{Command, Inner, Mark, OpenedTrack, PlayState, PlayerError};

/// A track the engine needs opened; answer with [`Engine::opened`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRequest {
    /// The request's id, echoed in the answer.
    pub id: u64,
    /// The queue entry to open.
    pub entry: QueueEntry,
}

/// Why a request was made: the engine waits for the first kind, not for the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// Decode it now, from `start` frames in.
    Now { start_ms: u64 },
    /// The next track, opened ahead so it starts without a gap.
    Ahead,
}

/// A track being decoded.
struct Loaded {
    entry: QueueEntry,
    stream: Stream,
    convert: Converter,
    source: String,
    /// Input frames decoded so far (the track's own rate), from its start.
    decoded: u64,
    /// Output frames into the track where its next pushed sample belongs.
    out_position: u64,
    /// Output frames in the whole track, if the container says.
    out_length: Option<u64>,
    /// Its first pushed sample still needs a mark.
    mark_due: bool,
    ended: bool,
}

/// Most chunks decoded in one pump before commands are looked at again.
const CHUNKS_PER_PUMP: usize = 32;
/// How often a `Position` event is sent while playing.
const POSITION_EVERY_MS: u64 = 1_000;
/// Opening ahead starts at least this long before the current track ends.
const MIN_LEAD: Duration = Duration::from_secs(3);
/// And at most this long.
const MAX_LEAD: Duration = Duration::from_secs(30);
/// Position after which "previous" restarts the track instead.
const RESTART_AFTER_MS: u64 = 3_000;

/// The player's decoding side, driven by a platform's driver.
pub struct Engine {
    inner: Arc<Inner>,
    ring: rtrb::Producer<f32>,
    format: OutputFormat,
    bus: EventBus,
    decoding: Option<Loaded>,
    ahead: Option<Loaded>,
    /// Requests handed out and not answered, with why they were made.
    asked: HashMap<u64, (QueueEntry, Purpose)>,
    /// Requests the driver has not taken yet.
    to_ask: Vec<OpenRequest>,
    next_request: u64,
    /// Converted samples not yet in the ring (one track's only).
    pending: Vec<f32>,
    pending_at: usize,
    chunk: Vec<f32>,
    /// The flush generation the engine waits on before pushing.
    flushing: Option<u64>,
    /// How long opening took, per source: the lead for opening the next track ahead.
    open_times: HashMap<String, Duration>,
    /// Consecutive tracks that failed to open, so a queue of broken tracks ends.
    failures: usize,
    /// The queue ran out; whatever is appended plays next.
    at_end: bool,
    /// The entry whose opening ahead failed: asked for again only when its turn comes.
    ahead_failed: Option<u64>,
    last_position_ms: Option<u64>,
    last_underruns: u64,
}

impl Engine {
    pub(super) fn new(
        inner: Arc<Inner>,
        ring: rtrb::Producer<f32>,
        format: OutputFormat,
        bus: EventBus,
    ) -> Self {
        Self {
            inner,
            ring,
            format,
            bus,
            decoding: None,
            ahead: None,
            asked: HashMap::new(),
            to_ask: Vec::new(),
            next_request: 1,
            pending: Vec::new(),
            pending_at: 0,
            chunk: Vec::new(),
            flushing: None,
            open_times: HashMap::new(),
            failures: 0,
            at_end: false,
            ahead_failed: None,
            last_position_ms: None,
            last_underruns: 0,
        }
    }

    /// Tracks to open for the engine, each to be answered with [`opened`](Engine::opened).
    pub fn take_requests(&mut self) -> Vec<OpenRequest> {
        std::mem::take(&mut self.to_ask)
    }

    /// Hands back what request `id` opened, and how long opening took.
    pub fn opened(&mut self, id: u64, result: Result<OpenedTrack, PlayerError>, took: Duration) {
        let Some((entry, purpose)) = self.asked.remove(&id) else {
            // Asked for before a skip or a stop: nobody wants it now.
            return;
        };
        let loaded = result.and_then(|track| {
            self.open_times.insert(track.source.clone(), took);
            self.load(entry, track)
        });
        match (loaded, purpose) {
            (Ok(mut loaded), Purpose::Now { start_ms }) => {
                self.failures = 0;
                if start_ms > 0
                    && let Err(e) = self.seek_loaded(&mut loaded, start_ms)
                {
                    self.track_failed(entry, &e);
                    return;
                }
                self.decoding = Some(loaded);
            }
            (Ok(loaded), Purpose::Ahead) => self.ahead = Some(loaded),
            (Err(e), Purpose::Now { .. }) => self.track_failed(entry, &e),
            // Tried again, and reported, when its turn comes; not before.
            (Err(e), Purpose::Ahead) => {
                tracing::debug!(entry = entry.entry, error = %e, "opening ahead failed");
                self.ahead_failed = Some(entry.entry);
            }
        }
    }

    fn load(&self, entry: QueueEntry, track: OpenedTrack) -> Result<Loaded, PlayerError> {
        let spec = track.stream.spec.clone();
        let gain = self.inner.settings().gain.factor(&track.gain);
        let convert = Converter::new(spec.sample_rate, spec.channels, self.format, gain)?;
        let out_length = spec.total_frames.map(|f| convert.out_frames(f));
        Ok(Loaded {
            entry,
            stream: track.stream,
            convert,
            source: track.source,
            decoded: 0,
            out_position: 0,
            out_length,
            mark_due: true,
            ended: false,
        })
    }

    /// Moves `loaded` to `ms` into the track.
    fn seek_loaded(&self, loaded: &mut Loaded, ms: u64) -> Result<(), PlayerError> {
        let rate = u128::from(loaded.stream.spec.sample_rate);
        let target = u64::try_from(u128::from(ms) * rate / 1000).unwrap_or(u64::MAX);
        let landed = loaded
            .stream
            .session
            .seek(target)
            .map_err(|error| PlayerError::Decode {
                what: loaded.stream.what.clone(),
                error: error.to_string(),
            })?;
        loaded.convert.reset();
        loaded.decoded = landed;
        loaded.out_position = loaded.convert.out_frames(landed);
        loaded.mark_due = true;
        loaded.ended = false;
        Ok(())
    }

    /// Carries out commands, reports what was played, and decodes ahead as far as the ring
    /// has room. Returns how long the driver may wait before the next pump (`None`: until
    /// a command wakes it).
    pub fn pump(&mut self) -> Option<Duration> {
        if self.inner.shared.failed.load(Ordering::Acquire) {
            // The output is gone (a device unplugged): nothing will take audio or answer
            // a flush. Stop, once, and say why.
            if self.inner.control().state != PlayState::Stopped {
                self.inner.control().state = PlayState::Stopped;
                self.inner.shared.active.store(false, Ordering::Release);
                self.decoding = None;
                self.ahead = None;
                self.asked.clear();
                self.emit(PlaybackEvent::Error {
                    what: "the audio output".into(),
                    error: "the output stopped taking audio (a device lost?)".into(),
                });
                self.emit(PlaybackEvent::Stopped {});
            }
            self.inner.control().commands.clear();
            return None;
        }
        let commands = std::mem::take(&mut self.inner.control().commands);
        for command in commands {
            self.apply(command);
        }
        self.report();
        if let Some(generation) = self.flushing {
            if self.inner.shared.flushed.load(Ordering::Acquire) < generation {
                return Some(Duration::from_millis(2));
            }
            self.flushing = None;
        }
        let state = self.inner.control().state;
        if state == PlayState::Stopped {
            return None;
        }
        self.fill();
        self.open_ahead();
        if self.decoding.is_none() && self.pending_left() == 0 && !self.asked.is_empty() {
            // Waiting for a track to open: the driver wakes the engine when it has.
            return Some(Duration::from_millis(20));
        }
        if self.inner.shared.drained.load(Ordering::Acquire) {
            return Some(Duration::from_millis(20));
        }
        // The ring is full: come back when a quarter of it has played.
        let quarter = self.ring.buffer().capacity() / 4 / usize::from(self.format.channels);
        Some(Duration::from_secs_f64(
            (quarter as f64 / f64::from(self.format.sample_rate)).clamp(0.005, 0.1),
        ))
    }

    fn apply(&mut self, command: Command) {
        match command {
            Command::Play => {
                let mut control = self.inner.control();
                match control.state {
                    PlayState::Playing => {}
                    PlayState::Paused => {
                        control.state = PlayState::Playing;
                        self.inner.shared.paused.store(false, Ordering::Relaxed);
                    }
                    PlayState::Stopped => {
                        // The current entry, else the next, else (after the end) the first.
                        let queue = &mut control.queue;
                        let first = queue.entries().first().map(|e| e.entry);
                        let entry = queue
                            .current()
                            .or_else(|| queue.skip())
                            .or_else(|| first.and_then(|e| queue.jump(e)));
                        drop(control);
                        if let Some(entry) = entry {
                            self.start(entry, 0);
                        }
                    }
                }
            }
            Command::Pause => {
                let mut control = self.inner.control();
                if control.state == PlayState::Playing {
                    control.state = PlayState::Paused;
                    self.inner.shared.paused.store(true, Ordering::Relaxed);
                }
            }
            Command::Stop => {
                self.flush();
                self.inner.control().state = PlayState::Stopped;
                self.inner.shared.active.store(false, Ordering::Release);
                self.inner.shared.paused.store(false, Ordering::Relaxed);
                self.emit(PlaybackEvent::Stopped {});
            }
            Command::Seek(ms) => {
                // What is heard; else the track being opened or decoded for it (a seek
                // while a track still opens applies to that track).
                let target = self.inner.audible().map(|m| m.entry).or_else(|| {
                    self.decoding.as_ref().map(|l| l.entry).or_else(|| {
                        self.asked
                            .values()
                            .find(|(_, p)| matches!(p, Purpose::Now { .. }))
                            .map(|(e, _)| *e)
                    })
                });
                if let Some(entry) = target {
                    self.seek(entry, ms);
                }
            }
            Command::Next => {
                let audible = self.inner.audible().map(|m| m.entry);
                let next = {
                    let mut control = self.inner.control();
                    if let Some(audible) = audible {
                        control.queue.jump(audible.entry);
                    }
                    control.queue.skip()
                };
                match next {
                    Some(entry) => self.start(entry, 0),
                    None => self.apply(Command::Stop),
                }
            }
            Command::Previous => {
                let audible = self.inner.audible();
                if let Some(mark) = &audible
                    && self.inner.position_ms(mark) > RESTART_AFTER_MS
                {
                    self.seek(mark.entry, 0);
                    return;
                }
                let previous = {
                    let mut control = self.inner.control();
                    if let Some(mark) = &audible {
                        control.queue.jump(mark.entry.entry);
                    }
                    control.queue.previous()
                };
                if let Some(entry) = previous {
                    self.start(entry, 0);
                }
            }
            Command::Jump(entry) => {
                let found = self.inner.control().queue.jump(entry);
                if let Some(entry) = found {
                    self.start(entry, 0);
                }
            }
        }
    }

    /// Seeks the audible `entry`: in place if it is the track being decoded, else by
    /// opening it again.
    fn seek(&mut self, entry: QueueEntry, ms: u64) {
        // Taken before the flush, which forgets what is decoding.
        let decoding = self.decoding.take();
        let paused = self.inner.control().state == PlayState::Paused;
        self.flush();
        match decoding {
            Some(mut loaded) if loaded.entry == entry => match self.seek_loaded(&mut loaded, ms) {
                Ok(()) => self.decoding = Some(loaded),
                Err(e) => self.track_failed(entry, &e),
            },
            _ => {
                self.inner.control().queue.jump(entry.entry);
                self.start(entry, ms);
                if paused {
                    // A seek while paused stays paused, wherever the track comes from.
                    self.inner.control().state = PlayState::Paused;
                    self.inner.shared.paused.store(true, Ordering::Relaxed);
                }
            }
        }
    }

    /// Drops what is decoded and buffered, and plays `entry` from `start_ms`.
    fn start(&mut self, entry: QueueEntry, start_ms: u64) {
        self.flush();
        {
            let mut control = self.inner.control();
            control.state = PlayState::Playing;
        }
        self.inner.shared.paused.store(false, Ordering::Relaxed);
        self.inner.shared.drained.store(false, Ordering::Release);
        self.emit(PlaybackEvent::Buffering {
            entry: entry.entry,
            track_id: entry.track_id,
        });
        self.ask(entry, Purpose::Now { start_ms });
    }

    fn ask(&mut self, entry: QueueEntry, purpose: Purpose) {
        let id = self.next_request;
        self.next_request += 1;
        self.asked.insert(id, (entry, purpose));
        self.to_ask.push(OpenRequest { id, entry });
    }

    /// Forgets everything decoded or asked for, and has the output drop what it holds.
    fn flush(&mut self) {
        self.decoding = None;
        self.ahead = None;
        self.asked.clear();
        self.to_ask.clear();
        self.pending.clear();
        self.pending_at = 0;
        self.inner.control().marks.clear();
        let shared = &self.inner.shared;
        // Until the next push, an empty ring is buffering, not an underrun: said before
        // the output is told to drop what it holds.
        shared.active.store(false, Ordering::Release);
        // An empty ring has nothing to drop: starting from silence waits for no output.
        if shared.consumed.load(Ordering::Acquire) < shared.pushed.load(Ordering::Acquire) {
            let generation = shared.flush.fetch_add(1, Ordering::AcqRel) + 1;
            self.flushing = Some(generation);
        }
        self.last_position_ms = None;
        self.at_end = false;
    }

    fn pending_left(&self) -> usize {
        self.pending.len() - self.pending_at
    }

    /// Decodes and pushes until the ring is full, the queue runs out, or a track must be
    /// opened first.
    fn fill(&mut self) {
        for _ in 0..CHUNKS_PER_PUMP {
            if !self.push_pending() {
                return;
            }
            let Some(loaded) = self.decoding.as_mut() else {
                self.next_track();
                if self.decoding.is_none() {
                    return;
                }
                continue;
            };
            if loaded.ended {
                self.next_track();
                continue;
            }
            match loaded.stream.session.read(&mut self.chunk) {
                Ok(0) => {
                    loaded.ended = true;
                    if let Err(e) = loaded.convert.finish(&mut self.pending) {
                        let entry = loaded.entry;
                        self.track_failed(entry, &e.into());
                    }
                }
                Ok(frames) => {
                    loaded.decoded += frames as u64;
                    if let Err(e) = loaded.convert.push(&self.chunk, &mut self.pending) {
                        let entry = loaded.entry;
                        self.track_failed(entry, &e.into());
                    }
                }
                Err(error) => {
                    // What was decoded plays; the track ends at the error.
                    let (entry, what) = (loaded.entry, loaded.stream.what.clone());
                    loaded.ended = true;
                    // What was decoded plays, the resampler's tail too.
                    let _ = loaded.convert.finish(&mut self.pending);
                    self.emit(PlaybackEvent::TrackError {
                        entry: entry.entry,
                        track_id: entry.track_id,
                        error: format!("decoding {what} failed: {error}"),
                    });
                }
            }
        }
    }

    /// Pushes pending samples into the ring; false when the ring is full.
    fn push_pending(&mut self) -> bool {
        let channels = usize::from(self.format.channels);
        while self.pending_left() > 0 {
            if let Some(loaded) = self.decoding.as_mut()
                && loaded.mark_due
            {
                loaded.mark_due = false;
                let shared = &self.inner.shared;
                let at = shared.pushed.load(Ordering::Relaxed);
                // `played` first: the output adds to `consumed` before `played`, so read
                // in this order the difference (frames dropped by flushes) cannot go negative.
                let played = shared.played.load(Ordering::Acquire);
                let dropped = shared
                    .consumed
                    .load(Ordering::Acquire)
                    .saturating_sub(played);
                self.inner.control().marks.push_back(Mark {
                    at,
                    output_at: at - dropped.min(at),
                    entry: loaded.entry,
                    offset: loaded.out_position,
                    length: loaded.out_length,
                    announced: false,
                });
            }
            let room = self.ring.slots() / channels * channels;
            let n = room.min(self.pending_left());
            if n == 0 {
                return false;
            }
            let Ok(chunk) = self.ring.write_chunk_uninit(n) else {
                return false;
            };
            let from = self.pending_at;
            chunk.fill_from_iter(self.pending[from..from + n].iter().copied());
            self.pending_at += n;
            let frames = (n / channels) as u64;
            self.inner
                .shared
                .pushed
                .fetch_add(frames, Ordering::Release);
            self.inner.shared.active.store(true, Ordering::Release);
            if let Some(loaded) = self.decoding.as_mut() {
                loaded.out_position += frames;
            }
        }
        self.pending.clear();
        self.pending_at = 0;
        true
    }

    /// The track being decoded has ended (or none is): moves to the next in the queue,
    /// the one opened ahead if it is still the right one.
    fn next_track(&mut self) {
        if self.decoding.as_ref().is_some_and(|l| !l.ended) {
            return;
        }
        if self.decoding.is_none() && !self.asked.is_empty() {
            // A track is being opened for now.
            if self
                .asked
                .values()
                .any(|(_, p)| matches!(p, Purpose::Now { .. }))
            {
                return;
            }
        }
        let finished = self.decoding.take();
        self.ahead_failed = None;
        // At the end of the queue, entries appended since still play.
        let next = if finished.is_some() || self.at_end {
            self.inner.control().queue.advance()
        } else {
            self.inner.control().queue.current()
        };
        let Some(next) = next else {
            self.at_end = true;
            self.inner.shared.drained.store(true, Ordering::Release);
            return;
        };
        self.at_end = false;
        self.inner.shared.drained.store(false, Ordering::Release);
        match self.ahead.take() {
            Some(ahead) if ahead.entry == next => self.decoding = Some(ahead),
            _ => {
                // Not opened ahead (a short track, an edited queue, repeat one): opened
                // now, which a long open may hear as a gap.
                let already = self.asked.values().any(|(e, _)| *e == next);
                if already {
                    for (entry, purpose) in self.asked.values_mut() {
                        if *entry == next {
                            *purpose = Purpose::Now { start_ms: 0 };
                        }
                    }
                } else {
                    self.ask(next, Purpose::Now { start_ms: 0 });
                }
            }
        }
    }

    /// Asks for the next track once the current one is within the lead time of its end.
    fn open_ahead(&mut self) {
        let Some(loaded) = &self.decoding else {
            return;
        };
        if self.ahead.is_some() || !self.asked.is_empty() {
            return;
        }
        let Some(total) = loaded.stream.spec.total_frames else {
            return;
        };
        let rate = f64::from(loaded.stream.spec.sample_rate);
        let left = Duration::from_secs_f64(total.saturating_sub(loaded.decoded) as f64 / rate);
        let lead = self
            .open_times
            .get(&loaded.source)
            .map_or(MIN_LEAD, |took| (*took * 4 + MIN_LEAD).min(MAX_LEAD));
        if left > lead {
            return;
        }
        let next = self.inner.control().queue.peek();
        if let Some(next) = next.filter(|n| self.ahead_failed != Some(n.entry)) {
            self.ask(next, Purpose::Ahead);
        }
    }

    /// A track could not be opened or decoded: reported, and the queue moves on.
    fn track_failed(&mut self, entry: QueueEntry, error: &PlayerError) {
        self.emit(PlaybackEvent::TrackError {
            entry: entry.entry,
            track_id: entry.track_id,
            error: error.to_string(),
        });
        self.failures += 1;
        let len = self.inner.control().queue.len();
        if self.failures > len.max(1) {
            // Every track in the queue failed: stop instead of trying them forever.
            self.failures = 0;
            self.apply(Command::Stop);
            return;
        }
        self.decoding = None;
        self.ahead = None;
        let next = self.inner.control().queue.skip();
        match next {
            Some(next) => self.ask(next, Purpose::Now { start_ms: 0 }),
            None => self.inner.shared.drained.store(true, Ordering::Release),
        }
    }

    /// Events for what the output has played since the last pump.
    fn report(&mut self) {
        let shared = &self.inner.shared;
        let heard = shared.heard();
        let mut started = Vec::new();
        let mut audible = None;
        {
            let mut control = self.inner.control();
            // Marks the output has passed: the last is the one playing.
            while control.marks.len() > 1 && control.marks[1].at <= heard {
                let mark = control.marks.pop_front();
                if let Some(mark) = mark.filter(|m| !m.announced) {
                    started.push(mark);
                }
            }
            if let Some(mark) = control.marks.front_mut()
                && mark.at <= heard
            {
                if !mark.announced {
                    mark.announced = true;
                    started.push(mark.clone());
                }
                audible = Some(mark.clone());
            }
        }
        for mark in started {
            self.emit(PlaybackEvent::TrackStarted {
                entry: mark.entry.entry,
                track_id: mark.entry.track_id,
                at_frame: mark.output_at,
                sample_rate: self.format.sample_rate,
            });
            self.last_position_ms = None;
        }
        if let Some(mark) = audible {
            let ms = self.inner.position_ms(&mark);
            if self
                .last_position_ms
                .is_none_or(|last| ms >= last + POSITION_EVERY_MS || ms < last)
            {
                self.last_position_ms = Some(ms);
                let rate = u64::from(self.format.sample_rate);
                self.emit(PlaybackEvent::Position {
                    entry: mark.entry.entry,
                    track_id: mark.entry.track_id,
                    position_ms: ms,
                    duration_ms: mark.length.map(|f| f * 1000 / rate),
                });
            }
        }
        let underruns = shared.underruns.load(Ordering::Relaxed);
        if underruns > self.last_underruns {
            self.last_underruns = underruns;
            self.emit(PlaybackEvent::Underrun { count: underruns });
        }
        let pushed = shared.pushed.load(Ordering::Acquire);
        if shared.drained.load(Ordering::Acquire)
            && heard >= pushed
            && self.pending_left() == 0
            && self.inner.control().state == PlayState::Playing
        {
            self.inner.control().state = PlayState::Stopped;
            shared.active.store(false, Ordering::Release);
            self.emit(PlaybackEvent::Ended {});
        }
    }

    fn emit(&self, event: PlaybackEvent) {
        self.bus.emit(CoreEvent::Playback(event));
    }
}
