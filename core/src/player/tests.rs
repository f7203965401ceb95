//! The engine, the ring and the output together, driven in one thread as a driver would.

use std::time::Duration;

use tonearm_plugin_api::{DecodeSession, PluginError, PluginResult, StreamSpec};

use super::*;
use crate::events::{CoreEvent, PlaybackEvent, Received};

/// A track of `frames` frames whose samples count up from `base` (channel c adds c/10),
/// decoded in chunks of `chunk` frames; optionally failing at frame `fail_at`.
struct Counting {
    base: f32,
    frames: u64,
    channels: u16,
    rate: u32,
    chunk: u64,
    at: u64,
    fail_at: Option<u64>,
}

impl DecodeSession for Counting {
    fn spec(&self) -> StreamSpec {
        StreamSpec {
            sample_rate: self.rate,
            channels: self.channels,
            total_frames: Some(self.frames),
            codec: "count".into(),
            bits_per_sample: None,
        }
    }

    fn read(&mut self, out: &mut Vec<f32>) -> PluginResult<usize> {
        out.clear();
        if self.fail_at.is_some_and(|f| self.at >= f) {
            return Err(PluginError::Corrupt("a broken packet".into()));
        }
        let n = self.chunk.min(self.frames - self.at);
        for i in 0..n {
            for c in 0..self.channels {
                out.push(sample(self.base, self.at + i, c));
            }
        }
        self.at += n;
        Ok(n as usize)
    }

    fn seek(&mut self, frame: u64) -> PluginResult<u64> {
        self.at = frame.min(self.frames);
        Ok(self.at)
    }
}

fn sample(base: f32, frame: u64, channel: u16) -> f32 {
    base + frame as f32 / 1_000_000.0 + f32::from(channel) / 10.0
}

/// Tracks 1.. are `Counting` tracks of the lengths given; track 99 cannot be opened.
struct Library {
    lengths: Vec<u64>,
    rate: u32,
    channels: u16,
    fail_at: Option<u64>,
}

impl Library {
    fn open(&self, track_id: i64) -> Result<OpenedTrack, PlayerError> {
        let index = usize::try_from(track_id - 1).ok();
        let Some(&frames) = index.and_then(|i| self.lengths.get(i)) else {
            return Err(PlayerError::Open {
                track_id,
                reason: "no such file".into(),
            });
        };
        let session = Counting {
            base: track_id as f32,
            frames,
            channels: self.channels,
            rate: self.rate,
            chunk: 1_000,
            at: 0,
            fail_at: self.fail_at,
        };
        Ok(OpenedTrack {
            stream: Stream {
                what: format!("track {track_id}"),
                decoder: "count".into(),
                score: 100,
                spec: session.spec(),
                session: Box::new(session),
            },
            gain: ReplayGain::default(),
            source: "memory".into(),
        })
    }
}

const FORMAT: OutputFormat = OutputFormat {
    sample_rate: 8_000,
    channels: 2,
};

struct Rig {
    player: Player,
    engine: Engine,
    output: Output,
    library: Library,
    events: crate::events::Subscription,
    /// Opens asked for, by track.
    opens: std::collections::HashMap<i64, usize>,
}

impl Rig {
    fn new(lengths: &[u64]) -> Self {
        let bus = EventBus::new(4_096);
        let events = bus.subscribe();
        let settings = PlayerSettings {
            ring_seconds: 0.5,
            gain: GainSettings::default(),
        };
        let (player, engine, output) = Player::new(FORMAT, settings, bus);
        Self {
            player,
            engine,
            output,
            library: Library {
                lengths: lengths.to_vec(),
                rate: FORMAT.sample_rate,
                channels: FORMAT.channels,
                fail_at: None,
            },
            events,
            opens: std::collections::HashMap::new(),
        }
    }

    /// One driver turn: pump, open what was asked.
    fn turn(&mut self) {
        self.engine.pump();
        for request in self.engine.take_requests() {
            *self.opens.entry(request.entry.track_id).or_default() += 1;
            let opened = self.library.open(request.entry.track_id);
            self.engine
                .opened(request.id, opened, Duration::from_millis(1));
        }
        self.engine.pump();
    }

    /// Reads everything the player plays until the queue ends (as a file output would).
    fn play_out(&mut self) -> Vec<f32> {
        let mut all = Vec::new();
        let mut buf = vec![0.0; 700 * 2];
        for _ in 0..100_000 {
            self.turn();
            let n = self.output.read(&mut buf);
            all.extend_from_slice(&buf[..n * 2]);
            if n == 0 && self.output.finished() {
                self.turn();
                return all;
            }
        }
        panic!("the queue never ended");
    }

    fn events(&mut self) -> Vec<PlaybackEvent> {
        let mut all = Vec::new();
        while let Some(received) = self.events.try_recv() {
            if let Received::Event(CoreEvent::Playback(e)) = received {
                all.push(e);
            }
        }
        all
    }
}

fn expected(tracks: &[(i64, u64)]) -> Vec<f32> {
    let mut all = Vec::new();
    for &(track, frames) in tracks {
        for f in 0..frames {
            for c in 0..2 {
                all.push(sample(track as f32, f, c));
            }
        }
    }
    all
}

#[test]
fn tracks_follow_each_other_sample_for_sample_and_each_start_is_reported_at_its_frame() {
    let mut rig = Rig::new(&[10_123, 7_777, 3]);
    rig.player.append(&[1, 2, 3]);
    rig.player.play();
    let played = rig.play_out();
    assert_eq!(played, expected(&[(1, 10_123), (2, 7_777), (3, 3)]));
    let starts: Vec<(i64, u64)> = rig
        .events()
        .into_iter()
        .filter_map(|e| match e {
            PlaybackEvent::TrackStarted {
                track_id, at_frame, ..
            } => Some((track_id, at_frame)),
            _ => None,
        })
        .collect();
    assert_eq!(starts, [(1, 0), (2, 10_123), (3, 17_900)]);
    assert_eq!(rig.player.status().state, PlayState::Stopped);
}

#[test]
fn the_queue_ends_with_an_event_and_plays_again_from_the_start() {
    let mut rig = Rig::new(&[500]);
    rig.player.append(&[1]);
    rig.player.play();
    assert_eq!(rig.play_out().len(), 1_000);
    assert!(rig.events().contains(&PlaybackEvent::Ended {}));
    rig.player.play();
    assert_eq!(
        rig.play_out().len(),
        1_000,
        "play after the end starts over"
    );
}

#[test]
fn a_seek_drops_what_was_buffered_and_plays_from_the_target() {
    let mut rig = Rig::new(&[40_000]);
    rig.player.append(&[1]);
    rig.player.play();
    rig.turn();
    let mut buf = vec![0.0; 200];
    assert_eq!(rig.output.read(&mut buf), 100);
    rig.player.seek(3_000); // 24,000 frames at 8 kHz
    // The output carries out the flush on its next read; the engine then decodes anew.
    rig.output.read(&mut buf);
    let rest = rig.play_out();
    let seek_at = rest
        .iter()
        .position(|&s| s == sample(1.0, 24_000, 0))
        .expect("the target frame plays");
    assert!(
        seek_at <= 200,
        "at most one read of old audio before the target: {seek_at}"
    );
    assert_eq!(rest[seek_at..], expected(&[(1, 40_000)])[48_000..]);
}

#[test]
fn next_previous_and_jump_move_through_the_queue() {
    let mut rig = Rig::new(&[20_000, 20_000, 20_000]);
    let entries = rig.player.append(&[1, 2, 3]);
    rig.player.play();
    rig.turn();
    let mut buf = vec![0.0; 200];
    rig.output.read(&mut buf);
    rig.turn();
    assert_eq!(rig.player.status().entry, Some(entries[0]));
    rig.player.next();
    rig.turn();
    rig.output.read(&mut buf);
    rig.turn();
    rig.output.read(&mut buf);
    rig.turn();
    assert_eq!(rig.player.status().entry, Some(entries[1]));
    assert_eq!(
        buf[0],
        sample(2.0, 0, 0),
        "the next track from its first frame"
    );
    rig.player.previous();
    rig.turn();
    rig.output.read(&mut buf);
    rig.turn();
    rig.output.read(&mut buf);
    rig.turn();
    assert_eq!(rig.player.status().entry, Some(entries[0]));
    rig.player.jump(entries[2].entry);
    let rest = rig.play_out();
    assert_eq!(rest[rest.len() - 2..], expected(&[(3, 20_000)])[39_998..]);
}

#[test]
fn a_track_that_cannot_be_opened_is_reported_and_skipped() {
    let mut rig = Rig::new(&[300, 300]);
    rig.player.append(&[1, 99, 2]);
    rig.player.play();
    let played = rig.play_out();
    assert_eq!(played, expected(&[(1, 300), (2, 300)]));
    let events = rig.events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, PlaybackEvent::TrackError { track_id: 99, .. })),
        "{events:?}"
    );
}

#[test]
fn a_queue_of_broken_tracks_stops_instead_of_spinning() {
    let mut rig = Rig::new(&[]);
    rig.player.append(&[98, 99]);
    rig.player.set_repeat(Repeat::All);
    rig.player.play();
    for _ in 0..20 {
        rig.turn();
    }
    assert_eq!(rig.player.status().state, PlayState::Stopped);
}

#[test]
fn a_decode_error_ends_the_track_where_it_broke_and_the_next_plays() {
    let mut rig = Rig::new(&[5_000, 500]);
    rig.library.fail_at = Some(2_000);
    rig.player.append(&[1, 2]);
    rig.player.play();
    let played = rig.play_out();
    assert_eq!(played, expected(&[(1, 2_000), (2, 500)]));
}

#[test]
fn pause_holds_the_output_and_volume_scales_it() {
    let mut rig = Rig::new(&[5_000]);
    rig.player.append(&[1]);
    rig.player.play();
    rig.turn();
    rig.player.pause();
    rig.turn();
    let mut buf = vec![1.0; 200];
    assert_eq!(rig.output.render(&mut buf), 0);
    assert!(buf.iter().all(|&s| s == 0.0), "silence while paused");
    assert_eq!(
        rig.player.status().underruns,
        0,
        "a pause is not an underrun"
    );
    rig.player.set_volume(0.5);
    rig.player.play();
    rig.turn();
    assert_eq!(rig.output.render(&mut buf), 100);
    assert_eq!(buf[0], sample(1.0, 0, 0) * 0.5);
}

#[test]
fn an_output_that_outruns_the_engine_counts_underruns() {
    let mut rig = Rig::new(&[100_000]);
    rig.player.append(&[1]);
    rig.player.play();
    rig.turn();
    let mut buf = vec![0.0; 8_000];
    // Drain the ring without pumping the engine again.
    while rig.output.render(&mut buf) == 4_000 {}
    assert!(rig.player.status().underruns >= 1);
    rig.turn();
    assert!(
        rig.events()
            .iter()
            .any(|e| matches!(e, PlaybackEvent::Underrun { .. }))
    );
}

#[test]
fn a_track_of_another_rate_is_resampled_to_the_output() {
    let mut rig = Rig::new(&[16_000]);
    rig.library.rate = 16_000;
    rig.player.append(&[1]);
    rig.player.play();
    let played = rig.play_out();
    assert_eq!(
        played.len(),
        8_000 * 2,
        "one second at 16 kHz is one second at 8 kHz"
    );
}

#[test]
fn the_status_tells_position_and_buffer() {
    let mut rig = Rig::new(&[80_000]);
    rig.player.append(&[1]);
    rig.player.play();
    rig.turn();
    let mut buf = vec![0.0; 1_600];
    rig.output.read(&mut buf);
    let status = rig.player.status();
    assert_eq!(status.state, PlayState::Playing);
    assert_eq!(status.position_ms, 100);
    assert_eq!(status.duration_ms, Some(10_000));
    assert!(
        status.buffered_ms > 0 && status.buffered_ms <= 500,
        "{status:?}"
    );
}

#[test]
fn a_seek_while_paused_stays_paused_and_seeks_in_place() {
    let mut rig = Rig::new(&[40_000]);
    rig.player.append(&[1]);
    rig.player.play();
    rig.turn();
    let mut buf = vec![0.0; 200];
    rig.output.read(&mut buf);
    rig.player.pause();
    rig.turn();
    rig.player.seek(1_000);
    rig.turn();
    assert_eq!(rig.opens[&1], 1, "the track was not opened again");
    // The output drops the old audio even while paused.
    assert_eq!(rig.output.read(&mut buf), 0);
    rig.turn();
    assert_eq!(rig.player.status().state, PlayState::Paused);
    rig.player.play();
    rig.turn();
    assert_eq!(rig.output.read(&mut buf), 100);
    assert_eq!(buf[0], sample(1.0, 8_000, 0), "from 1 s in");
}

#[test]
fn a_next_track_that_fails_to_open_ahead_is_not_asked_for_again_and_again() {
    let mut rig = Rig::new(&[5_000]);
    rig.player.append(&[1, 99]);
    rig.player.play();
    let played = rig.play_out();
    assert_eq!(played.len(), 10_000);
    // Once ahead, once when its turn came.
    assert!(
        rig.opens.get(&99).copied().unwrap_or(0) <= 2,
        "{:?}",
        rig.opens
    );
}

#[test]
fn an_output_that_fails_stops_the_player_instead_of_hanging_it() {
    let mut rig = Rig::new(&[40_000, 40_000]);
    rig.player.append(&[1, 2]);
    rig.player.play();
    rig.turn();
    rig.output.failure().fail();
    // A skip would wait for the output to drop what it holds: it never will.
    rig.player.next();
    rig.turn();
    assert_eq!(rig.player.status().state, PlayState::Stopped);
    assert!(
        rig.events()
            .iter()
            .any(|e| matches!(e, PlaybackEvent::Error { .. }))
    );
}

#[test]
fn an_output_that_forwards_audio_reports_what_is_heard_not_what_it_took() {
    let mut rig = Rig::new(&[400, 8_000]);
    rig.player.append(&[1, 2]);
    rig.player.play();
    // Two turns: track 2 is opened ahead and decoded after track 1.
    rig.turn();
    rig.turn();
    // Taken: all of track 1 and 100 ms of track 2; 1,000 frames of that are still on
    // their way (a page's scheduled chunks), so only 200 frames of track 1 are heard.
    let mut buf = vec![0.0; 1_200 * 2];
    assert_eq!(rig.output.read(&mut buf), 1_200);
    rig.output.set_unheard(1_000);
    rig.turn();
    let starts = |events: Vec<PlaybackEvent>| -> Vec<i64> {
        events
            .into_iter()
            .filter_map(|e| match e {
                PlaybackEvent::TrackStarted { track_id, .. } => Some(track_id),
                _ => None,
            })
            .collect()
    };
    assert_eq!(starts(rig.events()), [1], "track 2 is not heard yet");
    let status = rig.player.status();
    assert_eq!(status.entry.map(|e| e.track_id), Some(1));
    assert_eq!(status.position_ms, 200 * 1_000 / 8_000);
    // The page played on: track 2 is heard now, 200 frames in.
    rig.output.set_unheard(600);
    rig.turn();
    assert_eq!(starts(rig.events()), [2]);
    let status = rig.player.status();
    assert_eq!(status.entry.map(|e| e.track_id), Some(2));
    assert_eq!(status.position_ms, 200 * 1_000 / 8_000);
}
