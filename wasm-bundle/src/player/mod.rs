//! The player in the worker: the core's engine, as natively, pumped on the worker's timer,
//! with tracks opened between pumps. Its output is not a device: the worker reads it in
//! chunks and posts them to the page (their buffers transferred), a few ahead of what the
//! page has played. The page only schedules them and says which it played (credits).
//!
//! A seek, a skip or a stop drops what was decoded ahead, in the ring and on its way to
//! the page alike: each starts a new *epoch*, which every chunk carries, and the page
//! drops what it holds of an older one.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use std::time::Duration;

use tonearm_core::Tonearm;
use tonearm_core::events::EventBus;
use tonearm_core::library::LibraryStore;
use tonearm_core::player::{
    Engine, GainSettings, Output, OutputFormat, Player, PlayerError, PlayerSettings,
};
use tonearm_core::sources::Capabilities;
use tonearm_core::sync::rt;
use wasm_bindgen::JsValue;

use crate::protocol::{Reply, Request};

/// Frames per chunk posted: 85 ms at 48 kHz.
const CHUNK_FRAMES: usize = 4_096;
/// Chunks on their way to the page or scheduled there: about half a second, which the
/// page's own jank must not outlast, and which a seek or a skip throws away.
const MAX_AHEAD: usize = 6;
/// How long the driver sleeps when the engine has nothing due and nothing wakes it.
const IDLE: Duration = Duration::from_millis(250);
/// How soon a chunk the page's sink refused is posted again.
const REPOST: Duration = Duration::from_millis(20);

/// The player of one worker and its driver.
pub(crate) struct WorkerPlayer {
    player: Player,
    format: OutputFormat,
    drive: Rc<RefCell<Drive>>,
    wake: Rc<Wake>,
}

impl Drop for WorkerPlayer {
    fn drop(&mut self) {
        self.drive.borrow_mut().closed = true;
        self.wake.wake();
    }
}

/// What the driver owns: the engine, the output, and the chunks the page holds.
struct Drive {
    engine: Engine,
    output: Output,
    /// Bumped by every call that drops what was decoded ahead.
    epoch: u32,
    /// Frames of each chunk posted in this epoch and not yet credited, oldest first.
    in_flight: VecDeque<u64>,
    /// Where chunks go: the worker script's `postMessage`.
    sink: Rc<RefCell<Option<js_sys::Function>>>,
    /// A chunk taken from the output that the sink refused, with its frames: posted
    /// first on the next turn, since the output no longer holds it.
    refused: Option<(js_sys::Float32Array, u64)>,
    scratch: Vec<f32>,
    closed: bool,
}

impl Drive {
    /// Pumps the engine and posts what the page has room for; how long to sleep.
    fn turn(&mut self) -> Option<Duration> {
        let wait = self.engine.pump();
        self.post();
        if self.refused.is_some() && self.sink.borrow().is_some() {
            return Some(wait.map_or(REPOST, |wait| wait.min(REPOST)));
        }
        wait
    }

    /// Posts chunks while the page has credit and the output has audio.
    fn post(&mut self) {
        let Some(sink) = self.sink.borrow().clone() else {
            // Nobody to play the audio: leave it in the ring.
            return;
        };
        let channels = usize::from(self.format().channels);
        self.scratch.resize(CHUNK_FRAMES * channels, 0.0);
        while self.in_flight.len() < MAX_AHEAD {
            let (samples, frames) = match self.refused.take() {
                Some(chunk) => chunk,
                None => {
                    let frames = self.output.read(&mut self.scratch);
                    if frames == 0 {
                        break;
                    }
                    let samples = js_sys::Float32Array::new_with_length((frames * channels) as u32);
                    samples.copy_from(&self.scratch[..frames * channels]);
                    (samples, frames as u64)
                }
            };
            let message = audio_message(self.epoch, &samples, self.format());
            if let Err(e) = sink.call1(&JsValue::NULL, &message) {
                tracing::warn!(error = ?e, "the page's audio sink failed; posting again later");
                self.refused = Some((samples, frames));
                break;
            }
            self.in_flight.push_back(frames);
        }
        self.set_unheard();
    }

    /// Tells the output what it handed over that nobody has heard yet: what the page
    /// holds, and a chunk the page refused.
    fn set_unheard(&mut self) {
        let refused = self.refused.as_ref().map_or(0, |(_, frames)| *frames);
        self.output
            .set_unheard(self.in_flight.iter().sum::<u64>() + refused);
    }

    /// A new epoch: what the page holds is stale. Carried out after the engine applied
    /// the call, so that what the ring held is dropped first.
    fn flush(&mut self) {
        self.engine.pump();
        // An empty read carries out the engine's flush of the ring.
        self.output.read(&mut []);
        self.epoch = self.epoch.wrapping_add(1);
        self.in_flight.clear();
        self.refused = None;
        self.output.set_unheard(0);
    }

    fn credit(&mut self, epoch: u32, chunks: u32) {
        if epoch != self.epoch {
            return;
        }
        for _ in 0..chunks {
            self.in_flight.pop_front();
        }
        self.set_unheard();
    }

    fn format(&self) -> OutputFormat {
        self.output.format()
    }
}

/// `{ kind: 'audio', epoch, buffer, sampleRate, channels }`, as `WorkerMessage::Audio`.
fn audio_message(epoch: u32, samples: &js_sys::Float32Array, format: OutputFormat) -> JsValue {
    let message = js_sys::Object::new();
    for (key, value) in [
        ("kind", JsValue::from_str("audio")),
        ("epoch", JsValue::from(epoch)),
        ("buffer", samples.buffer().into()),
        ("sampleRate", JsValue::from(format.sample_rate)),
        ("channels", JsValue::from(format.channels)),
    ] {
        // Setting a property of a fresh plain object cannot fail.
        let _ = js_sys::Reflect::set(&message, &JsValue::from_str(key), &value);
    }
    message.into()
}

/// Wakes the driver's sleep early: a call, a credit, an opened track.
#[derive(Default)]
struct Wake {
    resolve: RefCell<Option<js_sys::Function>>,
    pending: Cell<bool>,
}

impl Wake {
    fn wake(&self) {
        self.pending.set(true);
        if let Some(resolve) = self.resolve.borrow_mut().take() {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
    }

    /// Sleeps `duration` on the worker's timer, or until woken.
    async fn sleep(&self, duration: Duration) {
        if self.pending.replace(false) {
            return;
        }
        let (promise, resolve) = rt::timer(duration);
        *self.resolve.borrow_mut() = Some(resolve);
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
        self.resolve.borrow_mut().take();
        self.pending.set(false);
    }
}

impl WorkerPlayer {
    /// Starts a player of `tonearm`'s library in `format`, its chunks posted through
    /// `sink` (once the worker script gave one).
    pub(crate) fn start<S, C>(
        tonearm: Tonearm<S, C>,
        format: OutputFormat,
        settings: PlayerSettings,
        bus: EventBus,
        sink: Rc<RefCell<Option<js_sys::Function>>>,
    ) -> Self
    where
        S: LibraryStore + 'static,
        C: Capabilities + 'static,
    {
        let (player, engine, output) = Player::new(format, settings, bus);
        let format = output.format();
        let drive = Rc::new(RefCell::new(Drive {
            engine,
            output,
            epoch: 0,
            in_flight: VecDeque::new(),
            sink,
            refused: None,
            scratch: Vec::new(),
            closed: false,
        }));
        let wake = Rc::new(Wake::default());
        wasm_bindgen_futures::spawn_local(run(Rc::downgrade(&drive), wake.clone(), tonearm));
        Self {
            player,
            format,
            drive,
            wake,
        }
    }

    /// The format it plays.
    pub(crate) fn format(&self) -> OutputFormat {
        self.format
    }

    /// Carries out a player call.
    pub(crate) fn handle(&self, request: Request) -> Result<Reply, String> {
        let player = &self.player;
        let mut flushes = false;
        match request {
            Request::PlayerStart { .. } | Request::PlayerStatus {} => {}
            Request::Enqueue { tracks, next } => {
                if next {
                    player.play_next(&tracks);
                } else {
                    player.append(&tracks);
                }
            }
            Request::Dequeue { entry } => {
                if !player.remove(entry) {
                    return Err(format!("no queue entry {entry}"));
                }
            }
            Request::MoveInQueue { entry, to } => {
                if !player.move_to(entry, to) {
                    return Err(format!("no queue entry {entry}"));
                }
            }
            Request::ClearQueue {} => player.clear(),
            Request::PlayerPlay {} => player.play(),
            Request::PlayerPause {} => player.pause(),
            Request::PlayerToggle {} => player.toggle(),
            Request::PlayerStop {} => {
                player.stop();
                flushes = true;
            }
            Request::PlayerNext {} => {
                player.next();
                flushes = true;
            }
            Request::PlayerPrevious {} => {
                player.previous();
                flushes = true;
            }
            Request::PlayerSeek { ms } => {
                player.seek(ms);
                flushes = true;
            }
            Request::PlayerJump { entry } => {
                player.jump(entry);
                flushes = true;
            }
            Request::PlayerVolume { volume } => player.set_volume(volume),
            Request::PlayerRepeat { repeat } => player.set_repeat(repeat),
            Request::PlayerShuffle { on } => {
                // Any seed draws a fair permutation; a new one each time is what a user expects.
                let seed = (js_sys::Math::random() * u64::MAX as f64) as u64;
                player.set_shuffle(on, seed);
            }
            Request::PlayerGain { gain } => player.set_gain(gain),
            Request::PlayerCredit { epoch, chunks } => {
                self.drive.borrow_mut().credit(epoch, chunks);
            }
            other => return Err(format!("not a player call: {other:?}")),
        }
        let epoch = {
            let mut drive = self.drive.borrow_mut();
            if flushes {
                drive.flush();
            } else {
                // Carried out now, so the reply's state is the engine's (the page follows
                // it: a play resumes its clock, a pause holds it).
                drive.engine.pump();
            }
            drive.epoch
        };
        self.wake.wake();
        Ok(Reply::Player {
            status: player.status(),
            queue: player.queue(),
            epoch,
        })
    }
}

/// The settings of a `playerStart`.
pub(crate) fn settings(ring_seconds: Option<f32>, gain: Option<GainSettings>) -> PlayerSettings {
    let defaults = PlayerSettings::default();
    PlayerSettings {
        ring_seconds: ring_seconds
            .filter(|s| s.is_finite() && *s > 0.0)
            .map_or(defaults.ring_seconds, |s| s.min(30.0)),
        gain: gain.unwrap_or(defaults.gain),
    }
}

/// The driver: pumps until the player is dropped, and opens what the engine asks for
/// while the track playing goes on decoding.
async fn run<S, C>(drive: Weak<RefCell<Drive>>, wake: Rc<Wake>, tonearm: Tonearm<S, C>)
where
    S: LibraryStore + 'static,
    C: Capabilities + 'static,
{
    loop {
        let Some(strong) = drive.upgrade() else {
            return;
        };
        let (wait, requests) = {
            let mut drive = strong.borrow_mut();
            if drive.closed {
                return;
            }
            let wait = drive.turn();
            (wait, drive.engine.take_requests())
        };
        drop(strong);
        for request in requests {
            let (drive, wake, tonearm) = (drive.clone(), wake.clone(), tonearm.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let track_id = request.entry.track_id;
                let started = js_sys::Date::now();
                let result =
                    tonearm
                        .open_for_player(track_id)
                        .await
                        .map_err(|e| PlayerError::Open {
                            track_id,
                            reason: e.to_string(),
                        });
                let took =
                    Duration::from_secs_f64(((js_sys::Date::now() - started) / 1e3).max(0.0));
                if let Some(drive) = drive.upgrade() {
                    drive.borrow_mut().engine.opened(request.id, result, took);
                }
                wake.wake();
            });
        }
        wake.sleep(wait.unwrap_or(IDLE)).await;
    }
}

#[cfg(all(test, feature = "local", feature = "symphonia-mp3"))]
mod tests;
