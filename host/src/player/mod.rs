//! The player natively: the core's engine driven by a thread, tracks opened on the async
//! runtime while the engine decodes, and the output read by a sink (a WAV file, a clock
//! that plays into nothing, or a sound device).

#[cfg(feature = "device")]
mod device;
mod sink;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tonearm_core::player::{Engine, OpenedTrack};

use crate::events::EventBus;
use crate::sync::Tonearm;

pub use sink::{OutputTarget, SinkSummary, UnknownOutput};
pub use tonearm_core::player::{
    GainMode, GainSettings, OutputFormat, PlayState, Player, PlayerError, PlayerSettings,
    PlayerStatus, QueueEntry, Repeat,
};

/// Why the player cannot start or finish.
#[derive(Debug, thiserror::Error)]
pub enum NativePlayerError {
    /// The output could not be opened or written.
    #[error("audio output {target}: {reason}")]
    Output {
        /// The output asked for.
        target: String,
        /// Why.
        reason: String,
    },
    /// A thread of the player could not be started or ended badly.
    #[error("player thread: {0}")]
    Thread(String),
}

/// A running player: the [`Player`] handle, its driver thread and its sink.
pub struct NativePlayer {
    player: Player,
    stop: Arc<AtomicBool>,
    driver: Option<JoinHandle<()>>,
    sink: Option<JoinHandle<Result<SinkSummary, NativePlayerError>>>,
}

impl std::fmt::Debug for NativePlayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativePlayer")
            .field("player", &self.player)
            .finish_non_exhaustive()
    }
}

impl NativePlayer {
    /// Starts a player of `tonearm`'s library playing into `target` in `format` (a device
    /// plays its own format when it cannot play that), reporting on `bus`; tracks are
    /// opened on `runtime`.
    pub fn start(
        tonearm: Tonearm,
        runtime: tokio::runtime::Handle,
        target: OutputTarget,
        format: OutputFormat,
        settings: PlayerSettings,
        bus: EventBus,
    ) -> Result<Self, NativePlayerError> {
        let opened = sink::open(target, format)?;
        let (player, engine, output) = Player::new(opened.format, settings, bus);
        let stop = Arc::new(AtomicBool::new(false));
        let sink = (opened.start)(output, stop.clone())?;
        let driver = std::thread::Builder::new()
            .name("tonearm-player".into())
            .spawn({
                let stop = stop.clone();
                move || drive(engine, tonearm, runtime, stop)
            });
        let driver = match driver {
            Ok(driver) => driver,
            Err(e) => {
                // The sink is running: end it before saying why.
                stop.store(true, Ordering::Release);
                let _ = sink.join();
                return Err(NativePlayerError::Thread(e.to_string()));
            }
        };
        let waker = driver.thread().clone();
        player.on_command(move || waker.unpark());
        Ok(Self {
            player,
            stop,
            driver: Some(driver),
            sink: Some(sink),
        })
    }

    /// The handle: queue, transport, status.
    pub fn player(&self) -> &Player {
        &self.player
    }

    /// Stops the threads and closes the output (a WAV file is complete after this).
    pub fn finish(mut self) -> Result<SinkSummary, NativePlayerError> {
        self.shut_down()
    }

    fn shut_down(&mut self) -> Result<SinkSummary, NativePlayerError> {
        self.stop.store(true, Ordering::Release);
        // The sink is joined whatever became of the driver, so a WAV file is finished.
        let driver = self.driver.take().map(|driver| {
            driver.thread().unpark();
            driver.join()
        });
        let sink = match self.sink.take() {
            Some(sink) => sink
                .join()
                .map_err(|_| NativePlayerError::Thread("the sink panicked".into()))?,
            None => Err(NativePlayerError::Thread("already finished".into())),
        };
        if let Some(Err(_)) = driver {
            return Err(NativePlayerError::Thread("the driver panicked".into()));
        }
        sink
    }
}

impl Drop for NativePlayer {
    fn drop(&mut self) {
        if self.driver.is_some() {
            let _ = self.shut_down();
        }
    }
}

/// What a finished open sends back to the driver.
type Opened = (u64, Result<OpenedTrack, PlayerError>, Duration);

/// The driver thread: pumps the engine, and opens what it asks for on the runtime so
/// that the track playing keeps decoding while the next one opens (a Drive track may take
/// a second).
fn drive(
    mut engine: Engine,
    tonearm: Tonearm,
    runtime: tokio::runtime::Handle,
    stop: Arc<AtomicBool>,
) {
    let (done, opened) = mpsc::channel::<Opened>();
    let me = std::thread::current();
    while !stop.load(Ordering::Acquire) {
        let wait = engine.pump();
        for request in engine.take_requests() {
            let (tonearm, done, me) = (tonearm.clone(), done.clone(), me.clone());
            let track_id = request.entry.track_id;
            runtime.spawn(async move {
                let started = Instant::now();
                let span = tracing::debug_span!("open_for_player", track_id);
                let result = {
                    let _enter = span.enter();
                    tonearm.open_for_player(track_id)
                }
                .await
                .map_err(|e| PlayerError::Open {
                    track_id,
                    reason: e.to_string(),
                });
                // The driver may have ended; then nobody wants the track.
                let _ = done.send((request.id, result, started.elapsed()));
                me.unpark();
            });
        }
        let mut answered = false;
        while let Ok((id, result, took)) = opened.try_recv() {
            engine.opened(id, result, took);
            answered = true;
        }
        if answered {
            continue;
        }
        match wait {
            Some(wait) => std::thread::park_timeout(wait),
            None => std::thread::park_timeout(Duration::from_millis(250)),
        }
    }
}
