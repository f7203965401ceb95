//! Reads tags and audio properties with lofty from the bytes it actually touches: blocks
//! are fetched from the provider on demand, so a large file costs its head and tail.

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
use sha2::{Digest, Sha256};
use std::io::Seek;
use tonearm_plugin_api::{ByteSourceReader, PluginError, RemoteEntry, StorageProvider, TrackTags};

use crate::bytes::ProviderByteSource;
use crate::library::{ArtworkRef, AudioProperties, ReplayGain, ScannedTrack};

/// How tag reading fetches bytes.
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    /// Files up to this size are fetched whole, in one request.
    pub small_file: u64,
    /// The block size of on-demand reads of larger files.
    pub block: u64,
    /// Bytes fetched per file at most before giving up on it.
    pub max_bytes: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        Self {
            small_file: 128 * 1024,
            block: 64 * 1024,
            max_bytes: 32 * 1024 * 1024,
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

/// Reads the tags of `entry` through `provider`.
pub fn read(
    provider: Arc<dyn StorageProvider>,
    entry: &RemoteEntry,
    limits: ReadLimits,
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
    let result = parse(source.clone(), entry);
    TagRead {
        provider_error: result.as_ref().err().and(source.provider_failure()),
        result,
        bytes_read: source.bytes_fetched(),
    }
}

fn parse(source: Arc<ProviderByteSource>, entry: &RemoteEntry) -> Result<ScannedTrack, String> {
    if entry.size == 0 {
        return Err("the file is empty".into());
    }
    let reader = ByteSourceReader::new(source).map_err(|e| e.to_string())?;
    let options = ParseOptions::new()
        .read_properties(true)
        .parsing_mode(ParsingMode::BestAttempt);
    let mut probe = Probe::new(reader)
        .options(options)
        .guess_file_type()
        .map_err(|e| format!("cannot read: {e}"))?;
    if probe.file_type().is_none() {
        // Content did not say; trust the extension as a last resort.
        if let Some(file_type) = entry.extension().and_then(FileType::from_ext) {
            probe = probe.set_file_type(file_type);
        }
    }
    let file_type = probe.file_type().ok_or("not a recognised audio format")?;
    let (tagged, r128) = read_tagged(probe, file_type, options)
        .map_err(|e| format!("cannot parse {file_type:?} file: {e}"))?;
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
    // Untagged files still deserve a title people recognise.
    if track.tags.title.is_none() {
        let name = entry.path.rsplit('/').next().unwrap_or(&entry.path);
        let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
        track.tags.title = Some(stem.to_owned());
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

/// Every value of a multi-valued field, split on the separators taggers use for lists
/// (`;` and NUL; never `/` or `&`, which appear inside names such as AC/DC).
fn list(tag: &Tag, key: ItemKey) -> Vec<String> {
    let mut values: Vec<String> = Vec::new();
    for value in tag.get_strings(key) {
        for part in value
            .split(['\0', ';'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            if !values.iter().any(|v| v == part) {
                values.push(part.to_owned());
            }
        }
    }
    values
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

/// Parses a `6` or `6/7` field that lofty's accessors left unparsed (RIFF INFO, for one).
fn pair(tag: &Tag, key: ItemKey) -> (Option<u32>, Option<u32>) {
    let Some(value) = tag.get_string(key) else {
        return (None, None);
    };
    let mut parts = value.splitn(2, '/').map(|p| p.trim().parse::<u32>().ok());
    (parts.next().flatten(), parts.next().flatten())
}

/// Fills the fields `into` lacks from `from`.
fn merge(into: &mut TrackTags, from: TrackTags) {
    fn fill<T>(a: &mut Option<T>, b: Option<T>) {
        if a.is_none() {
            *a = b;
        }
    }
    fn fill_list(a: &mut Vec<String>, b: Vec<String>) {
        if a.is_empty() {
            *a = b;
        }
    }
    fill(&mut into.title, from.title);
    fill_list(&mut into.artists, from.artists);
    fill(&mut into.album, from.album);
    fill_list(&mut into.album_artists, from.album_artists);
    fill_list(&mut into.genres, from.genres);
    fill(&mut into.track_number, from.track_number);
    fill(&mut into.track_total, from.track_total);
    fill(&mut into.disc_number, from.disc_number);
    fill(&mut into.disc_total, from.disc_total);
    fill(&mut into.year, from.year);
    fill(
        &mut into.musicbrainz_recording_id,
        from.musicbrainz_recording_id,
    );
    fill(
        &mut into.musicbrainz_release_id,
        from.musicbrainz_release_id,
    );
    fill(&mut into.isrc, from.isrc);
}

fn merge_gain(into: &mut ReplayGain, from: ReplayGain) {
    into.track_gain = into.track_gain.or(from.track_gain);
    into.track_peak = into.track_peak.or(from.track_peak);
    into.album_gain = into.album_gain.or(from.album_gain);
    into.album_peak = into.album_peak.or(from.album_peak);
    into.r128_track_gain = into.r128_track_gain.or(from.r128_track_gain);
    into.r128_album_gain = into.r128_album_gain.or(from.r128_album_gain);
}

/// Parses `-6.5 dB`, `+1.20 dB` or `0.98`.
fn number(tag: &Tag, key: ItemKey) -> Option<f64> {
    let value = tag.get_string(key)?.trim();
    let value = value
        .strip_suffix("dB")
        .or_else(|| value.strip_suffix("db"))
        .unwrap_or(value);
    value
        .trim()
        .trim_start_matches('+')
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
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
    let data = front.data();
    if data.is_empty() {
        return None;
    }
    let digest = Sha256::digest(data);
    let sha256 = digest.iter().map(|b| format!("{b:02x}")).collect();
    Some(ArtworkRef {
        sha256,
        mime: front.mime_type().map(|m| m.as_str().to_owned()),
        byte_len: data.len() as u64,
    })
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use std::sync::atomic::Ordering;

    use lofty::config::WriteOptions;
    use tonearm_conformance::fixtures::FixtureSet;

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
        let read = read(provider.clone(), &entry, ReadLimits::default());
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
