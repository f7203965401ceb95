//! Loudness normalisation from the library's ReplayGain and R128 tags.

use serde::{Deserialize, Serialize};

use crate::library::ReplayGain;

/// Which of a track's gains applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub enum GainMode {
    /// No normalisation.
    Off,
    /// Each track at the reference loudness (the album's gain where the track has none).
    #[default]
    Track,
    /// Each album at the reference loudness, keeping the loudness steps between its tracks
    /// (the track's gain where the album has none).
    Album,
}

/// How gains are applied.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct GainSettings {
    /// Which gain.
    pub mode: GainMode,
    /// Added to every tagged gain, in dB.
    pub preamp_db: f32,
    /// Applied to tracks without any gain tag, in dB.
    pub untagged_db: f32,
    /// Lowers the gain so the tagged peak does not clip.
    pub prevent_clipping: bool,
}

impl Default for GainSettings {
    fn default() -> Self {
        Self {
            mode: GainMode::Track,
            preamp_db: 0.0,
            untagged_db: 0.0,
            prevent_clipping: true,
        }
    }
}

/// R128 gains are relative to −23 LUFS, ReplayGain 2's to −18 LUFS: an R128 gain plays
/// 5 dB quieter than the same ReplayGain value.
const R128_TO_REPLAYGAIN_DB: f64 = 5.0;

/// The gains applied are held to this range, whatever the tags say.
const MIN_DB: f64 = -40.0;
/// See [`MIN_DB`].
const MAX_DB: f64 = 20.0;

impl GainSettings {
    /// The linear factor for a track tagged with `tags`.
    pub fn factor(&self, tags: &ReplayGain) -> f32 {
        if self.mode == GainMode::Off {
            return 1.0;
        }
        let r128 = |q78: Option<i64>| q78.map(|g| g as f64 / 256.0 + R128_TO_REPLAYGAIN_DB);
        let track = tags.track_gain.or(r128(tags.r128_track_gain));
        let album = tags.album_gain.or(r128(tags.r128_album_gain));
        let (gain, peak) = match self.mode {
            GainMode::Album => (
                album.or(track),
                if album.is_some() {
                    tags.album_peak
                } else {
                    tags.track_peak
                },
            ),
            _ => (
                track.or(album),
                if track.is_some() {
                    tags.track_peak
                } else {
                    tags.album_peak
                },
            ),
        };
        let db = match gain {
            Some(gain) => gain + f64::from(self.preamp_db),
            None => f64::from(self.untagged_db),
        };
        // Tags are outside data: a gain of +133 dB (an R128 tag at its maximum) would be
        // a full-scale blast, and R128 tags carry no peak to guard it.
        let db = if db.is_finite() {
            db.clamp(MIN_DB, MAX_DB)
        } else {
            0.0
        };
        let mut factor = 10f64.powf(db / 20.0);
        if self.prevent_clipping
            && let Some(peak) = peak.filter(|p| *p > 0.0)
        {
            factor = factor.min(1.0 / peak);
        }
        factor as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags() -> ReplayGain {
        ReplayGain {
            track_gain: Some(-6.0),
            track_peak: Some(0.5),
            album_gain: Some(-3.0),
            album_peak: Some(0.9),
            r128_track_gain: None,
            r128_album_gain: None,
        }
    }

    fn near(a: f32, b: f64) -> bool {
        (f64::from(a) - b).abs() < 1e-4
    }

    #[test]
    fn track_and_album_modes_pick_their_gain() {
        let track = GainSettings::default();
        assert!(near(track.factor(&tags()), 10f64.powf(-6.0 / 20.0)));
        let album = GainSettings {
            mode: GainMode::Album,
            ..track
        };
        assert!(near(album.factor(&tags()), 10f64.powf(-3.0 / 20.0)));
        let off = GainSettings {
            mode: GainMode::Off,
            ..track
        };
        assert_eq!(off.factor(&tags()), 1.0);
    }

    #[test]
    fn the_peak_limits_the_gain() {
        let loud = ReplayGain {
            track_gain: Some(12.0),
            track_peak: Some(0.5),
            ..tags()
        };
        assert!(near(GainSettings::default().factor(&loud), 2.0));
        let no_prevention = GainSettings {
            prevent_clipping: false,
            ..GainSettings::default()
        };
        assert!(near(no_prevention.factor(&loud), 10f64.powf(12.0 / 20.0)));
    }

    #[test]
    fn r128_is_brought_to_the_replaygain_reference_and_untagged_gets_the_default() {
        let opus = ReplayGain {
            track_gain: None,
            track_peak: None,
            album_gain: None,
            album_peak: None,
            r128_track_gain: Some(-256 * 8),
            r128_album_gain: None,
        };
        assert!(near(
            GainSettings::default().factor(&opus),
            10f64.powf(-3.0 / 20.0)
        ));
        let untagged = ReplayGain {
            r128_track_gain: None,
            ..opus
        };
        let quieter = GainSettings {
            untagged_db: -6.0,
            ..GainSettings::default()
        };
        assert!(near(quieter.factor(&untagged), 10f64.powf(-6.0 / 20.0)));
    }

    #[test]
    fn absurd_tags_are_held_to_a_sane_range() {
        let blast = ReplayGain {
            r128_track_gain: Some(32_767),
            ..ReplayGain::default()
        };
        assert!(near(
            GainSettings::default().factor(&blast),
            10f64.powf(20.0 / 20.0)
        ));
        let nan = ReplayGain {
            track_gain: Some(f64::NAN),
            ..ReplayGain::default()
        };
        assert_eq!(GainSettings::default().factor(&nan), 1.0);
    }
}
