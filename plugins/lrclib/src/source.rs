//! Looking lyrics up: `/api/get` with the duration, then `/api/search`.

use std::sync::Arc;

use serde::Deserialize;
use tonearm_plugin_api::{
    HostContext, HttpClient, HttpRequest, Lyrics, MetadataSource, PluginError, PluginResult,
    TrackQuery,
};

use crate::SEARCH_TOLERANCE_PCT;

/// One record, from `/api/get` or `/api/search`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    /// Seconds; a float in the server's type.
    duration: Option<f64>,
    #[serde(default)]
    instrumental: bool,
    plain_lyrics: Option<String>,
    synced_lyrics: Option<String>,
}

impl Record {
    fn lyrics(self) -> Lyrics {
        let text = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
        Lyrics {
            plain: text(self.plain_lyrics),
            synced_lrc: text(self.synced_lyrics),
            instrumental: self.instrumental,
        }
    }
}

/// The LRCLIB metadata source.
pub struct Lrclib {
    http: Arc<dyn HttpClient>,
    base: String,
}

impl Lrclib {
    /// The source over `ctx`'s HTTP, at `endpoint.api` or lrclib.net.
    pub fn new(ctx: &HostContext) -> PluginResult<Self> {
        let base = ctx
            .settings
            .get("endpoint.api")
            .map_or(crate::API, String::as_str);
        Ok(Self {
            http: ctx.require_http()?,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    /// GETs `/api/{path}` with `params`; `None` for a 404.
    fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        params: &[(&str, &str)],
    ) -> PluginResult<Option<T>> {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            query.append_pair(k, v);
        }
        let response = self.http.send(HttpRequest {
            method: "GET".into(),
            url: format!("{}/api/{path}?{}", self.base, query.finish()),
            headers: vec![("Accept".into(), "application/json".into())],
            body: Vec::new(),
        })?;
        match response.status {
            200 => serde_json::from_slice(&response.body)
                .map(Some)
                .map_err(|e| {
                    PluginError::Corrupt(format!(
                        "LRCLIB answered JSON this plugin cannot read: {e}"
                    ))
                }),
            404 => Ok(None),
            400 => Err(PluginError::Invalid(format!(
                "LRCLIB refused the query: {}",
                String::from_utf8_lossy(&response.body)
            ))),
            429 | 503 => Err(PluginError::RateLimited { retry_after: None }),
            status if status >= 500 => {
                Err(PluginError::Transient(format!("LRCLIB answered {status}")))
            }
            status => Err(PluginError::Invalid(format!("LRCLIB answered {status}"))),
        }
    }
}

/// The search result closest in duration to `duration_s`, within the tolerance; synced
/// lyrics win a tie.
fn closest(records: Vec<Record>, duration_s: Option<f64>) -> Option<Record> {
    let distance = |r: &Record| match (r.duration, duration_s) {
        (Some(a), Some(b)) => Some((a - b).abs()),
        _ => None,
    };
    records
        .into_iter()
        .filter(|r| match (distance(r), duration_s) {
            (Some(d), Some(len)) => d <= len * SEARCH_TOLERANCE_PCT as f64 / 100.0,
            // Without a duration to compare, any record by that title and artist.
            (None, None) => true,
            _ => false,
        })
        .min_by(|a, b| {
            let key = |r: &Record| (r.synced_lyrics.is_none(), distance(r).unwrap_or(0.0));
            let (ka, kb) = (key(a), key(b));
            ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
        })
}

impl MetadataSource for Lrclib {
    fn lyrics(&self, query: &TrackQuery) -> PluginResult<Option<Lyrics>> {
        let tags = &query.tags;
        let (Some(title), Some(artist)) = (tags.title.as_deref(), tags.artists.first()) else {
            // LRCLIB needs both; a track without them has no lyrics to find here.
            return Ok(None);
        };
        let duration_s = query.duration_ms.map(|ms| ms as f64 / 1000.0);
        let seconds = duration_s.map(|d| format!("{}", d.round() as u64));
        let mut params = vec![("track_name", title), ("artist_name", artist.as_str())];
        if let Some(album) = tags.album.as_deref() {
            params.push(("album_name", album));
        }
        if let Some(seconds) = &seconds {
            params.push(("duration", seconds));
        }
        if let Some(record) = self.get::<Record>("get", &params)? {
            return Ok(Some(record.lyrics()));
        }
        // The ±2 s rule missed (or the album differs): search by title and artist.
        let found: Vec<Record> = self
            .get(
                "search",
                &[("track_name", title), ("artist_name", artist.as_str())],
            )?
            .unwrap_or_default();
        Ok(closest(found, duration_s).map(Record::lyrics))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(duration: f64, synced: bool) -> Record {
        Record {
            duration: Some(duration),
            instrumental: false,
            plain_lyrics: Some("la".into()),
            synced_lyrics: synced.then(|| "[00:01.00] la".into()),
        }
    }

    #[test]
    fn the_closest_duration_within_tolerance_wins_synced_first() {
        let picked = closest(
            vec![
                record(200.0, false),
                record(206.0, true),
                record(300.0, true),
            ],
            Some(204.0),
        )
        .unwrap();
        assert_eq!(picked.duration, Some(206.0));
        assert!(
            closest(vec![record(300.0, true)], Some(200.0)).is_none(),
            "past 10%"
        );
    }
}
