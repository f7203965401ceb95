//! The decode-ahead ring between the engine and the audio output, and the counters they
//! share.
//!
//! One producer (the engine) and one consumer (the output's callback): an `rtrb` ring of
//! interleaved samples, which the callback reads without a lock or an allocation. Every
//! other thing the callback needs is an atomic here. A flush (seek, skip, stop) is a
//! generation number: the engine bumps it after its last push of old audio and pushes
//! nothing until the output has dropped everything it holds and echoed the number back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use super::convert::OutputFormat;

/// What the engine and the output both see.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Frames pushed into the ring.
    pub(crate) pushed: AtomicU64,
    /// Frames taken out of the ring: played or dropped by a flush.
    pub(crate) consumed: AtomicU64,
    /// Frames handed to the output (excluding silence).
    pub(crate) played: AtomicU64,
    /// Times the output found the ring empty while something was playing.
    pub(crate) underruns: AtomicU64,
    /// The volume, an `f32`'s bits.
    volume: AtomicU32,
    /// The output plays silence and takes nothing.
    pub(crate) paused: AtomicBool,
    /// Audio is due: an empty ring now is an underrun.
    pub(crate) active: AtomicBool,
    /// Everything that will play has been pushed.
    pub(crate) drained: AtomicBool,
    /// The flush generation the engine asked for.
    pub(crate) flush: AtomicU64,
    /// The one the output has carried out.
    pub(crate) flushed: AtomicU64,
    /// The output failed for good (a device lost): it will take nothing more.
    pub(crate) failed: AtomicBool,
    /// Frames the output has taken but not yet made heard (see [`Output::set_unheard`]).
    unheard: AtomicU64,
}

impl Shared {
    pub(crate) fn new() -> Self {
        Self {
            pushed: AtomicU64::new(0),
            consumed: AtomicU64::new(0),
            played: AtomicU64::new(0),
            underruns: AtomicU64::new(0),
            volume: AtomicU32::new(1.0f32.to_bits()),
            paused: AtomicBool::new(false),
            active: AtomicBool::new(false),
            drained: AtomicBool::new(false),
            flush: AtomicU64::new(0),
            flushed: AtomicU64::new(0),
            failed: AtomicBool::new(false),
            unheard: AtomicU64::new(0),
        }
    }

    /// Frames heard: taken out of the ring (or dropped) less those still on their way to
    /// the speakers. Positions and changes of track are reported against this.
    pub(crate) fn heard(&self) -> u64 {
        // Consumed first: an output raises its unheard count before it takes audio, so
        // whoever sees the audio taken sees it unheard too (at worst, heard lags).
        let consumed = self.consumed.load(Ordering::Acquire);
        consumed.saturating_sub(self.unheard.load(Ordering::Acquire))
    }

    pub(crate) fn volume(&self) -> f32 {
        f32::from_bits(self.volume.load(Ordering::Relaxed))
    }

    pub(crate) fn set_volume(&self, volume: f32) {
        self.volume.store(volume.to_bits(), Ordering::Relaxed);
    }
}

/// The consuming end, for an audio output: a device callback, a file writer, a clock.
pub struct Output {
    ring: rtrb::Consumer<f32>,
    shared: Arc<Shared>,
    format: OutputFormat,
    channels: usize,
    seen_flush: u64,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output")
            .field("format", &self.format)
            .field("buffered", &self.ring.slots())
            .finish_non_exhaustive()
    }
}

impl Output {
    pub(crate) fn new(
        ring: rtrb::Consumer<f32>,
        shared: Arc<Shared>,
        format: OutputFormat,
    ) -> Self {
        Self {
            ring,
            shared,
            format,
            channels: usize::from(format.channels.max(1)),
            seen_flush: 0,
        }
    }

    /// The format every sample comes in.
    pub fn format(&self) -> OutputFormat {
        self.format
    }

    /// For a device: fills all of `out` (interleaved), with silence where nothing is due
    /// or the ring ran dry; returns the frames of audio in it. Never blocks or allocates.
    pub fn render(&mut self, out: &mut [f32]) -> usize {
        let frames = self.take(out);
        let filled = frames * self.channels;
        out[filled..].fill(0.0);
        if filled < out.len()
            && frames < out.len() / self.channels
            && self.shared.active.load(Ordering::Acquire)
            && !self.shared.paused.load(Ordering::Relaxed)
            && !self.shared.drained.load(Ordering::Acquire)
        {
            self.shared.underruns.fetch_add(1, Ordering::Relaxed);
        }
        frames
    }

    /// For a file or a test: copies what is buffered into `out`, whole frames only, and
    /// returns the frames copied; 0 when nothing is buffered (see
    /// [`finished`](Output::finished)). Never blocks.
    pub fn read(&mut self, out: &mut [f32]) -> usize {
        self.take(out)
    }

    /// Whether the queue has played out: nothing more will come until the app plays again.
    pub fn finished(&self) -> bool {
        self.shared.drained.load(Ordering::Acquire) && self.ring.is_empty()
    }

    /// A handle that tells the engine this output failed for good; callable from an
    /// error callback on any thread.
    pub fn failure(&self) -> OutputFailure {
        OutputFailure(self.shared.clone())
    }

    /// Says how many of the frames this output has taken are not heard yet: an output
    /// that forwards audio to another buffer (a worker posting chunks to a page, a device
    /// with a deep queue) keeps this current, so positions, changes of track and the end
    /// of the queue are reported as heard, not as taken. Zero by default. An output on
    /// another thread than the engine raises it before it takes audio (by what it may
    /// take), and sets it exactly after.
    pub fn set_unheard(&self, frames: u64) {
        self.shared.unheard.store(frames, Ordering::Release);
    }

    /// Whether the player is paused (an output may then stop its clock).
    pub fn paused(&self) -> bool {
        self.shared.paused.load(Ordering::Relaxed)
    }

    fn take(&mut self, out: &mut [f32]) -> usize {
        self.carry_out_flush();
        if self.shared.paused.load(Ordering::Relaxed) {
            return 0;
        }
        let want = out.len() / self.channels * self.channels;
        let available = self.ring.slots() / self.channels * self.channels;
        let n = want.min(available);
        if n == 0 {
            return 0;
        }
        let Ok(chunk) = self.ring.read_chunk(n) else {
            return 0;
        };
        let (a, b) = chunk.as_slices();
        let volume = self.shared.volume();
        for (dst, src) in out.iter_mut().zip(a.iter().chain(b)) {
            *dst = src * volume;
        }
        chunk.commit_all();
        let frames = (n / self.channels) as u64;
        self.shared.consumed.fetch_add(frames, Ordering::Release);
        self.shared.played.fetch_add(frames, Ordering::Release);
        n / self.channels
    }

    /// Drops everything buffered if the engine asked for a flush since the last call.
    fn carry_out_flush(&mut self) {
        let flush = self.shared.flush.load(Ordering::Acquire);
        if flush == self.seen_flush {
            return;
        }
        let n = self.ring.slots() / self.channels * self.channels;
        if let Ok(chunk) = self.ring.read_chunk(n) {
            chunk.commit_all();
        }
        self.shared
            .consumed
            .fetch_add((n / self.channels) as u64, Ordering::Release);
        self.seen_flush = flush;
        self.shared.flushed.store(flush, Ordering::Release);
    }
}

/// Tells the engine its output failed for good (see [`Output::failure`]).
#[derive(Clone)]
pub struct OutputFailure(Arc<Shared>);

impl std::fmt::Debug for OutputFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputFailure").finish_non_exhaustive()
    }
}

impl OutputFailure {
    /// The output will take no more audio: the engine stops instead of waiting on it.
    pub fn fail(&self) {
        self.0.failed.store(true, Ordering::Release);
    }
}
