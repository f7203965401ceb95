//! Looking lyrics up: one request per track, described here and sent by the host.

use std::sync::Arc;

use tonearm_plugin_api::{
    HostContext, HttpClient, HttpRequest, Lyrics, MetadataSource, PluginError, PluginResult,
    TrackQuery,
};

use crate::api;

/// The lyrics source.
pub struct LyricsSource {
    http: Arc<dyn HttpClient>,
    api: String,
}

impl LyricsSource {
    /// The source over `ctx`'s HTTP, at its `endpoint.api` setting or the service.
    pub fn new(ctx: &HostContext) -> PluginResult<Self> {
        let api = ctx
            .settings
            .get("endpoint.api")
            .map_or(crate::DEFAULT_API, String::as_str);
        Ok(Self {
            http: ctx.require_http()?,
            api: api.trim_end_matches('/').to_owned(),
        })
    }
}

impl MetadataSource for LyricsSource {
    fn lyrics(&self, query: &TrackQuery) -> PluginResult<Option<Lyrics>> {
        let tags = &query.tags;
        let (Some(title), Some(artist)) = (tags.title.as_deref(), tags.artists.first()) else {
            // The service needs both: a track without them has nothing to find here.
            return Ok(None);
        };
        let mut params = form_urlencoded::Serializer::new(String::new());
        params
            .append_pair("artist", artist)
            .append_pair("title", title);
        if let Some(ms) = query.duration_ms {
            params.append_pair("duration_s", &(ms / 1000).to_string());
        }
        let response = self.http.send(HttpRequest {
            method: "GET".into(),
            url: format!("{}/v1/lyrics?{}", self.api, params.finish()),
            headers: vec![("Accept".into(), "application/json".into())],
            body: Vec::new(),
        })?;
        let record: api::Record = match response.status {
            200 => serde_json::from_slice(&response.body).map_err(|e| {
                PluginError::Corrupt(format!(
                    "the service answered JSON this source cannot read: {e}"
                ))
            })?,
            404 => return Ok(None),
            429 => return Err(PluginError::RateLimited { retry_after: None }),
            500..=599 => {
                return Err(PluginError::Transient(format!(
                    "the service answered {}",
                    response.status
                )));
            }
            status => {
                return Err(PluginError::Invalid(format!(
                    "the service answered {status}"
                )));
            }
        };
        let text = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
        let lyrics = Lyrics {
            plain: text(record.plain),
            synced_lrc: text(record.synced),
            instrumental: record.instrumental,
        };
        // An answer with neither words nor `instrumental` is no answer.
        Ok(
            (lyrics.instrumental || lyrics.plain.is_some() || lyrics.synced_lrc.is_some())
                .then_some(lyrics),
        )
    }
}
