//! Tags and audio properties through Symphonia's demuxers and metadata readers (ID3v2,
//! ID3v1, APE, Vorbis comments, MP4 atoms, RIFF INFO): the browser's reader, for the
//! formats the build's Symphonia features enable.

use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;

use symphonia::core::codecs::audio::well_known::CODEC_ID_OPUS;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::{
    MetadataContainer, MetadataOptions, RawValue, StandardTag, StandardVisualKey, Tag,
};
use tonearm_plugin_api::{ByteSource, ByteSourceReader, RemoteEntry, TrackTags};

use super::Unread;
use super::fields::{artwork, gain_number, merge, merge_gain, number_pair, split_list};
use crate::library::{ArtworkRef, AudioProperties, ReplayGain, ScannedTrack};

/// A byte source as Symphonia reads media.
struct Source(ByteSourceReader);

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Seek for Source {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.0.seek(to)
    }
}

impl MediaSource for Source {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.0.len())
    }
}

pub(super) fn parse(
    source: Arc<dyn ByteSource>,
    entry: &RemoteEntry,
) -> Result<ScannedTrack, Unread> {
    let len = source.len().map_err(|e| Unread::Damaged(e.to_string()))?;
    let reader = ByteSourceReader::new(source).map_err(|e| Unread::Damaged(e.to_string()))?;
    let stream = MediaSourceStream::new(
        Box::new(Source(reader)),
        MediaSourceStreamOptions::default(),
    );
    let mut hint = Hint::new();
    if let Some(extension) = entry.extension() {
        hint.with_extension(&extension);
    }
    if let Some(mime) = &entry.mime {
        hint.mime_type(mime);
    }
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            stream,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        // Symphonia does not tell an unknown format from a damaged one: a decoder that
        // claims the file may still read it.
        .map_err(|e| Unread::Unknown(format!("cannot read: {e}")))?;
    let mut track = ScannedTrack {
        audio: properties(format.as_ref(), len),
        ..ScannedTrack::default()
    };
    // Revisions in the order they were read: tags at the head (ID3v2) before those at the
    // tail (ID3v1, APE), the container's own in between. The first says, the rest fill gaps.
    let mut metadata = format.metadata();
    loop {
        if let Some(revision) = metadata.current() {
            for container in std::iter::once(&revision.media)
                .chain(revision.per_track.iter().map(|t| &t.metadata))
            {
                let (tags, gain) = tags_of(container);
                merge(&mut track.tags, tags);
                merge_gain(&mut track.gain, gain);
                if track.artwork.is_none() {
                    track.artwork = artwork_of(container);
                }
            }
        }
        if metadata.pop().is_none() {
            break;
        }
    }
    Ok(track)
}

fn properties(format: &dyn FormatReader, len: u64) -> AudioProperties {
    let track = format.default_track(TrackType::Audio);
    let params = track
        .and_then(|t| t.codec_params.as_ref())
        .and_then(|p| p.audio());
    let sample_rate = params.and_then(|p| p.sample_rate);
    let duration_ms = track.and_then(|t| {
        let frames = u128::from(t.num_frames?);
        let ms = match t.time_base {
            Some(base) => {
                frames * u128::from(base.numer.get()) * 1000 / u128::from(base.denom.get())
            }
            None => frames * 1000 / u128::from(sample_rate.filter(|r| *r > 0)?),
        };
        u64::try_from(ms).ok().filter(|&ms| ms > 0)
    });
    let short = format.format_info().short_name;
    let file_type = match short {
        "mp1" | "mp2" | "mp3" => "mpeg",
        "ogg" if params.is_some_and(|p| p.codec == CODEC_ID_OPUS) => "opus",
        "ogg" => "vorbis",
        "isomp4" => "mp4",
        "wave" => "wav",
        other => other,
    };
    AudioProperties {
        duration_ms,
        sample_rate,
        channels: params
            .and_then(|p| p.channels.as_ref())
            .and_then(|c| u8::try_from(c.count()).ok()),
        bit_depth: params
            .and_then(|p| p.bits_per_sample)
            .and_then(|b| u8::try_from(b).ok()),
        // The file's average rate: what a player shows, whatever the codec's framing.
        bitrate_kbps: duration_ms
            .and_then(|ms| u32::try_from(u128::from(len) * 8 / u128::from(ms)).ok()),
        file_type: Some(file_type.to_owned()),
    }
}

fn text(value: &str) -> Option<String> {
    Some(value.trim().to_owned()).filter(|v| !v.is_empty())
}

fn count(value: u64) -> Option<u32> {
    u32::try_from(value).ok().filter(|&n| n > 0)
}

/// The year a date such as `2019`, `2019-03-01` or `2019-03-01T10:00` starts with.
fn year_of(date: &str) -> Option<i32> {
    date.trim().get(..4)?.parse().ok()
}

/// The R128 gain of a raw Vorbis comment (`R128_TRACK_GAIN=-512`), in Q7.8 dB.
fn r128(tag: &Tag, key: &str) -> Option<i64> {
    if !tag.raw.key.eq_ignore_ascii_case(key) {
        return None;
    }
    match &tag.raw.value {
        RawValue::String(s) => s.trim().parse().ok(),
        RawValue::SignedInt(n) => Some(*n),
        _ => None,
    }
}

fn tags_of(container: &MetadataContainer) -> (TrackTags, ReplayGain) {
    let mut tags = TrackTags::default();
    let mut gain = ReplayGain::default();
    let (mut artists, mut album_artists, mut genres) = (Vec::new(), Vec::new(), Vec::new());
    for tag in &container.tags {
        gain.r128_track_gain = gain.r128_track_gain.or(r128(tag, "R128_TRACK_GAIN"));
        gain.r128_album_gain = gain.r128_album_gain.or(r128(tag, "R128_ALBUM_GAIN"));
        let Some(std) = &tag.std else { continue };
        match std {
            StandardTag::TrackTitle(v) => tags.title = tags.title.take().or_else(|| text(v)),
            StandardTag::Artist(v) => artists.push(v.to_string()),
            StandardTag::AlbumArtist(v) => album_artists.push(v.to_string()),
            StandardTag::Album(v) => tags.album = tags.album.take().or_else(|| text(v)),
            StandardTag::Genre(v) => genres.push(v.to_string()),
            StandardTag::TrackNumber(n) => tags.track_number = tags.track_number.or(count(*n)),
            StandardTag::TrackTotal(n) => tags.track_total = tags.track_total.or(count(*n)),
            StandardTag::DiscNumber(n) => tags.disc_number = tags.disc_number.or(count(*n)),
            StandardTag::DiscTotal(n) => tags.disc_total = tags.disc_total.or(count(*n)),
            StandardTag::ReleaseYear(y) | StandardTag::RecordingYear(y) => {
                tags.year = tags.year.or(Some(i32::from(*y)));
            }
            StandardTag::ReleaseDate(d) | StandardTag::RecordingDate(d) => {
                tags.year = tags.year.or_else(|| year_of(d));
            }
            StandardTag::MusicBrainzRecordingId(v) => {
                tags.musicbrainz_recording_id =
                    tags.musicbrainz_recording_id.take().or_else(|| text(v));
            }
            StandardTag::MusicBrainzAlbumId(v) => {
                tags.musicbrainz_release_id =
                    tags.musicbrainz_release_id.take().or_else(|| text(v));
            }
            StandardTag::IdentIsrc(v) => tags.isrc = tags.isrc.take().or_else(|| text(v)),
            StandardTag::ReplayGainTrackGain(v) => {
                gain.track_gain = gain.track_gain.or_else(|| gain_number(v))
            }
            StandardTag::ReplayGainTrackPeak(v) => {
                gain.track_peak = gain.track_peak.or_else(|| gain_number(v))
            }
            StandardTag::ReplayGainAlbumGain(v) => {
                gain.album_gain = gain.album_gain.or_else(|| gain_number(v))
            }
            StandardTag::ReplayGainAlbumPeak(v) => {
                gain.album_peak = gain.album_peak.or_else(|| gain_number(v))
            }
            _ => {}
        }
        // ID3v2 keeps `6/7` in one frame; some readers leave the total unparsed.
        if tags.track_total.is_none()
            && tag.raw.key.eq_ignore_ascii_case("TRCK")
            && let RawValue::String(s) = &tag.raw.value
        {
            tags.track_total = number_pair(s).1;
        }
    }
    tags.artists = split_list(artists.iter().map(String::as_str));
    tags.album_artists = split_list(album_artists.iter().map(String::as_str));
    tags.genres = split_list(genres.iter().map(String::as_str));
    (tags, gain)
}

fn artwork_of(container: &MetadataContainer) -> Option<ArtworkRef> {
    let visuals = &container.visuals;
    let front = visuals
        .iter()
        .find(|v| v.usage == Some(StandardVisualKey::FrontCover))
        .or_else(|| visuals.first())?;
    artwork(&front.data, front.media_type.clone())
}
