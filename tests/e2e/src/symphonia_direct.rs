//! Symphonia called directly, with nothing of Tonearm around it: the floor the decode
//! benchmarks measure the plugin paths against.

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;

/// Decodes the default audio track of `source` (a file named `*.ext`), handing each
/// packet's interleaved samples and channel count to `each`.
///
/// # Panics
///
/// If the input cannot be probed or decoded: a benchmark's input is known good.
pub fn decode(source: Box<dyn MediaSource>, ext: &str, mut each: impl FnMut(&[f32], usize)) {
    let mss = MediaSourceStream::new(source, MediaSourceStreamOptions::default());
    let mut hint = Hint::new();
    hint.with_extension(ext);
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .unwrap_or_else(|e| panic!("probe: {e}"));
    let track = format
        .default_track(TrackType::Audio)
        .unwrap_or_else(|| panic!("no audio track"));
    let id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .unwrap_or_else(|| panic!("no audio parameters"))
        .clone();
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .unwrap_or_else(|e| panic!("decoder: {e}"));
    let mut samples: Vec<f32> = Vec::new();
    while let Some(packet) = format
        .next_packet()
        .unwrap_or_else(|e| panic!("packet: {e}"))
    {
        if packet.track_id != id {
            continue;
        }
        let decoded = decoder
            .decode(&packet)
            .unwrap_or_else(|e| panic!("decode: {e}"));
        let channels = decoded.spec().channels().count();
        decoded.copy_to_vec_interleaved(&mut samples);
        each(&samples, channels);
    }
}
