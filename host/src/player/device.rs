//! The sound card, through cpal. The stream lives on a thread of its own (a cpal stream
//! may not move between threads), whose callback reads the player's ring.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{
    BufferSize, FromSample, SampleFormat, SizedSample, StreamConfig, SupportedBufferSize,
    SupportedStreamConfig,
};
use tonearm_core::player::{Output, OutputFormat};

use super::NativePlayerError;
use super::sink::{Opened, SinkSummary, spawn};

/// Samples the callback converts at a time, from a buffer made before it runs.
const SCRATCH_FRAMES: usize = 4096;

/// Silence a new stream plays before any audio: a sound server may drop the first
/// milliseconds of a stream that starts on a busy machine (up to 16 ms measured through
/// cpal's PulseAudio host with both cores busy), which would cut the start of the first
/// track. Once the stream runs it stays open from track to track.
const WARM_UP: Duration = Duration::from_millis(125);

/// The longest a device's reported delay is believed: past it, a backend's clock is wrong,
/// and positions would lag by its error.
const MOST_DELAY: Duration = Duration::from_secs(4);

/// How long the end of playback keeps the stream open past the moment the device's
/// reported delay says all was played: that delay is an estimate (cpal's PulseAudio host
/// polls the server's latency and interpolates between polls), seen once a callback, and
/// a closed stream's unplayed audio is dropped (cpal deletes the server's stream); a
/// fraction of a second at the very end costs nothing.
const DRAIN_MARGIN: Duration = Duration::from_millis(300);

/// The longest the end of playback waits for the device to play what it holds: a device
/// that stopped calling back must not hold the player open.
const MOST_DRAIN: Duration = Duration::from_secs(6);

/// What the device has yet to play, on this process's monotonic clock (the device's own
/// clock may be estimated, or stand still, on some backends): the device queues audio (a
/// sound server may hold a few hundred milliseconds on a busy machine), and audio taken
/// is heard that much later.
#[derive(Debug)]
struct DeviceClock {
    /// What the clock counts from.
    base: Instant,
    /// When the last frame of audio taken so far will have been played, in nanoseconds
    /// from `base`; 0 until audio is taken.
    heard_by: AtomicU64,
    /// Audio frames taken since all taken before was heard: the most that can be unheard,
    /// since the device's queue may hold silence before them (a pause, an underrun, the
    /// warm-up). Only the callback changes it.
    pending: AtomicU64,
    /// The stream is closing: take no more audio, only play out what the device holds.
    closing: AtomicBool,
}

impl DeviceClock {
    fn new() -> Self {
        Self {
            base: Instant::now(),
            heard_by: AtomicU64::new(0),
            pending: AtomicU64::new(0),
            closing: AtomicBool::new(false),
        }
    }

    /// Now, on this clock.
    fn now(&self) -> Duration {
        self.base.elapsed()
    }

    /// Notes a callback at `now` whose buffer starts playing `delay` later and holds
    /// `taken` frames of audio ending `end` frames into it; returns the frames of audio
    /// taken so far that are not yet heard.
    fn tick(&self, now: Duration, delay: Duration, taken: u64, end: u64, rate: u64) -> u64 {
        let now = nanos(now.as_nanos());
        let mut heard_by = self.heard_by.load(Ordering::Acquire);
        let mut pending = self.pending.load(Ordering::Relaxed);
        if heard_by <= now {
            pending = 0;
        }
        if taken > 0 {
            let delay = nanos(delay.min(MOST_DELAY).as_nanos());
            heard_by = now
                .saturating_add(delay)
                .saturating_add(end.saturating_mul(1_000_000_000) / rate.max(1));
            self.heard_by.store(heard_by, Ordering::Release);
            pending = pending.saturating_add(taken);
        }
        self.pending.store(pending, Ordering::Relaxed);
        let ahead = heard_by.saturating_sub(now);
        ahead
            .saturating_mul(rate)
            .div_ceil(1_000_000_000)
            .min(pending)
    }

    /// Whether any audio was taken.
    fn took_audio(&self) -> bool {
        self.heard_by.load(Ordering::Acquire) > 0
    }

    /// Whether everything taken has been played by `now`.
    fn played_out_at(&self, now: Duration) -> bool {
        nanos(now.as_nanos()) >= self.heard_by.load(Ordering::Acquire)
    }
}

/// Opens the device `name` (the default one if `None`) on the system's default host.
pub(super) fn open(
    name: Option<String>,
    preferred: OutputFormat,
    error: impl Fn(String) -> NativePlayerError + Send + Sync + 'static,
) -> Result<Opened, NativePlayerError> {
    let error = Arc::new(error);
    let (format_tx, format_rx) = mpsc::sync_channel(1);
    let (output_tx, output_rx) = mpsc::sync_channel::<(Output, Arc<AtomicBool>)>(1);
    let thread = spawn(error.as_ref(), {
        let error = error.clone();
        move || {
            let opened = choose(name.as_deref(), preferred);
            let (device, config) = match opened {
                Ok((device, config)) => {
                    let format = OutputFormat {
                        sample_rate: config.sample_rate(),
                        channels: config.channels(),
                    };
                    // The receiver waits for this answer; it cannot be gone.
                    let _ = format_tx.send(Ok(format));
                    (device, config)
                }
                Err(reason) => {
                    let _ = format_tx.send(Err(reason.clone()));
                    return Err(error(reason));
                }
            };
            // No player was made (its creator gave up): nothing to play.
            let Ok((output, stop)) = output_rx.recv() else {
                return Ok(SinkSummary { frames: 0 });
            };
            play(&device, &config, output, &stop).map_err(|e| error(e))
        }
    })?;
    let format = match format_rx.recv() {
        Ok(Ok(format)) => format,
        Ok(Err(reason)) => {
            let _ = thread.join();
            return Err(error(reason));
        }
        Err(_) => {
            return Err(match thread.join() {
                Ok(Err(e)) => e,
                _ => error("the output thread ended before opening the device".into()),
            });
        }
    };
    Ok(Opened {
        format,
        start: Box::new(move |output, stop| {
            output_tx
                .send((output, stop))
                .map_err(|_| error("the output thread has ended".into()))?;
            Ok(thread)
        }),
    })
}

/// The device, and the config it plays: 32-bit float at the preferred rate and channels
/// where it offers them, else its default.
fn choose(
    name: Option<&str>,
    preferred: OutputFormat,
) -> Result<(cpal::Device, SupportedStreamConfig), String> {
    let host = cpal::default_host();
    let device = match name {
        None => host.default_output_device().ok_or_else(|| {
            format!(
                "{} has no default output device (no sound server or card here? \
                 `--output null` plays into nothing)",
                host.id().name()
            )
        })?,
        Some(wanted) => {
            let wanted = wanted.to_lowercase();
            host.output_devices()
                .map_err(|e| e.to_string())?
                .find(|d| {
                    d.description()
                        .is_ok_and(|desc| desc.name().to_lowercase().contains(&wanted))
                })
                .ok_or_else(|| format!("no output device's name contains {wanted:?}"))?
        }
    };
    let fits = device
        .supported_output_configs()
        .ok()
        .and_then(|mut configs| {
            configs.find_map(|range| {
                (range.sample_format() == SampleFormat::F32
                    && range.channels() == preferred.channels)
                    .then(|| range.try_with_sample_rate(preferred.sample_rate))
                    .flatten()
            })
        });
    let config = match fits {
        Some(config) => config,
        None => device.default_output_config().map_err(|e| {
            format!("{e} (no sound server or card here? `--output null` plays into nothing)")
        })?,
    };
    tracing::info!(
        host = host.id().name(),
        rate = config.sample_rate(),
        channels = config.channels(),
        format = %config.sample_format(),
        "sound output opened"
    );
    Ok((device, config))
}

/// Plays `output` until `stop`, then lets what the device holds play out.
fn play(
    device: &cpal::Device,
    config: &SupportedStreamConfig,
    output: Output,
    stop: &AtomicBool,
) -> Result<SinkSummary, String> {
    let frames = Arc::new(AtomicU64::new(0));
    let clock = Arc::new(DeviceClock::new());
    let mut stream_config: StreamConfig = config.config();
    // A device left to choose may ask for seconds at a time (PulseAudio's default target
    // is 2 s), more than the ring holds at the start of a track: ask for about 50 ms.
    let period = (stream_config.sample_rate / 20).max(256);
    stream_config.buffer_size = match config.buffer_size() {
        SupportedBufferSize::Range { min, max } => BufferSize::Fixed(period.clamp(*min, *max)),
        SupportedBufferSize::Unknown => BufferSize::Fixed(period),
    };
    let stream = match config.sample_format() {
        SampleFormat::F32 => build::<f32>(device, &stream_config, output, &frames, &clock),
        SampleFormat::I16 => build::<i16>(device, &stream_config, output, &frames, &clock),
        SampleFormat::I32 => build::<i32>(device, &stream_config, output, &frames, &clock),
        SampleFormat::U16 => build::<u16>(device, &stream_config, output, &frames, &clock),
        SampleFormat::U8 => build::<u8>(device, &stream_config, output, &frames, &clock),
        other => {
            return Err(format!(
                "the device plays {other} samples, which are not supported"
            ));
        }
    }
    .map_err(|e| e.to_string())?;
    stream.play().map_err(|e| e.to_string())?;
    while !stop.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(20));
    }
    // No more audio is taken (a player stopped by its app has a ring still full), but
    // what the device holds is still to be heard: closing the stream now would cut the
    // end of the last track (a sound server drops what a closed stream left).
    clock.closing.store(true, Ordering::Release);
    let draining = Instant::now();
    while !clock.played_out_at(clock.now()) && draining.elapsed() < MOST_DRAIN {
        std::thread::sleep(Duration::from_millis(10));
    }
    if clock.took_audio() {
        std::thread::sleep(DRAIN_MARGIN);
    }
    drop(stream);
    Ok(SinkSummary {
        frames: frames.load(Ordering::Relaxed),
    })
}

fn build<T: SizedSample + FromSample<f32>>(
    device: &cpal::Device,
    config: &StreamConfig,
    mut output: Output,
    frames: &Arc<AtomicU64>,
    clock: &Arc<DeviceClock>,
) -> Result<cpal::Stream, cpal::Error> {
    let channels = usize::from(config.channels.max(1));
    let rate = u64::from(config.sample_rate.max(1));
    let mut scratch = vec![0.0f32; SCRATCH_FRAMES * channels];
    let failure = output.failure();
    let (frames, clock) = (frames.clone(), clock.clone());
    let mut warm_up = rate * nanos(WARM_UP.as_nanos()) / 1_000_000_000;
    let mut unheard = 0u64;
    device.build_output_stream(
        *config,
        move |data: &mut [T], info| {
            let now = clock.now();
            let closing = clock.closing.load(Ordering::Acquire);
            // The engine may read how much was heard while this callback takes audio: it
            // must not see the audio taken before it sees it unheard.
            output.set_unheard(unheard.saturating_add((data.len() / channels) as u64));
            let (mut taken, mut end, mut at) = (0u64, 0u64, 0u64);
            for chunk in data.chunks_mut(scratch.len()) {
                let samples = &mut scratch[..chunk.len()];
                let length = (samples.len() / channels) as u64;
                let played = if warm_up > 0 || closing {
                    warm_up = warm_up.saturating_sub(length);
                    samples.fill(0.0);
                    0
                } else {
                    output.render(samples) as u64
                };
                if played > 0 {
                    taken += played;
                    end = at + played;
                }
                at += length;
                for (out, sample) in chunk.iter_mut().zip(samples.iter()) {
                    *out = T::from_sample(*sample);
                }
            }
            frames.fetch_add(taken, Ordering::Relaxed);
            let stamp = info.timestamp();
            let delay = stamp.playback.saturating_duration_since(stamp.callback);
            // Positions and the end of the queue are reported as heard, not as taken.
            unheard = clock.tick(now, delay, taken, end, rate);
            output.set_unheard(unheard);
        },
        move |e| match e.kind() {
            // The device or its server is gone: the stream will not call back again, and
            // the engine must not wait for it.
            cpal::ErrorKind::DeviceNotAvailable
            | cpal::ErrorKind::HostUnavailable
            | cpal::ErrorKind::StreamInvalidated => {
                tracing::warn!(error = %e, "sound output failed");
                failure.fail();
            }
            // Anything else (an underrun, a rerouting, a backend's passing I/O error, as
            // ALSA's PulseAudio plugin reports at a stream's start): the stream plays on.
            _ => tracing::debug!(error = %e, "sound output"),
        },
        None,
    )
}

/// Nanoseconds as a `u64` (585 years of a stream's clock).
fn nanos(n: u128) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn audio_taken_is_unheard_until_the_device_has_played_it() {
        let clock = DeviceClock::new();
        assert!(clock.played_out_at(Duration::ZERO), "nothing taken");
        // 2,400 frames (50 ms) taken at 0, played from 40 ms on: heard by 90 ms.
        assert_eq!(
            clock.tick(Duration::ZERO, 40 * MS, 2_400, 2_400, 48_000),
            2_400
        );
        assert!(!clock.played_out_at(60 * MS));
        // A callback of silence at 60 ms: 30 ms of that audio are still to be heard.
        assert_eq!(clock.tick(60 * MS, 40 * MS, 0, 0, 48_000), 1_440);
        assert_eq!(clock.tick(90 * MS, 40 * MS, 0, 0, 48_000), 0);
        assert!(clock.played_out_at(90 * MS));
    }

    #[test]
    fn audio_after_silence_is_not_counted_unheard_twice() {
        let clock = DeviceClock::new();
        clock.tick(Duration::ZERO, 40 * MS, 2_400, 2_400, 48_000);
        // Paused, then playing again at 1 s: the device's queue holds 40 ms of silence
        // before the new audio, but only the 2,400 frames taken now are unheard (the
        // position must not step back by the device's delay).
        assert_eq!(clock.tick(1_000 * MS, 40 * MS, 2_400, 2_400, 48_000), 2_400);
        // Audio that ends 4,800 frames into a buffer (after silence) is heard by its end.
        let clock = DeviceClock::new();
        clock.tick(Duration::ZERO, Duration::ZERO, 2_400, 4_800, 48_000);
        assert!(!clock.played_out_at(99 * MS));
        assert!(clock.played_out_at(100 * MS));
    }

    #[test]
    fn a_delay_past_belief_is_capped() {
        let clock = DeviceClock::new();
        let hour = Duration::from_secs(3_600);
        assert_eq!(clock.tick(Duration::ZERO, hour, 0, 0, 48_000), 0);
        clock.tick(MS, hour, 480, 480, 48_000);
        assert!(!clock.played_out_at(MS + MOST_DELAY));
        assert!(clock.played_out_at(MS + MOST_DELAY + 10 * MS));
    }
}
