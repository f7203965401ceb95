//! Audio fixtures with what a correct decoder must produce from them: the bundled set
//! (made by `fixtures/make-fixtures.sh`) or a folder of your own with a `fixtures.json`.

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

/// Tags a fixture carries, for checking tag readers.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ExpectedTags {
    /// Title.
    pub title: Option<String>,
    /// Artists in order.
    #[serde(default)]
    pub artists: Vec<String>,
    /// Album.
    pub album: Option<String>,
    /// Album artists.
    #[serde(default)]
    pub album_artists: Vec<String>,
    /// Track number.
    pub track: Option<u32>,
    /// Tracks on the disc.
    pub track_total: Option<u32>,
    /// Disc number.
    pub disc: Option<u32>,
    /// Discs.
    pub disc_total: Option<u32>,
    /// Year.
    pub year: Option<i32>,
    /// Whether a cover image is embedded.
    #[serde(default)]
    pub cover: bool,
    /// ReplayGain track gain in dB.
    pub replaygain_track_gain: Option<f64>,
}

/// One playable fixture and its expected decode.
#[derive(Debug, Clone, Deserialize)]
pub struct AudioFixture {
    /// File name.
    pub file: String,
    /// Frames per second.
    pub sample_rate: u32,
    /// Channels.
    pub channels: u16,
    /// Frames of the encoded signal.
    pub frames: u64,
    /// Codec delay or padding a decoder may leave in, in frames.
    pub frame_tolerance: u64,
    /// How far from the requested frame a seek may land.
    pub seek_tolerance: u64,
    /// Whether decoding is exact (so seeks can be compared sample by sample).
    pub lossless: bool,
    /// Tags it carries.
    #[serde(default)]
    pub tags: ExpectedTags,
    /// What a correct decode of it is.
    #[serde(default)]
    pub reference: Option<Reference>,
    /// Its bytes.
    #[serde(skip)]
    pub bytes: Arc<[u8]>,
}

/// What a correct decode of a fixture is: a checksum of the exact samples (lossless
/// formats), or a reference decode that a lossy decode must match to within an SNR floor.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Reference {
    /// SHA-256, in hex, of the whole decode as signed 16-bit little-endian interleaved
    /// samples (each sample × 32768, rounded): what any exact decoder of a 16-bit source
    /// produces.
    pub sha256_s16le: Option<String>,
    /// A reference decode (raw signed 16-bit little-endian interleaved samples, in
    /// `reference/`), of the whole file or of its start.
    pub file: Option<String>,
    /// The least signal-to-noise ratio, in dB, of a decode against `file`, over the frames
    /// `file` covers, once aligned within the fixture's `frame_tolerance`.
    pub min_snr_db: Option<f64>,
    /// The samples of `file`.
    #[serde(skip)]
    pub samples: Arc<[i16]>,
}

/// Samples of a raw signed 16-bit little-endian file.
fn s16le(bytes: &[u8]) -> Arc<[i16]> {
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

impl AudioFixture {
    /// The lower-case extension of the file name.
    pub fn extension(&self) -> String {
        self.file
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default()
    }
}

/// How an input is damaged, and so what a decoder must do with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Damage {
    /// Cut short: the decode must end in an error or be shorter than the intact file.
    Truncated,
    /// Overwritten in places: the decode must end, with or without an error.
    Damaged,
    /// Not audio at all: opening must fail or decode nothing.
    NotAudio,
}

/// A damaged input; `of` names the intact fixture it was cut from, if any.
#[derive(Debug, Clone, Deserialize)]
pub struct CorruptFixture {
    /// File name.
    pub file: String,
    /// How it is damaged.
    pub kind: Damage,
    /// The intact fixture it was made from.
    pub of: Option<String>,
    /// Its bytes.
    #[serde(skip)]
    pub bytes: Arc<[u8]>,
}

impl CorruptFixture {
    /// The lower-case extension of the file name.
    pub fn extension(&self) -> String {
        self.file
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default()
    }
}

/// A set of fixtures.
#[derive(Debug, Clone, Deserialize)]
pub struct FixtureSet {
    /// Playable fixtures.
    pub audio: Vec<AudioFixture>,
    /// Damaged inputs.
    pub corrupt: Vec<CorruptFixture>,
}

impl FixtureSet {
    /// Reads `fixtures.json` and the files it names from `dir` (playable files in
    /// `dir/audio`, damaged ones in `dir/corrupt`).
    pub fn load(dir: &Path) -> Result<Self, String> {
        let manifest = std::fs::read_to_string(dir.join("fixtures.json"))
            .map_err(|e| format!("{}: {e}", dir.join("fixtures.json").display()))?;
        let mut set: FixtureSet =
            serde_json::from_str(&manifest).map_err(|e| format!("fixtures.json: {e}"))?;
        let read = |sub: &str, file: &str| -> Result<Arc<[u8]>, String> {
            let path = dir.join(sub).join(file);
            std::fs::read(&path)
                .map(Arc::from)
                .map_err(|e| format!("{}: {e}", path.display()))
        };
        for f in &mut set.audio {
            f.bytes = read("audio", &f.file)?;
            if let Some(reference) = &mut f.reference
                && let Some(file) = &reference.file
            {
                reference.samples = s16le(&read("reference", file)?);
            }
        }
        for f in &mut set.corrupt {
            f.bytes = read("corrupt", &f.file)?;
        }
        Ok(set)
    }

    /// The fixtures bundled with this crate.
    pub fn bundled() -> Self {
        let mut set: FixtureSet = match serde_json::from_str(MANIFEST) {
            Ok(set) => set,
            // The bundled manifest is checked by this crate's tests.
            Err(_) => {
                return FixtureSet {
                    audio: Vec::new(),
                    corrupt: Vec::new(),
                };
            }
        };
        let find = |name: &str| {
            BUNDLED
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, b)| Arc::from(*b))
        };
        set.audio
            .retain_mut(|f| find(&f.file).map(|b| f.bytes = b).is_some());
        for f in &mut set.audio {
            if let Some(reference) = &mut f.reference
                && let Some(samples) = reference.file.as_deref().and_then(find)
            {
                reference.samples = s16le(&samples);
            }
        }
        set.corrupt
            .retain_mut(|f| find(&f.file).map(|b| f.bytes = b).is_some());
        set
    }

    /// The fixture named `file`.
    pub fn audio(&self, file: &str) -> Option<&AudioFixture> {
        self.audio.iter().find(|f| f.file == file)
    }
}

const MANIFEST: &str = include_str!("../fixtures/fixtures.json");

macro_rules! bundle {
    ($($dir:literal / $name:literal),+ $(,)?) => {
        &[$(($name, include_bytes!(concat!("../fixtures/", $dir, "/", $name)) as &[u8])),+]
    };
}

const BUNDLED: &[(&str, &[u8])] = bundle![
    "audio" / "01 chord.flac",
    "audio" / "02 pluck.mp3",
    "audio" / "03 pad.ogg",
    "audio" / "04 bell.m4a",
    "audio" / "05 bell alac.m4a",
    "audio" / "06 tone.wav",
    "audio" / "07 tone.aiff",
    "reference" / "02 pluck.mp3.s16le",
    "reference" / "03 pad.ogg.s16le",
    "reference" / "04 bell.m4a.s16le",
    "corrupt" / "truncated.flac",
    "corrupt" / "truncated.mp3",
    "corrupt" / "truncated-moov-at-end.m4a",
    "corrupt" / "header-only.wav",
    "corrupt" / "noise-in-middle.mp3",
    "corrupt" / "noise-in-middle.flac",
    "corrupt" / "empty.flac",
    "corrupt" / "not-audio.mp3",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_set_is_complete_and_matches_the_folder() {
        let bundled = FixtureSet::bundled();
        let on_disk =
            FixtureSet::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")).unwrap();
        assert_eq!(
            bundled.audio.len(),
            on_disk.audio.len(),
            "every manifest entry is bundled"
        );
        assert_eq!(bundled.corrupt.len(), on_disk.corrupt.len());
        assert!(bundled.audio.len() >= 7);
        for (a, b) in bundled.audio.iter().zip(&on_disk.audio) {
            assert_eq!(a.bytes, b.bytes, "{}", a.file);
            let (ra, rb) = (a.reference.as_ref().unwrap(), b.reference.as_ref().unwrap());
            assert_eq!(ra.samples, rb.samples, "{}", a.file);
            assert!(
                ra.sha256_s16le.is_some() || (!ra.samples.is_empty() && ra.min_snr_db.is_some()),
                "{} has a reference",
                a.file
            );
        }
    }
}
