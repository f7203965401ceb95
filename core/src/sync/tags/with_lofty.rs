//! Tags and audio properties through lofty, which knows every common tag format (the
//! native host's reader).

use std::io::Seek as _;
use std::sync::Arc;

use lofty::config::{ParseOptions, ParsingMode};
use lofty::error::FileParseError;
use lofty::file::FileType;
use lofty::file::{AudioFile, TaggedFile};
use lofty::flac::FlacFile;
use lofty::ogg::tag::VorbisComments;
use lofty::ogg::{OpusFile, VorbisFile};
use lofty::prelude::*;
use lofty::probe::Probe;
use lofty::tag::{ItemKey, Tag};
use tonearm_plugin_api::{ByteSource, ByteSourceReader, RemoteEntry, TrackTags};

use super::Unread;
use super::fields::{artwork, gain_number, merge, merge_gain, number_pair, split_list};
use crate::library::{ArtworkRef, AudioProperties, ReplayGain, ScannedTrack};

pub(super) fn parse(
    source: Arc<dyn ByteSource>,
    entry: &RemoteEntry,
) -> Result<ScannedTrack, Unread> {
    let options = ParseOptions::new()
        .read_properties(true)
        // Relaxed: what lofty can skip of a malformed tag, it skips.
        .parsing_mode(ParsingMode::Relaxed);
    let probe = |options| {
        let reader =
            ByteSourceReader::new(source.clone()).map_err(|e| Unread::Damaged(e.to_string()))?;
        let mut probe = Probe::new(reader)
            .options(options)
            .guess_file_type()
            .map_err(|e| Unread::Damaged(format!("cannot read: {e}")))?;
        if probe.file_type().is_none() {
            // Content did not say; trust the extension as a last resort.
            if let Some(file_type) = entry.extension().and_then(FileType::from_ext) {
                probe = probe.set_file_type(file_type);
            }
        }
        let file_type = probe
            .file_type()
            .ok_or_else(|| Unread::Unknown("not a recognised audio format".into()))?;
        Ok((probe, file_type))
    };
    let (first, file_type) = probe(options)?;
    let (tagged, r128, tag_problem) = match read_tagged(first, file_type, options) {
        Ok((tagged, r128)) => (tagged, r128, None),
        // A tag lofty cannot parse at all: the stream may still be sound, so read it
        // without tags and keep what went wrong.
        Err(e) => {
            let problem = format!("cannot parse the tags of this {file_type:?} file: {e}");
            let mut untagged = options;
            untagged.read_tags(false);
            let (again, _) = probe(untagged)?;
            let (tagged, r128) = read_tagged(again, file_type, untagged)
                .map_err(|e| Unread::Damaged(format!("cannot parse {file_type:?} file: {e}")))?;
            (tagged, r128, Some(problem))
        }
    };
    let props = tagged.properties();
    let audio = AudioProperties {
        duration_ms: Some(u64::try_from(props.duration().as_millis()).unwrap_or(u64::MAX))
            .filter(|&d| d > 0),
        sample_rate: props.sample_rate(),
        channels: props.channels(),
        bit_depth: props.bit_depth(),
        bitrate_kbps: props.audio_bitrate().or(props.overall_bitrate()),
        file_type: Some(format!("{file_type:?}").to_ascii_lowercase()),
    };
    let mut track = ScannedTrack {
        audio,
        gain: r128,
        tag_problem,
        ..ScannedTrack::default()
    };
    // Files often carry several tags (RIFF INFO and ID3 in a WAV, ID3v2 and ID3v1 in an
    // MP3): the primary one wins field by field, and the others fill its gaps.
    let primary = tagged.primary_tag();
    let others = tagged
        .tags()
        .iter()
        .filter(|t| primary.is_none_or(|p| p.tag_type() != t.tag_type()));
    for tag in primary.into_iter().chain(others) {
        merge(&mut track.tags, tags_of(tag));
        merge_gain(&mut track.gain, gain_of(tag));
        if track.artwork.is_none() {
            track.artwork = artwork_of(tag);
        }
    }
    Ok(track)
}

/// Reads the file; for Vorbis-comment formats through the concrete type, because lofty's
/// generic tag drops the R128 gain keys Opus files carry.
fn read_tagged(
    probe: Probe<ByteSourceReader>,
    file_type: FileType,
    options: ParseOptions,
) -> Result<(TaggedFile, ReplayGain), String> {
    fn r128(comments: Option<&VorbisComments>) -> ReplayGain {
        let gain = |key| {
            comments
                .and_then(|c| c.get(key))
                .and_then(|v| v.trim().parse::<i64>().ok())
        };
        ReplayGain {
            r128_track_gain: gain("R128_TRACK_GAIN"),
            r128_album_gain: gain("R128_ALBUM_GAIN"),
            ..ReplayGain::default()
        }
    }
    let text = |e: FileParseError| e.to_string();
    let mut reader = probe.into_inner();
    reader.rewind().map_err(|e| e.to_string())?;
    Ok(match file_type {
        FileType::Opus => {
            opus_channels_present(&mut reader)?;
            let file = OpusFile::read_from(&mut reader, options).map_err(text)?;
            let gain = r128(Some(file.vorbis_comments()));
            (file.into(), gain)
        }
        FileType::Vorbis => {
            let file = VorbisFile::read_from(&mut reader, options).map_err(text)?;
            let gain = r128(Some(file.vorbis_comments()));
            (file.into(), gain)
        }
        FileType::Flac => {
            let file = FlacFile::read_from(&mut reader, options).map_err(text)?;
            let gain = r128(file.vorbis_comments());
            (file.into(), gain)
        }
        other => {
            let file = Probe::with_file_type(reader, other)
                .options(options)
                .read()
                .map_err(text)?;
            (file, ReplayGain::default())
        }
    })
}

fn text(tag: &Tag, key: ItemKey) -> Option<String> {
    tag.get_string(key)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn list(tag: &Tag, key: ItemKey) -> Vec<String> {
    split_list(tag.get_strings(key))
}

fn tags_of(tag: &Tag) -> TrackTags {
    let artists = match list(tag, ItemKey::TrackArtists) {
        many if !many.is_empty() => many,
        _ => list(tag, ItemKey::TrackArtist),
    };
    let album_artists = match list(tag, ItemKey::AlbumArtists) {
        many if !many.is_empty() => many,
        _ => list(tag, ItemKey::AlbumArtist),
    };
    TrackTags {
        title: text(tag, ItemKey::TrackTitle),
        artists,
        album: text(tag, ItemKey::AlbumTitle),
        album_artists,
        genres: list(tag, ItemKey::Genre),
        track_number: tag.track().or_else(|| pair(tag, ItemKey::TrackNumber).0),
        track_total: tag
            .track_total()
            .or_else(|| pair(tag, ItemKey::TrackNumber).1),
        disc_number: tag.disk().or_else(|| pair(tag, ItemKey::DiscNumber).0),
        disc_total: tag
            .disk_total()
            .or_else(|| pair(tag, ItemKey::DiscNumber).1),
        year: tag.date().map(|d| i32::from(d.year)),
        musicbrainz_recording_id: text(tag, ItemKey::MusicBrainzRecordingId),
        musicbrainz_release_id: text(tag, ItemKey::MusicBrainzReleaseId),
        isrc: text(tag, ItemKey::Isrc),
    }
}

/// A `6` or `6/7` field that lofty's accessors left unparsed (RIFF INFO, for one).
fn pair(tag: &Tag, key: ItemKey) -> (Option<u32>, Option<u32>) {
    tag.get_string(key).map_or((None, None), number_pair)
}

fn number(tag: &Tag, key: ItemKey) -> Option<f64> {
    gain_number(tag.get_string(key)?)
}

fn gain_of(tag: &Tag) -> ReplayGain {
    ReplayGain {
        track_gain: number(tag, ItemKey::ReplayGainTrackGain),
        track_peak: number(tag, ItemKey::ReplayGainTrackPeak),
        album_gain: number(tag, ItemKey::ReplayGainAlbumGain),
        album_peak: number(tag, ItemKey::ReplayGainAlbumPeak),
        // Read from the Vorbis comments directly (`read_tagged`).
        r128_track_gain: None,
        r128_album_gain: None,
    }
}

fn artwork_of(tag: &Tag) -> Option<ArtworkRef> {
    use lofty::picture::PictureType;
    let pictures = tag.pictures();
    let front = pictures
        .iter()
        .find(|p| p.pic_type() == PictureType::CoverFront)
        .or_else(|| pictures.first())?;
    artwork(
        front.data(),
        front.mime_type().map(|m| m.as_str().to_owned()),
    )
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use std::sync::atomic::Ordering;

    use lofty::config::WriteOptions;
    use tonearm_conformance::fixtures::FixtureSet;

    use super::super::{ReadLimits, TagRead, read};
    use super::*;
    use crate::testing::MemoryProvider;

    fn read_bytes(name: &str, bytes: Vec<u8>) -> (TagRead, u64) {
        let entry = RemoteEntry {
            id: name.into(),
            path: name.into(),
            size: bytes.len() as u64,
            modified_ms: None,
            content_hash: None,
            mime: None,
        };
        let provider = MemoryProvider::new(bytes);
        let no_decoders = crate::Registry::new(crate::EventBus::new(1));
        let read = read(
            provider.clone(),
            &entry,
            ReadLimits::default(),
            &no_decoders,
        );
        let served = provider.served.load(Ordering::Relaxed);
        (read, served)
    }

    #[test]
    fn r128_gains_are_read_from_vorbis_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gain.flac");
        let set = FixtureSet::bundled();
        std::fs::write(&path, &set.audio("01 chord.flac").unwrap().bytes).unwrap();
        let mut file = FlacFile::read_from(
            &mut std::fs::File::open(&path).unwrap(),
            ParseOptions::new(),
        )
        .unwrap();
        let comments = file.vorbis_comments_mut().unwrap();
        comments.push("R128_TRACK_GAIN".into(), "-512".into());
        comments.push("R128_ALBUM_GAIN".into(), "256".into());
        file.save_to_path(&path, WriteOptions::default()).unwrap();

        let (read, _) = read_bytes("gain.flac", std::fs::read(&path).unwrap());
        let track = read.result.unwrap();
        assert_eq!(track.gain.r128_track_gain, Some(-512));
        assert_eq!(track.gain.r128_album_gain, Some(256));
        assert_eq!(
            track.gain.track_gain,
            Some(-6.5),
            "ReplayGain is still read"
        );
        assert_eq!(track.tags.artists, ["Ånström Quartet", "Zoë Keating"]);
    }

    #[test]
    fn a_large_file_is_read_at_its_head_and_tail_only() {
        let set = FixtureSet::bundled();
        let mut bytes = set.audio("02 pluck.mp3").unwrap().bytes.to_vec();
        bytes.resize(20 * 1024 * 1024, 0);
        let (read, served) = read_bytes("big.mp3", bytes);
        let track = read.result.unwrap();
        assert_eq!(track.tags.title.as_deref(), Some("Pluck “quoted” #2"));
        assert_eq!(read.bytes_read, served);
        assert!(served <= 256 * 1024, "read {served} bytes of a 20 MiB file");
    }

    #[test]
    fn unreadable_files_say_why() {
        let (read, _) = read_bytes("x.flac", b"not a flac file at all, just text".to_vec());
        assert!(read.result.unwrap_err().contains("cannot parse"));
        let (read, _) = read_bytes("empty.mp3", Vec::new());
        assert_eq!(read.result.unwrap_err(), "the file is empty");
        let (read, _) = read_bytes("data.bin", vec![7; 1000]);
        assert!(read.result.is_err());
    }

    #[test]
    fn untagged_files_are_titled_after_their_name() {
        let set = FixtureSet::bundled();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bare.flac");
        std::fs::write(&path, &set.audio("01 chord.flac").unwrap().bytes).unwrap();
        let mut file = FlacFile::read_from(
            &mut std::fs::File::open(&path).unwrap(),
            ParseOptions::new(),
        )
        .unwrap();
        file.remove_vorbis_comments();
        file.save_to_path(&path, WriteOptions::default()).unwrap();
        let (read, _) = read_bytes("Some Folder/My Song.flac", std::fs::read(&path).unwrap());
        assert_eq!(read.result.unwrap().tags.title.as_deref(), Some("My Song"));
    }
}

/// Refuses an Opus identification header that declares no channel: lofty 0.25 panics on
/// one (`ChannelMask::from_opus_channels(0)` is `None`, and it `expect`s), found by the
/// `tags` fuzz target. The header is the first packet of the first Ogg page.
fn opus_channels_present(reader: &mut ByteSourceReader) -> Result<(), String> {
    use std::io::Read as _;

    let mut head = [0u8; 27 + 255 + 10];
    let mut filled = 0;
    while filled < head.len() {
        match reader.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) => return Err(e.to_string()),
        }
    }
    reader.rewind().map_err(|e| e.to_string())?;
    let head = &head[..filled];
    let segments = head.get(26).copied().map(usize::from);
    let packet = segments.and_then(|n| head.get(27 + n..));
    match packet {
        Some(p) if p.starts_with(b"OpusHead") && p.get(9) == Some(&0) => {
            Err("the Opus header declares no audio channel".into())
        }
        // Anything else is lofty's to judge.
        _ => Ok(()),
    }
}
