//! The [`Decoder`] half: probing and opening streams.

use std::sync::Arc;

use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;
use tonearm_plugin_api::{
    ByteSource, DecodeSession, Decoder, PluginError, PluginResult, ProbeHint,
};

use crate::error::map;
use crate::probe;
use crate::session::SymphoniaSession;
use crate::source::SourceReader;

/// Decodes every format enabled by this crate's cargo features.
#[derive(Debug, Default, Clone, Copy)]
pub struct SymphoniaDecoder;

impl SymphoniaDecoder {
    /// A decoder over Symphonia's default codec and format registries.
    pub fn new() -> Self {
        Self
    }
}

impl Decoder for SymphoniaDecoder {
    fn probe(&self, head: &[u8], hint: &ProbeHint) -> PluginResult<u8> {
        Ok(probe::score(head, hint))
    }

    fn open(
        &self,
        source: Arc<dyn ByteSource>,
        hint: &ProbeHint,
    ) -> PluginResult<Box<dyn DecodeSession>> {
        let (format, decoder) = open_stream(source.clone(), hint)?;
        SymphoniaSession::new(format, decoder, source, hint.clone())
            .map(|s| Box::new(s) as Box<dyn DecodeSession>)
    }
}

/// Probes `source` and makes a decoder for its default audio track.
pub(crate) fn open_stream(
    source: Arc<dyn ByteSource>,
    hint: &ProbeHint,
) -> PluginResult<(Box<dyn FormatReader>, Box<dyn AudioDecoder>)> {
    let reader = SourceReader::new(source)?;
    let mss = MediaSourceStream::new(Box::new(reader), MediaSourceStreamOptions::default());

    let mut sym_hint = Hint::new();
    if let Some(ext) = &hint.extension {
        sym_hint.with_extension(ext);
    }
    if let Some(mime) = &hint.mime {
        sym_hint.mime_type(mime);
    }
    // Tags are the host's job (lofty); skip Symphonia's metadata parsing.
    let meta_opts = MetadataOptions::default();
    let format = symphonia::default::get_probe()
        .probe(&sym_hint, mss, FormatOptions::default(), meta_opts)
        .map_err(|e| match map(e) {
            PluginError::Unsupported(what) => {
                PluginError::Unsupported(format!("not a format this decoder knows ({what})"))
            }
            other => other,
        })?;

    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| PluginError::Unsupported("the file has no audio track".into()))?;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| PluginError::Unsupported("the audio track has no codec parameters".into()))?
        .clone();
    let decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(map)?;
    Ok((format, decoder))
}
