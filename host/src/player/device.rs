//! The sound card, through cpal. The stream lives on a thread of its own (a cpal stream
//! may not move between threads), whose callback reads the player's ring.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

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
    let mut stream_config: StreamConfig = config.config();
    // A device left to choose may ask for seconds at a time (PulseAudio's default target
    // is 2 s), more than the ring holds at the start of a track: ask for about 50 ms.
    let period = (stream_config.sample_rate / 20).max(256);
    stream_config.buffer_size = match config.buffer_size() {
        SupportedBufferSize::Range { min, max } => BufferSize::Fixed(period.clamp(*min, *max)),
        SupportedBufferSize::Unknown => BufferSize::Fixed(period),
    };
    let stream = match config.sample_format() {
        SampleFormat::F32 => build::<f32>(device, &stream_config, output, frames.clone()),
        SampleFormat::I16 => build::<i16>(device, &stream_config, output, frames.clone()),
        SampleFormat::I32 => build::<i32>(device, &stream_config, output, frames.clone()),
        SampleFormat::U16 => build::<u16>(device, &stream_config, output, frames.clone()),
        SampleFormat::U8 => build::<u8>(device, &stream_config, output, frames.clone()),
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
    // What the device buffered is still to be heard.
    let buffered = stream.buffer_size().unwrap_or(0);
    let drain = Duration::from_secs_f64(f64::from(buffered) / f64::from(stream_config.sample_rate));
    std::thread::sleep(drain + Duration::from_millis(100));
    drop(stream);
    Ok(SinkSummary {
        frames: frames.load(Ordering::Relaxed),
    })
}

fn build<T: SizedSample + FromSample<f32>>(
    device: &cpal::Device,
    config: &StreamConfig,
    mut output: Output,
    frames: Arc<AtomicU64>,
) -> Result<cpal::Stream, cpal::Error> {
    let channels = usize::from(config.channels.max(1));
    let mut scratch = vec![0.0f32; SCRATCH_FRAMES * channels];
    let failure = output.failure();
    device.build_output_stream(
        *config,
        move |data: &mut [T], _| {
            for chunk in data.chunks_mut(scratch.len()) {
                let samples = &mut scratch[..chunk.len()];
                let played = output.render(samples);
                frames.fetch_add(played as u64, Ordering::Relaxed);
                for (out, sample) in chunk.iter_mut().zip(samples.iter()) {
                    *out = T::from_sample(*sample);
                }
            }
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
