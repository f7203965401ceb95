//! The MusicBrainz web service (`/ws/2`, JSON) as this plugin uses it: the answers' shapes
//! and what an error status means.

use std::sync::Arc;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use tonearm_plugin_api::{HttpClient, HttpRequest, PluginError, PluginResult};

/// One credited artist (the credit's join phrases, "feat.", are not kept: the library
/// holds artists as a list).
#[derive(Debug, Clone, Deserialize)]
pub struct Credit {
    pub name: String,
}

/// The track a recording is on a medium.
#[derive(Debug, Clone, Deserialize)]
pub struct Track {
    /// The number as printed ("3", "A1").
    #[serde(default)]
    pub number: String,
    /// The position on the medium, in release lookups.
    pub position: Option<u32>,
}

/// A medium of a release: where a recording sits on it.
#[derive(Debug, Clone, Deserialize)]
pub struct Medium {
    pub position: Option<u32>,
    #[serde(rename = "track-count")]
    pub track_count: Option<u32>,
    #[serde(rename = "track-offset")]
    pub track_offset: Option<u32>,
    #[serde(default)]
    pub track: Vec<Track>,
}

/// A release a recording appears on.
#[derive(Debug, Clone, Deserialize)]
pub struct Release {
    pub id: String,
    pub title: String,
    pub date: Option<String>,
    #[serde(rename = "artist-credit", default)]
    pub artist_credit: Vec<Credit>,
    #[serde(default)]
    pub media: Vec<Medium>,
}

/// A recording, from a search (with `score`) or a lookup.
#[derive(Debug, Clone, Deserialize)]
pub struct Recording {
    pub id: String,
    pub title: String,
    pub length: Option<u64>,
    pub score: Option<u32>,
    #[serde(rename = "artist-credit", default)]
    pub artist_credit: Vec<Credit>,
    #[serde(default)]
    pub isrcs: Vec<String>,
    #[serde(default)]
    pub releases: Vec<Release>,
}

/// A recording search's page.
#[derive(Debug, Deserialize)]
pub struct SearchPage {
    #[serde(default)]
    pub recordings: Vec<Recording>,
}

/// An ISRC lookup's answer.
#[derive(Debug, Deserialize)]
pub struct IsrcAnswer {
    #[serde(default)]
    pub recordings: Vec<Recording>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: String,
}

/// The service at one base URL.
pub struct Api {
    http: Arc<dyn HttpClient>,
    base: String,
}

impl Api {
    pub fn new(http: Arc<dyn HttpClient>, base: &str) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    /// GETs `/ws/2/{path}` with `params` and `fmt=json`; `Ok(None)` for a 404 (an id the
    /// database does not have, or no longer has).
    pub fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        params: &[(&str, &str)],
    ) -> PluginResult<Option<T>> {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            query.append_pair(k, v);
        }
        query.append_pair("fmt", "json");
        let url = format!("{}/ws/2/{path}?{}", self.base, query.finish());
        let response = self.http.send(HttpRequest {
            method: "GET".into(),
            url,
            headers: vec![("Accept".into(), "application/json".into())],
            body: Vec::new(),
        })?;
        let reason = || {
            serde_json::from_slice::<ErrorBody>(&response.body)
                .map(|e| e.error)
                .unwrap_or_default()
        };
        match response.status {
            200 => serde_json::from_slice(&response.body)
                .map(Some)
                .map_err(|e| {
                    PluginError::Corrupt(format!(
                        "MusicBrainz answered JSON this plugin cannot read: {e}"
                    ))
                }),
            404 => Ok(None),
            400 => Err(PluginError::Invalid(format!(
                "MusicBrainz refused the request: {}",
                reason()
            ))),
            // 503 is MusicBrainz's answer to too many requests (the host waited and
            // retried already); 429 from a proxy in front of a mirror.
            429 | 503 => Err(PluginError::RateLimited {
                retry_after: response
                    .header("retry-after")
                    .and_then(|v| v.trim().parse().ok())
                    .map(std::time::Duration::from_secs),
            }),
            401 | 403 => Err(PluginError::Unauthorized(format!(
                "MusicBrainz refused this client ({}): {}",
                response.status,
                reason()
            ))),
            status if status >= 500 => Err(PluginError::Transient(format!(
                "MusicBrainz answered {status}"
            ))),
            status => Err(PluginError::Invalid(format!(
                "MusicBrainz answered {status}: {}",
                reason()
            ))),
        }
    }
}
