//! Reading an index from a static web server, through the host's HTTP client (its
//! retries, pacing, limits and traces).

use std::sync::Arc;

use tonearm_plugin_api::{HttpClient, HttpRequest};

use crate::RegistryError;
use crate::client::IndexSource;

/// An index served over HTTP(S) at a base URL: `BASE/timestamp.json`, and so on.
#[derive(Clone)]
pub struct HttpIndex {
    base: String,
    client: Arc<dyn HttpClient>,
}

impl std::fmt::Debug for HttpIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpIndex")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl HttpIndex {
    /// The index at `base` (`https://plugins.example.org/index`), read with `client`,
    /// which must be allowed to reach its host.
    pub fn new(base: &str, client: Arc<dyn HttpClient>) -> Result<Self, RegistryError> {
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(RegistryError::Fetch {
                path: base.to_owned(),
                reason: "an index's address starts with https:// or http://".into(),
            });
        }
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            client,
        })
    }
}

impl IndexSource for HttpIndex {
    fn fetch(&self, path: &str, limit: u64) -> Result<Option<Vec<u8>>, RegistryError> {
        let url = format!("{}/{path}", self.base);
        let _span = tracing::debug_span!("index fetch", %url, limit).entered();
        let refuse = |reason: String| RegistryError::Fetch {
            path: url.clone(),
            reason,
        };
        let response = self
            .client
            .send(HttpRequest {
                method: "GET".into(),
                url: url.clone(),
                // The timestamp is the one file that changes in place: never an old copy.
                headers: vec![("Cache-Control".into(), "no-cache".into())],
                body: Vec::new(),
            })
            .map_err(|e| refuse(e.to_string()))?;
        match response.status {
            200 => {}
            // Object stores (S3, GCS) answer 403 for a missing object when listing is not
            // allowed: the same "not there" to an index that probes for the next root.
            403 | 404 | 410 => return Ok(None),
            status => return Err(refuse(format!("the server answered {status}"))),
        }
        if response.body.len() as u64 > limit {
            return Err(RegistryError::TooLarge {
                file: path.to_owned(),
                limit,
            });
        }
        Ok(Some(response.body))
    }
}
