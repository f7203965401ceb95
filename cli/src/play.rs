//! `tonearm play`: the player, with a status line and keys.

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use tokio::sync::mpsc;
use tonearm_host::Received;
use tonearm_host::events::{CoreEvent, PlaybackEvent};
use tonearm_host::player::{
    GainMode, GainSettings, NativePlayer, OutputFormat, OutputTarget, PlayState, Player,
    PlayerSettings, Repeat,
};
use tonearm_store_sqlite::TrackRow;

use super::Context;
use super::output;
use super::select::Selection;

/// What to play and how.
#[derive(Debug, Args)]
pub struct PlayArgs {
    #[command(flatten)]
    what: Selection,
    /// Where the sound goes: `device` (the sound card), `device:NAME`, `wav:FILE` (as
    /// fast as it decodes) or `null` (into nothing, at the pace of a sound card).
    #[arg(long, value_name = "OUTPUT", value_parser = OutputTarget::parse, default_value = "device")]
    output: OutputTarget,
    /// Shuffle the queue.
    #[arg(long)]
    shuffle: bool,
    /// Repeat one track or the whole queue.
    #[arg(long, value_enum, default_value_t = RepeatArg::Off)]
    repeat: RepeatArg,
    /// Loudness normalisation from ReplayGain / R128 tags.
    #[arg(long, value_enum, default_value_t = GainArg::Track)]
    gain: GainArg,
    /// Added to tagged gains, in dB.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    preamp: f32,
    /// The output's sample rate [default: the highest of the queue's].
    #[arg(long)]
    rate: Option<u32>,
    /// The output's channels [default: the most of the queue's].
    #[arg(long)]
    channels: Option<u16>,
    /// Seconds decoded ahead.
    #[arg(long, default_value_t = 2.0)]
    buffer: f32,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RepeatArg {
    Off,
    One,
    All,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum GainArg {
    Off,
    Track,
    Album,
}

pub async fn play(ctx: &Context, args: PlayArgs) -> Result<ExitCode> {
    let tonearm = ctx.tonearm().await?;
    let tracks = args.what.tracks(&tonearm).await?;
    if tracks.is_empty() {
        bail!("nothing to play");
    }
    // The queue's highest rate and most channels: nothing is brought down.
    let format = OutputFormat {
        sample_rate: args
            .rate
            .or_else(|| {
                let rates = tracks.iter().filter_map(|t| t.sample_rate);
                rates.max().and_then(|r| u32::try_from(r).ok())
            })
            .unwrap_or(44_100),
        channels: args
            .channels
            .or_else(|| {
                let channels = tracks.iter().filter_map(|t| t.channels);
                channels.max().and_then(|c| u16::try_from(c).ok())
            })
            .unwrap_or(2),
    };
    let settings = PlayerSettings {
        ring_seconds: args.buffer,
        gain: GainSettings {
            mode: match args.gain {
                GainArg::Off => GainMode::Off,
                GainArg::Track => GainMode::Track,
                GainArg::Album => GainMode::Album,
            },
            preamp_db: args.preamp,
            ..GainSettings::default()
        },
    };
    let bus = ctx.bus().clone();
    let mut events = bus.subscribe();
    let native = NativePlayer::start(
        tonearm.clone(),
        tokio::runtime::Handle::current(),
        args.output.clone(),
        format,
        settings,
        bus,
    )?;
    let player = native.player().clone();
    let ids: Vec<i64> = tracks.iter().map(|t| t.id).collect();
    player.append(&ids);
    player.set_repeat(match args.repeat {
        RepeatArg::Off => Repeat::Off,
        RepeatArg::One => Repeat::One,
        RepeatArg::All => Repeat::All,
    });
    if args.shuffle {
        player.set_shuffle(true, seed());
    }
    let format = player.status().format;
    eprintln!(
        "queued {} track{} → {} ({} Hz × {} ch)",
        ids.len(),
        if ids.len() == 1 { "" } else { "s" },
        args.output,
        format.sample_rate,
        format.channels
    );
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let mut keys = keys(interactive);
    let mut input_open = true;
    if interactive {
        eprintln!("space pause · n next · p previous · ←/→ seek 10 s · ↑/↓ volume · q quit");
    }
    player.play();
    let mut titles = std::collections::HashMap::new();
    for t in &tracks {
        titles.insert(t.id, title_of(t));
    }
    let mut played = 0usize;
    let mut failed = 0usize;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            received = events.recv() => match received {
                Some(Received::Event(CoreEvent::Playback(event))) => match event {
                    PlaybackEvent::TrackStarted { track_id, at_frame, sample_rate, .. } => {
                        played += 1;
                        let title = titles.get(&track_id).cloned().unwrap_or_else(|| format!("track {track_id}"));
                        clear_status(interactive);
                        eprintln!(
                            "▶ {title} (track {track_id}, from frame {at_frame} = {:.3} s)",
                            at_frame as f64 / f64::from(sample_rate)
                        );
                    }
                    PlaybackEvent::TrackError { track_id, error, .. } => {
                        failed += 1;
                        clear_status(interactive);
                        eprintln!("✗ track {track_id}: {error}");
                    }
                    PlaybackEvent::Underrun { count } if !interactive => {
                        eprintln!("underrun ({count} so far)");
                    }
                    PlaybackEvent::Ended {} | PlaybackEvent::Stopped {} => break,
                    _ => {}
                },
                Some(_) => {}
                None => break,
            },
            key = keys.recv(), if input_open => match key {
                Some(Key::Quit) => {
                    player.stop();
                    break;
                }
                Some(key) => apply(&player, key),
                None if interactive => {
                    player.stop();
                    break;
                }
                // Input ended (a pipe closed): play on to the end of the queue.
                None => input_open = false,
            },
            _ = tick.tick(), if interactive => status_line(&player, &titles),
        }
    }
    clear_status(interactive);
    let status = player.status();
    let summary = native.finish()?;
    // Cloud tracks played are being stored for offline play: let that finish.
    let waiting = |t: &tonearm_host::Tonearm| t.cache_status().is_ok_and(|s| s.downloading > 0);
    if waiting(&tonearm) {
        eprintln!("finishing the offline copies of what played…");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while waiting(&tonearm) && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    eprintln!(
        "played {played} track{}, {} frames ({:.1} s) of audio{}",
        if played == 1 { "" } else { "s" },
        summary.frames,
        summary.frames as f64 / f64::from(status.format.sample_rate.max(1)),
        if status.underruns > 0 {
            format!(", {} underruns", status.underruns)
        } else {
            String::new()
        }
    );
    if let OutputTarget::Wav(path) = &args.output {
        println!("wrote {} frames to {}", summary.frames, path.display());
    }
    Ok(if played == 0 && failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn title_of(t: &TrackRow) -> String {
    let title = t.title.clone().unwrap_or_else(|| t.path.clone());
    if t.artists.is_empty() {
        title
    } else {
        format!("{title} — {}", t.artists)
    }
}

fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// What the keys (or lines on a pipe) ask for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Key {
    Toggle,
    Next,
    Previous,
    Seek(i64),
    SeekTo(u64),
    Volume(f32),
    VolumeTo(f32),
    Quit,
}

fn apply(player: &Player, key: Key) {
    match key {
        Key::Toggle => player.toggle(),
        Key::Next => player.next(),
        Key::Previous => player.previous(),
        Key::Seek(ms) => player.seek_by(ms),
        Key::SeekTo(ms) => player.seek(ms),
        Key::Volume(delta) => player.set_volume(player.status().volume + delta),
        Key::VolumeTo(v) => player.set_volume(v),
        Key::Quit => player.stop(),
    }
}

/// Keys from the terminal in raw mode, or commands, one per line, from a pipe:
/// `pause`, `next`, `previous`, `seek +10` / `seek -10` / `seek 95` (seconds), `volume
/// 0.5`, `quit`.
fn keys(interactive: bool) -> mpsc::Receiver<Key> {
    let (send, receive) = mpsc::channel(16);
    std::thread::spawn(move || {
        if interactive {
            let term = console::Term::stderr();
            while let Ok(key) = term.read_key() {
                let key = match key {
                    console::Key::Char(' ') => Key::Toggle,
                    console::Key::Char('n') => Key::Next,
                    console::Key::Char('p') => Key::Previous,
                    console::Key::ArrowRight => Key::Seek(10_000),
                    console::Key::ArrowLeft => Key::Seek(-10_000),
                    console::Key::ArrowUp => Key::Volume(0.1),
                    console::Key::ArrowDown => Key::Volume(-0.1),
                    console::Key::Char('q') | console::Key::Escape => Key::Quit,
                    _ => continue,
                };
                if send.blocking_send(key).is_err() {
                    return;
                }
            }
        } else {
            for line in std::io::stdin().lines() {
                let Ok(line) = line else { return };
                let key = match parse_line(&line) {
                    Some(key) => key,
                    None => {
                        eprintln!("unknown command {line:?}");
                        continue;
                    }
                };
                if send.blocking_send(key).is_err() {
                    return;
                }
            }
        }
    });
    receive
}

fn parse_line(line: &str) -> Option<Key> {
    let mut words = line.split_whitespace();
    let key = match words.next()? {
        "pause" | "play" | "toggle" => Key::Toggle,
        "next" => Key::Next,
        "previous" | "prev" => Key::Previous,
        "quit" | "stop" => Key::Quit,
        "seek" => {
            let arg = words.next()?;
            let seconds: f64 = arg.trim_start_matches('+').parse().ok()?;
            let ms = (seconds * 1000.0) as i64;
            if arg.starts_with(['+', '-']) {
                Key::Seek(ms)
            } else {
                Key::SeekTo(ms.max(0) as u64)
            }
        }
        "volume" => Key::VolumeTo(words.next()?.parse().ok()?),
        _ => return None,
    };
    Some(key)
}

fn status_line(player: &Player, titles: &std::collections::HashMap<i64, String>) {
    let status = player.status();
    let title = status
        .entry
        .and_then(|e| titles.get(&e.track_id).cloned())
        .unwrap_or_default();
    let symbol = match status.state {
        PlayState::Playing => "▶",
        PlayState::Paused => "⏸",
        PlayState::Stopped => "■",
    };
    let line = format!(
        "{symbol} {title}  {} / {}  buffer {:.1} s  volume {:.0} %",
        output::duration(Some(status.position_ms as i64)),
        output::duration(status.duration_ms.map(|d| d as i64)),
        status.buffered_ms as f64 / 1000.0,
        status.volume * 100.0
    );
    let mut err = std::io::stderr();
    let _ = write!(err, "\r\x1b[2K{}", truncate(&line, 120));
    let _ = err.flush();
}

fn clear_status(interactive: bool) {
    if interactive {
        eprint!("\r\x1b[2K");
    }
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipe_commands_are_parsed() {
        assert_eq!(parse_line("pause"), Some(Key::Toggle));
        assert_eq!(parse_line("seek +10"), Some(Key::Seek(10_000)));
        assert_eq!(parse_line("seek -2.5"), Some(Key::Seek(-2_500)));
        assert_eq!(parse_line("seek 95"), Some(Key::SeekTo(95_000)));
        assert_eq!(parse_line("volume 0.5"), Some(Key::VolumeTo(0.5)));
        assert_eq!(parse_line("dance"), None);
        assert_eq!(parse_line("seek"), None);
    }
}
