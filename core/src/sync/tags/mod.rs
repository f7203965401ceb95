//! Reads tags and audio properties from the bytes a parser actually touches: blocks are
//! fetched from the provider on demand, so a large file costs its head and tail.
//!
//! Two parsers fill the same [`ScannedTrack`]: lofty (feature `tags-lofty`, the native
//! host's: every common tag format) and Symphonia's metadata readers (feature
//! `tags-symphonia`, the browser's: the bundle carries them anyway to decode, so tags cost
//! no extra code there). With both, lofty reads.
//!
//! Where the host's reader does not know a format, or cannot parse a file's tags, the
//! decoder that claims the file describes it (`Decoder::describe`): a plugin's format is
//! as first-class as a builtin one, and a playable file with a damaged tag keeps its track,
//! with the tag problem recorded.

#[cfg(any(feature = "tags-lofty", feature = "tags-symphonia"))]
mod fields;
#[cfg(feature = "tags-lofty")]
mod with_lofty;
// With lofty present, Symphonia's reader salvages the tags lofty cannot parse.
#[cfg(feature = "tags-symphonia")]
mod with_symphonia;

use std::sync::Arc;

use tonearm_plugin_api::{MediaInfo, PluginError, ProbeHint, RemoteEntry, StorageProvider};

use crate::bytes::ProviderByteSource;
use crate::library::{AudioProperties, ScannedTrack};
use crate::playback::read_head;
use crate::registry::Registry;

/// Why the host's own reader could not read a file.
#[derive(Debug)]
pub(crate) enum Unread {
    /// It does not know the format; a decoder plugin may.
    Unknown(String),
    /// It knows the format, and the file is damaged.
    // Only the readers say so; a build without one relies on decoders alone.
    #[cfg_attr(
        not(any(feature = "tags-lofty", feature = "tags-symphonia")),
        allow(dead_code)
    )]
    Damaged(String),
}

impl std::fmt::Display for Unread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unknown(why) | Self::Damaged(why) => f.write_str(why),
        }
    }
}

/// How tag reading fetches bytes.
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    /// Files up to this size are fetched whole, in one request.
    pub small_file: u64,
    /// The block size of on-demand reads of larger files.
    pub block: u64,
    /// The block size, and whole-file size, for providers that reach no network (a
    /// disk): there a read costs a system call, not a round trip, and a parser touches
    /// a few kilobytes of a file's head and tail.
    pub local_block: u64,
    /// Bytes fetched per file at most before giving up on it.
    pub max_bytes: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        Self {
            small_file: 128 * 1024,
            block: 64 * 1024,
            local_block: 16 * 1024,
            max_bytes: 32 * 1024 * 1024,
        }
    }
}

impl ReadLimits {
    /// These limits for a provider that reaches no network.
    pub fn local(self) -> Self {
        Self {
            small_file: self.local_block,
            block: self.local_block,
            ..self
        }
    }
}

/// The outcome of reading one file: its track or why not, and the bytes fetched.
pub struct TagRead {
    /// The track, or the reason it could not be read.
    pub result: Result<ScannedTrack, String>,
    /// Bytes fetched from the provider.
    pub bytes_read: u64,
    /// What the provider answered when a read failed because of it, not the file.
    pub provider_error: Option<PluginError>,
}

/// Reads the tags of `entry` through `provider`, asking the decoders of `decoders` where
/// the host's reader cannot.
pub fn read(
    provider: Arc<dyn StorageProvider>,
    entry: &RemoteEntry,
    limits: ReadLimits,
    decoders: &Registry,
) -> TagRead {
    let block = if entry.size <= limits.small_file {
        entry.size.max(1)
    } else {
        limits.block
    };
    let max_blocks = usize::try_from(limits.max_bytes / block)
        .unwrap_or(usize::MAX)
        .max(1);
    let source = Arc::new(ProviderByteSource::new(
        provider, &entry.id, entry.size, block, max_blocks,
    ));
    let result = parse(source.clone(), entry, decoders);
    TagRead {
        provider_error: result.as_ref().err().and(source.provider_failure()),
        result,
        bytes_read: source.bytes_fetched(),
    }
}

/// Parses `entry`'s bytes from `source` with this build's reader, or with the decoder that
/// claims it, naming untagged files after themselves.
fn parse(
    source: Arc<ProviderByteSource>,
    entry: &RemoteEntry,
    decoders: &Registry,
) -> Result<ScannedTrack, String> {
    if entry.size == 0 {
        return Err("the file is empty".into());
    }
    let mut track = match contained(|| parse_with(source.clone(), entry)) {
        Ok(mut track) => {
            if track.tag_problem.is_some() {
                salvage_tags(&mut track, &source, entry, decoders);
            }
            track
        }
        // The provider failed, not the file: no decoder would do better.
        Err(unread) if source.provider_failure().is_some() => return Err(unread.to_string()),
        Err(unread) => {
            let info = describe(decoders, &source, entry).map_err(|e| match e {
                None => unread.to_string(),
                Some(e) => format!("{unread}; {e}"),
            })?;
            let mut track = described(info, entry);
            if let Unread::Damaged(problem) = unread {
                track.tag_problem = Some(problem);
            }
            track
        }
    };
    // Untagged files still deserve a title people recognise.
    if track.tags.title.is_none() {
        let name = entry.path.rsplit('/').next().unwrap_or(&entry.path);
        let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
        track.tags.title = Some(stem.to_owned());
    }
    Ok(track)
}

/// Runs one of this build's own readers (lofty, Symphonia: code that parses untrusted
/// bytes outside any plugin's guard), so that a panic on a malformed file makes that file
/// unreadable instead of failing the whole batch, and every later sync with it.
fn contained<T>(read: impl FnOnce() -> Result<T, Unread>) -> Result<T, Unread> {
    crate::guard::catch("the tag reader", || Ok(read())).unwrap_or_else(|e| {
        Err(Unread::Damaged(match e {
            PluginError::Internal(why) => why,
            other => other.to_string(),
        }))
    })
}

/// Fills the tags of `track`, whose tags the host's reader could not parse, from a reader
/// that skips what it cannot parse (Symphonia's, where the build has it), else from the
/// decoder that claims the file.
fn salvage_tags(
    track: &mut ScannedTrack,
    source: &Arc<ProviderByteSource>,
    entry: &RemoteEntry,
    decoders: &Registry,
) {
    #[cfg(all(feature = "tags-lofty", feature = "tags-symphonia"))]
    if let Ok(salvaged) = contained(|| with_symphonia::parse(source.clone(), entry)) {
        track.tags = salvaged.tags;
        track.gain = salvaged.gain;
        track.artwork = salvaged.artwork;
        return;
    }
    if let Ok(info) = describe(decoders, source, entry) {
        track.tags = info.tags;
    }
}

/// What the decoder that claims `entry` says of it; `Err(None)` when no decoder claims it.
fn describe(
    decoders: &Registry,
    source: &Arc<ProviderByteSource>,
    entry: &RemoteEntry,
) -> Result<MediaInfo, Option<String>> {
    let hint = ProbeHint::for_path(&entry.path);
    let head = read_head(source.as_ref()).map_err(|e| Some(e.to_string()))?;
    let choice = decoders
        .pick_decoder(&head, &hint, &entry.path)
        .map_err(|_| None)?;
    let _span = tracing::debug_span!("describe", decoder = %choice.id).entered();
    choice
        .decoder
        .describe(source.clone(), &hint)
        .map_err(|e| Some(format!("decoder `{}`: {e}", choice.id)))
}

/// A track from what a decoder described.
fn described(info: MediaInfo, entry: &RemoteEntry) -> ScannedTrack {
    let stream = info.stream;
    let duration_ms = stream
        .total_frames
        .filter(|_| stream.sample_rate > 0)
        .map(|frames| frames.saturating_mul(1000) / u64::from(stream.sample_rate));
    let bitrate_kbps = duration_ms
        .filter(|&ms| ms > 0)
        .and_then(|ms| u32::try_from(entry.size.saturating_mul(8) / ms).ok());
    ScannedTrack {
        tags: info.tags,
        audio: AudioProperties {
            duration_ms,
            sample_rate: Some(stream.sample_rate).filter(|&r| r > 0),
            channels: u8::try_from(stream.channels).ok().filter(|&c| c > 0),
            bit_depth: stream.bits_per_sample.and_then(|b| u8::try_from(b).ok()),
            bitrate_kbps,
            file_type: entry.extension().or(Some(stream.codec)),
        },
        ..ScannedTrack::default()
    }
}

#[cfg(feature = "tags-lofty")]
fn parse_with(
    source: Arc<ProviderByteSource>,
    entry: &RemoteEntry,
) -> Result<ScannedTrack, Unread> {
    with_lofty::parse(source, entry)
}

#[cfg(all(feature = "tags-symphonia", not(feature = "tags-lofty")))]
fn parse_with(
    source: Arc<ProviderByteSource>,
    entry: &RemoteEntry,
) -> Result<ScannedTrack, Unread> {
    with_symphonia::parse(source, entry)
}

// Without a reader of its own the host relies on decoders for every file.
#[cfg(not(any(feature = "tags-lofty", feature = "tags-symphonia")))]
fn parse_with(_: Arc<ProviderByteSource>, _: &RemoteEntry) -> Result<ScannedTrack, Unread> {
    Err(Unread::Unknown(
        "this build has no tag reader of its own, and no decoder claims the file".into(),
    ))
}

#[cfg(all(
    test,
    feature = "tags-lofty",
    feature = "tags-symphonia",
    not(target_arch = "wasm32")
))]
mod tests {
    use super::*;

    /// The `tags` fuzz target's finding (kept in `fuzz/regressions/tags/`): an Opus header
    /// with no channel made lofty panic; it is an unreadable file instead.
    #[test]
    #[cfg(feature = "tags-lofty")]
    fn an_opus_header_without_channels_is_refused_not_a_panic() {
        use tonearm_plugin_api::MemoryByteSource;

        // The fuzz input's first byte picks the file's extension; the rest is the file.
        let input = include_bytes!(
            "../../../../fuzz/regressions/tags/crash-e5eddf41c9049c1a8e58f944911e7ae2c39469b8"
        );
        let file = input[1..].to_vec();
        let entry = RemoteEntry {
            id: "x.opus".into(),
            path: "x.opus".into(),
            size: file.len() as u64,
            modified_ms: None,
            content_hash: None,
            mime: None,
        };
        let read = with_lofty::parse(Arc::new(MemoryByteSource::new(file)), &entry);
        assert!(read.is_err(), "refused");
    }

    /// A panic in a reader (a malformed file no guard foresaw) fails that file only.
    #[test]
    fn a_reader_that_panics_makes_the_file_unreadable_not_the_sync() {
        match contained::<()>(|| panic!("a malformed atom")) {
            Err(Unread::Damaged(why)) => assert!(why.contains("a malformed atom"), "{why}"),
            Err(Unread::Unknown(why)) => panic!("called an unknown format: {why}"),
            Ok(()) => panic!("a panic passed for a read"),
        }
        assert!(matches!(contained(|| Ok::<_, Unread>(7)), Ok(7)));
    }

    /// Both readers agree on what the library shows, on every bundled fixture.
    #[test]
    fn the_two_readers_agree_on_the_fixtures() {
        use tonearm_conformance::fixtures::FixtureSet;
        use tonearm_plugin_api::{MemoryByteSource, TrackTags};

        let set = FixtureSet::bundled();
        let mut differences = Vec::new();
        for fixture in &set.audio {
            let entry = RemoteEntry {
                id: fixture.file.clone(),
                path: fixture.file.clone(),
                size: fixture.bytes.len() as u64,
                modified_ms: None,
                content_hash: None,
                mime: None,
            };
            let source = || Arc::new(MemoryByteSource::new(fixture.bytes.to_vec()));
            let by_lofty = with_lofty::parse(source(), &entry).unwrap();
            let by_symphonia = with_symphonia::parse(source(), &entry).unwrap();
            let (a, b) = (&by_lofty, &by_symphonia);
            let mut differ = |what: &str, x: String, y: String| {
                if x != y {
                    differences.push(format!(
                        "{}: {what}: lofty {x}, symphonia {y}",
                        fixture.file
                    ));
                }
            };
            // symphonia-format-riff 0.6.1 reads a WAV's LIST/INFO chunk and then builds its
            // reader from the external metadata only, dropping it: WAV tags are lost in the
            // browser until that is fixed upstream. This fails when it is.
            if a.audio.file_type.as_deref() == Some("wav") {
                assert_eq!(
                    b.tags,
                    TrackTags::default(),
                    "{}: Symphonia reads WAV INFO now",
                    fixture.file
                );
            } else {
                differ("tags", format!("{:?}", a.tags), format!("{:?}", b.tags));
            }
            differ(
                "sample rate",
                format!("{:?}", a.audio.sample_rate),
                format!("{:?}", b.audio.sample_rate),
            );
            differ(
                "channels",
                format!("{:?}", a.audio.channels),
                format!("{:?}", b.audio.channels),
            );
            differ(
                "file type",
                format!("{:?}", a.audio.file_type),
                format!("{:?}", b.audio.file_type),
            );
            differ(
                "artwork",
                format!("{:?}", a.artwork),
                format!("{:?}", b.artwork),
            );
            differ("gain", format!("{:?}", a.gain), format!("{:?}", b.gain));
            let (x, y) = (
                a.audio.duration_ms.unwrap_or(0),
                b.audio.duration_ms.unwrap_or(0),
            );
            if x.abs_diff(y) > 50 {
                differences.push(format!(
                    "{}: duration: lofty {x} ms, symphonia {y} ms",
                    fixture.file
                ));
            }
        }
        assert!(differences.is_empty(), "{}", differences.join("\n"));
    }
}
