//! Cheap format recognition from the first bytes of a file, for the host's decoder choice.

use tonearm_plugin_api::ProbeHint;

/// One container format this build can decode.
pub(crate) struct FormatInfo {
    pub(crate) extensions: &'static [&'static str],
    pub(crate) mime_types: &'static [&'static str],
    pub(crate) magic: &'static [(u32, &'static [u8])],
    /// What the file head says about this format.
    pub(crate) sniff: fn(&[u8]) -> Sniff,
}

/// What a file head says about one format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sniff {
    /// It is this format; how sure, 1–100.
    Mine(u8),
    /// It is not recognisable as this format.
    Unknown,
    /// It is this container holding a codec this build cannot decode (Ogg Opus, say):
    /// no file name may talk us into trying it.
    Foreign,
}

fn mine_if(yes: bool, score: u8) -> Sniff {
    if yes {
        Sniff::Mine(score)
    } else {
        Sniff::Unknown
    }
}

#[cfg(feature = "mp3")]
const MP3: FormatInfo = FormatInfo {
    extensions: &["mp3", "mp2", "mpga"],
    mime_types: &["audio/mpeg", "audio/mp3"],
    magic: &[(0, b"ID3")],
    sniff: sniff_mp3,
};

#[cfg(feature = "flac")]
const FLAC: FormatInfo = FormatInfo {
    extensions: &["flac"],
    mime_types: &["audio/flac", "audio/x-flac"],
    magic: &[(0, b"fLaC")],
    sniff: |head| mine_if(head.starts_with(b"fLaC"), 100),
};

#[cfg(feature = "vorbis")]
const OGG_VORBIS: FormatInfo = FormatInfo {
    extensions: &["ogg", "oga"],
    mime_types: &["audio/ogg", "audio/vorbis"],
    magic: &[(0, b"OggS")],
    sniff: sniff_ogg,
};

#[cfg(any(feature = "aac", feature = "alac"))]
const MP4: FormatInfo = FormatInfo {
    extensions: &["m4a", "m4b", "mp4", "aac"],
    mime_types: &["audio/mp4", "audio/x-m4a", "audio/aac"],
    magic: &[(4, b"ftyp")],
    sniff: sniff_mp4,
};

#[cfg(feature = "wav")]
const WAV: FormatInfo = FormatInfo {
    extensions: &["wav", "wave"],
    mime_types: &["audio/wav", "audio/x-wav", "audio/wave"],
    magic: &[(0, b"RIFF")],
    sniff: |head| {
        mine_if(
            head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WAVE"),
            100,
        )
    },
};

#[cfg(feature = "aiff")]
const AIFF: FormatInfo = FormatInfo {
    extensions: &["aiff", "aif", "aifc"],
    mime_types: &["audio/aiff", "audio/x-aiff"],
    magic: &[(0, b"FORM")],
    sniff: |head| {
        mine_if(
            head.get(0..4) == Some(b"FORM") && matches!(head.get(8..12), Some(b"AIFF" | b"AIFC")),
            100,
        )
    },
};

/// The formats compiled into this build.
pub(crate) fn enabled_formats() -> Vec<&'static FormatInfo> {
    [
        #[cfg(feature = "mp3")]
        &MP3,
        #[cfg(feature = "flac")]
        &FLAC,
        #[cfg(feature = "vorbis")]
        &OGG_VORBIS,
        #[cfg(any(feature = "aac", feature = "alac"))]
        &MP4,
        #[cfg(feature = "wav")]
        &WAV,
        #[cfg(feature = "aiff")]
        &AIFF,
    ]
    .into_iter()
    .collect()
}

/// How sure we are that Symphonia can decode a file starting with `head`.
///
/// Content beats the name: a recognised signature scores high whatever the extension says,
/// and an extension alone only scores enough to be tried when nothing better claims it.
pub(crate) fn score(head: &[u8], hint: &ProbeHint) -> u8 {
    let formats = enabled_formats();
    let sniffs: Vec<Sniff> = formats.iter().map(|f| (f.sniff)(head)).collect();
    let by_content = sniffs.iter().filter_map(|s| match s {
        Sniff::Mine(score) => Some(*score),
        _ => None,
    });
    if let Some(best) = by_content.max() {
        return best;
    }
    if sniffs.contains(&Sniff::Foreign) {
        return 0;
    }
    let claimed = |f: &&&FormatInfo| {
        hint.extension
            .as_deref()
            .is_some_and(|e| f.extensions.iter().any(|x| x.eq_ignore_ascii_case(e)))
            || hint
                .mime
                .as_deref()
                .is_some_and(|m| f.mime_types.iter().any(|x| x.eq_ignore_ascii_case(m)))
    };
    // A name we claim but bytes we do not recognise: worth a try only if the head is not
    // obviously something else (an empty or all-zero head is not audio at all).
    if formats.iter().any(|f| claimed(&f)) && head.iter().any(|&b| b != 0) {
        20
    } else {
        0
    }
}

#[cfg(feature = "mp3")]
fn sniff_mp3(head: &[u8]) -> Sniff {
    if head.starts_with(b"ID3") {
        // ID3v2 fronts almost every MP3 but can front other streams too.
        return Sniff::Mine(80);
    }
    mine_if(is_mpeg_audio_frame(head), 60)
}

/// Whether `head` starts with a plausible MPEG audio frame header (not ADTS AAC).
#[cfg(feature = "mp3")]
fn is_mpeg_audio_frame(head: &[u8]) -> bool {
    let [b0, b1, b2, ..] = *head else {
        return false;
    };
    let sync = b0 == 0xFF && b1 & 0xE0 == 0xE0;
    let version_ok = (b1 >> 3) & 0b11 != 0b01;
    let layer_ok = (b1 >> 1) & 0b11 != 0b00;
    let bitrate_ok = b2 >> 4 != 0b1111;
    let rate_ok = (b2 >> 2) & 0b11 != 0b11;
    sync && version_ok && layer_ok && bitrate_ok && rate_ok
}

#[cfg(feature = "vorbis")]
fn sniff_ogg(head: &[u8]) -> Sniff {
    if !head.starts_with(b"OggS") {
        return Sniff::Unknown;
    }
    // The first page's first packet names the codec; it starts after the segment table.
    let Some(&segments) = head.get(26) else {
        return Sniff::Mine(10);
    };
    let packet = head.get(27 + segments as usize..).unwrap_or(&[]);
    if packet.starts_with(b"\x01vorbis") {
        Sniff::Mine(100)
    } else if packet.starts_with(b"\x7fFLAC") && cfg!(feature = "flac") {
        Sniff::Mine(90)
    } else if packet.is_empty() {
        // Too little head to tell; Ogg is usually Vorbis.
        Sniff::Mine(30)
    } else {
        // Opus, Speex, Theora…: not ours.
        Sniff::Foreign
    }
}

#[cfg(any(feature = "aac", feature = "alac"))]
fn sniff_mp4(head: &[u8]) -> Sniff {
    if head.get(4..8) == Some(b"ftyp") {
        return match head.get(8..12) {
            Some(b"M4A " | b"M4B " | b"M4P ") => Sniff::Mine(95),
            // Generic brands may hold video only; the container check happens at open.
            _ => Sniff::Mine(70),
        };
    }
    // Raw ADTS AAC: 12-bit sync, layer 0.
    let adts = head.len() >= 2 && head[0] == 0xFF && head[1] & 0xF6 == 0xF0;
    mine_if(cfg!(feature = "aac") && adts, 70)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(ext: &str) -> ProbeHint {
        ProbeHint {
            extension: Some(ext.into()),
            mime: None,
        }
    }

    #[test]
    fn signatures_beat_extensions() {
        assert_eq!(score(b"fLaC\0\0\0\x22", &hint("mp3")), 100);
        assert_eq!(score(b"RIFF\0\0\0\0WAVEfmt ", &ProbeHint::default()), 100);
        assert_eq!(score(b"FORM\0\0\0\0AIFFCOMM", &ProbeHint::default()), 100);
    }

    #[test]
    fn garbage_and_empty_score_zero_without_a_name() {
        assert_eq!(score(b"", &ProbeHint::default()), 0);
        assert_eq!(score(b"hello, world", &ProbeHint::default()), 0);
        assert_eq!(score(&[0u8; 64], &hint("flac")), 0);
    }

    #[test]
    fn ogg_opus_is_not_claimed() {
        let mut page = b"OggS\0\x02\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\x13".to_vec();
        page.extend_from_slice(b"OpusHead\x01\x02");
        assert_eq!(score(&page, &hint("ogg")), 0);
        let mut vorbis = page[..28].to_vec();
        vorbis.extend_from_slice(b"\x01vorbis");
        assert_eq!(score(&vorbis, &hint("ogg")), 100);
    }

    #[test]
    fn mpeg_frame_sync_is_recognised() {
        // MPEG-1 Layer III, 128 kbit/s, 44.1 kHz.
        assert_eq!(score(&[0xFF, 0xFB, 0x90, 0x64], &ProbeHint::default()), 60);
        // Reserved bitrate index.
        assert_eq!(score(&[0xFF, 0xFB, 0xF0, 0x64], &ProbeHint::default()), 0);
    }
}
