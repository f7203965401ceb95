//! Encoder delay and padding of MP4 audio, which Symphonia's MP4 reader (0.6) does not
//! trim: AAC's priming frames and the last packet's padding would otherwise play as a gap
//! between two tracks.
//!
//! The edit list (`elst`) says where the presentation starts in the media (`media_time`:
//! the priming, 1,024 or 2,112 frames for AAC) and how long it lasts. FFmpeg writes the
//! length in the movie's timescale, often milliseconds, so where the media's own duration
//! (`mdhd`, in frames) agrees to within that rounding, it gives the exact length. Files
//! from iTunes may instead carry `iTunSMPB`, read when there is no edit list.

use tonearm_plugin_api::ByteSource;

/// Frames to drop at the start and, if known, how many to play after them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Trim {
    /// Leading frames inserted by the encoder.
    pub(crate) delay: u64,
    /// Frames of audio after the delay, if the file says.
    pub(crate) length: Option<u64>,
}

/// The largest `moov` box read: sample tables of a long file run to megabytes.
const MAX_MOOV: u64 = 64 << 20;

/// The trim of the first audio track of the MP4 file in `source`, if it states one, in
/// frames of the decoded stream (`sample_rate`): the file counts in its track's timescale,
/// which for HE-AAC is half the decoded rate, and may be anything (90 kHz) elsewhere.
pub(crate) fn trim(source: &dyn ByteSource, sample_rate: u32) -> Option<Trim> {
    let units = trim_in_units(source)?;
    let frames = |n: u64| match units.timescale {
        Some(timescale) => {
            u64::try_from(u128::from(n) * u128::from(sample_rate) / u128::from(timescale.max(1)))
                .ok()
        }
        None => Some(n),
    };
    let trim = Trim {
        delay: frames(units.delay)?,
        length: units.length.and_then(frames),
    };
    // Encoders prime with a few thousand frames at most: anything past ten seconds is
    // not a delay but a damaged or hostile file, and trimming by it would lose audio.
    (trim.delay <= u64::from(sample_rate) * 10).then_some(trim)
}

/// A trim in the track's own timescale.
struct Units {
    /// Units per second; `None` when they are frames of the decoded stream already.
    timescale: Option<u64>,
    delay: u64,
    length: Option<u64>,
}

fn trim_in_units(source: &dyn ByteSource) -> Option<Units> {
    let len = source.len().ok()?;
    let (moov_at, moov_len) = find_top_level(source, len, b"moov")?;
    if moov_len > MAX_MOOV {
        return None;
    }
    let mut moov = vec![0; usize::try_from(moov_len).ok()?];
    read_exact(source, moov_at, &mut moov)?;
    let movie_timescale = child(&moov, b"mvhd").and_then(timescale_and_duration)?.0;
    let track = children(&moov)
        .filter(|(kind, _)| kind == b"trak")
        .map(|(_, body)| body)
        .find(|trak| {
            path(trak, &[b"mdia", b"hdlr"]).is_some_and(|hdlr| hdlr.get(8..12) == Some(b"soun"))
        })?;
    let (media_timescale, media_duration) =
        path(track, &[b"mdia", b"mdhd"]).and_then(timescale_and_duration)?;
    match path(track, &[b"edts", b"elst"]).and_then(first_edit) {
        Some((segment, media_time)) => {
            let delay = media_time;
            let exact = media_duration.checked_sub(delay);
            let rounded = (movie_timescale > 0).then(|| {
                u128::from(segment) * u128::from(media_timescale) / u128::from(movie_timescale)
            });
            let slack = u128::from(media_timescale / movie_timescale.max(1) + 1);
            let length = match (exact, rounded) {
                (Some(exact), Some(rounded)) if u128::from(exact).abs_diff(rounded) <= slack => {
                    Some(exact)
                }
                (_, Some(rounded)) if segment > 0 => u64::try_from(rounded).ok(),
                (exact, _) => exact,
            };
            Some(Units {
                timescale: Some(media_timescale),
                delay,
                length,
            })
        }
        // iTunSMPB counts in frames of the decoded stream: a timescale equal to its rate.
        None => itunsmpb(&moov).map(|t| Units {
            timescale: None,
            delay: t.delay,
            length: t.length,
        }),
    }
}

/// Offset and length of the body of the first top-level box of `kind`.
fn find_top_level(source: &dyn ByteSource, len: u64, kind: &[u8; 4]) -> Option<(u64, u64)> {
    let mut at = 0u64;
    while at + 8 <= len {
        let mut header = [0u8; 16];
        let n = read_exact_upto(source, at, &mut header)?;
        if n < 8 {
            return None;
        }
        let size32 = u32::from_be_bytes(header[0..4].try_into().ok()?);
        let (size, header_len) = match size32 {
            0 => (len - at, 8),
            1 if n >= 16 => (u64::from_be_bytes(header[8..16].try_into().ok()?), 16),
            1 => return None,
            s => (u64::from(s), 8),
        };
        if size < header_len {
            return None;
        }
        if &header[4..8] == kind {
            return Some((at + header_len, size - header_len));
        }
        at = at.checked_add(size)?;
    }
    None
}

fn read_exact(source: &dyn ByteSource, at: u64, buf: &mut [u8]) -> Option<()> {
    (read_exact_upto(source, at, buf)? == buf.len()).then_some(())
}

/// Reads up to `buf.len()` bytes at `at` (fewer at the end); `None` if reading failed.
fn read_exact_upto(source: &dyn ByteSource, at: u64, buf: &mut [u8]) -> Option<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = source
            .read_at(at + filled as u64, &mut buf[filled..])
            .ok()?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Some(filled)
}

/// The boxes in `body`, as (kind, body).
fn children(body: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let header = body.get(at..at + 8)?;
        let size = u32::from_be_bytes(header[0..4].try_into().ok()?) as usize;
        let kind: [u8; 4] = header[4..8].try_into().ok()?;
        let (start, end) = match size {
            0 => (at + 8, body.len()),
            1 => {
                let large = body.get(at + 8..at + 16)?;
                let size = usize::try_from(u64::from_be_bytes(large.try_into().ok()?)).ok()?;
                (at + 16, at.checked_add(size)?)
            }
            s if s >= 8 => (at + 8, at.checked_add(s)?),
            _ => return None,
        };
        let inner = body.get(start..end)?;
        at = end;
        Some((kind, inner))
    })
}

fn child<'a>(body: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    children(body).find(|(k, _)| k == kind).map(|(_, b)| b)
}

fn path<'a>(body: &'a [u8], kinds: &[&[u8; 4]]) -> Option<&'a [u8]> {
    kinds.iter().try_fold(body, |body, kind| child(body, kind))
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn be_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

/// The timescale and duration of an `mvhd` or `mdhd` body.
fn timescale_and_duration(body: &[u8]) -> Option<(u64, u64)> {
    match body.first()? {
        0 => Some((u64::from(be_u32(body, 12)?), u64::from(be_u32(body, 16)?))),
        1 => Some((u64::from(be_u32(body, 20)?), be_u64(body, 24)?)),
        _ => None,
    }
}

/// The first edit that plays media: (segment duration, media time).
fn first_edit(elst: &[u8]) -> Option<(u64, u64)> {
    let version = *elst.first()?;
    let count = be_u32(elst, 4)? as usize;
    let entry_len = if version == 1 { 20 } else { 12 };
    (0..count.min(elst.len() / entry_len)).find_map(|i| {
        let at = 8 + i * entry_len;
        let (segment, media_time) = if version == 1 {
            (be_u64(elst, at)?, be_u64(elst, at + 8)? as i64)
        } else {
            (
                u64::from(be_u32(elst, at)?),
                i64::from(be_u32(elst, at + 4)? as i32),
            )
        };
        // -1 is an empty edit (a pause before the media starts).
        u64::try_from(media_time).ok().map(|m| (segment, m))
    })
}

/// iTunes' gapless comment: `moov/udta/meta/ilst/----` named `iTunSMPB`, whose hex words
/// after the first are the delay, the padding and the length.
fn itunsmpb(moov: &[u8]) -> Option<Trim> {
    let meta = path(moov, &[b"udta", b"meta"])?;
    // `meta` is a full box: version and flags before its children.
    let ilst = child(meta.get(4..)?, b"ilst")?;
    children(ilst)
        .filter(|(kind, _)| kind == b"----")
        .find_map(|(_, item)| {
            let name = child(item, b"name")?;
            if name.get(4..)? != b"iTunSMPB" {
                return None;
            }
            let data = child(item, b"data")?;
            let text = std::str::from_utf8(data.get(8..)?).ok()?;
            let words: Vec<u64> = text
                .split_whitespace()
                .filter_map(|w| u64::from_str_radix(w, 16).ok())
                .collect();
            let (delay, length) = (*words.get(1)?, words.get(3).copied());
            Some(Trim {
                delay,
                length: length.filter(|&l| l > 0),
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonearm_plugin_api::MemoryByteSource;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    fn header(version_0_timescale: u32, duration: u32) -> Vec<u8> {
        let mut body = vec![0u8; 12];
        body.extend_from_slice(&version_0_timescale.to_be_bytes());
        body.extend_from_slice(&duration.to_be_bytes());
        body.extend_from_slice(&[0; 8]);
        body
    }

    fn file(elst: Option<(u32, i32)>, smpb: Option<&str>) -> Vec<u8> {
        let mut hdlr = vec![0u8; 8];
        hdlr.extend_from_slice(b"soun");
        hdlr.extend_from_slice(&[0; 12]);
        let mdia = [
            boxed(b"mdhd", &header(44_100, 71_025)),
            boxed(b"hdlr", &hdlr),
        ]
        .concat();
        let mut trak = Vec::new();
        if let Some((segment, media_time)) = elst {
            let mut e = vec![0, 0, 0, 0, 0, 0, 0, 1];
            e.extend_from_slice(&segment.to_be_bytes());
            e.extend_from_slice(&media_time.to_be_bytes());
            e.extend_from_slice(&0x10000u32.to_be_bytes());
            trak.extend(boxed(b"edts", &boxed(b"elst", &e)));
        }
        trak.extend(boxed(b"mdia", &mdia));
        let mut moov = boxed(b"mvhd", &header(1_000, 1_588));
        moov.extend(boxed(b"trak", &trak));
        if let Some(text) = smpb {
            let mut name = vec![0u8; 4];
            name.extend_from_slice(b"iTunSMPB");
            let mut data = vec![0, 0, 0, 1, 0, 0, 0, 0];
            data.extend_from_slice(text.as_bytes());
            let item = [boxed(b"name", &name), boxed(b"data", &data)].concat();
            let ilst = boxed(b"ilst", &boxed(b"----", &item));
            let meta = [vec![0u8; 4], ilst].concat();
            moov.extend(boxed(b"udta", &boxed(b"meta", &meta)));
        }
        // The index after the media, as FFmpeg writes by default.
        [
            boxed(b"ftyp", b"M4A \0\0\0\0"),
            boxed(b"mdat", &[0; 100]),
            boxed(b"moov", &moov),
        ]
        .concat()
    }

    fn trim_of(bytes: Vec<u8>) -> Option<Trim> {
        trim(&MemoryByteSource::new(bytes), 44_100)
    }

    #[test]
    fn the_edit_list_gives_the_delay_and_the_media_duration_the_exact_length() {
        // 1,587 ms rounds 70,001 frames; the media's 71,025 frames minus 1,024 is exact.
        assert_eq!(
            trim_of(file(Some((1_587, 1_024)), None)),
            Some(Trim {
                delay: 1_024,
                length: Some(70_001)
            })
        );
    }

    #[test]
    fn an_edit_far_from_the_media_duration_is_taken_as_it_says() {
        assert_eq!(
            trim_of(file(Some((1_000, 1_024)), None)),
            Some(Trim {
                delay: 1_024,
                length: Some(44_100)
            })
        );
    }

    #[test]
    fn itunsmpb_is_read_when_there_is_no_edit_list() {
        let text = " 00000000 00000840 000001CA 0000000000011171 00000000";
        assert_eq!(
            trim_of(file(None, Some(text))),
            Some(Trim {
                delay: 0x840,
                length: Some(0x11171)
            })
        );
    }

    #[test]
    fn a_trim_is_brought_to_the_decoded_rate_and_an_absurd_one_is_refused() {
        // Counted at 44.1 kHz, decoded at 88.2 kHz (as HE-AAC doubles its core rate).
        let doubled = trim(
            &MemoryByteSource::new(file(Some((1_587, 1_024)), None)),
            88_200,
        );
        assert_eq!(
            doubled,
            Some(Trim {
                delay: 2_048,
                length: Some(140_002)
            })
        );
        let text = " 00000000 FFFFFFFFFFFFFFFF 00000000 FFFFFFFFFFFFFFFF";
        assert_eq!(trim_of(file(None, Some(text))), None);
    }

    #[test]
    fn garbage_and_files_without_either_say_nothing() {
        assert_eq!(trim_of(file(None, None)), None);
        assert_eq!(trim_of(b"not an mp4 at all".to_vec()), None);
        assert_eq!(trim_of(vec![0, 0, 0, 1, b'm', b'o', b'o', b'v']), None);
    }
}
