//! Graph requests and answers, and errors mapped by status and Graph's error `code`.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tonearm_plugin_api::{HttpClient, HttpRequest, HttpResponse, PluginError, PluginResult};

/// A driveItem, as much of it as the plugin reads.
#[derive(Debug, Clone, Deserialize)]
pub struct Item {
    pub id: String,
    /// Absent on deleted items.
    pub name: Option<String>,
    pub size: Option<u64>,
    #[serde(rename = "lastModifiedDateTime")]
    pub modified: Option<String>,
    #[serde(rename = "parentReference")]
    pub parent: Option<ParentReference>,
    pub file: Option<FileFacet>,
    pub folder: Option<serde_json::Value>,
    pub root: Option<serde_json::Value>,
    pub deleted: Option<serde_json::Value>,
    #[serde(rename = "@microsoft.graph.downloadUrl")]
    pub download_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ParentReference {
    pub id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FileFacet {
    #[serde(rename = "mimeType")]
    pub mime_type: Option<String>,
    pub hashes: Option<Hashes>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Hashes {
    #[serde(rename = "quickXorHash")]
    pub quick_xor: Option<String>,
    #[serde(rename = "sha1Hash")]
    pub sha1: Option<String>,
}

impl Item {
    pub fn parent_id(&self) -> Option<&str> {
        self.parent.as_ref()?.id.as_deref()
    }

    pub fn modified_ms(&self) -> Option<i64> {
        let t = humantime::parse_rfc3339_weak(self.modified.as_deref()?).ok()?;
        let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
        i64::try_from(d.as_millis()).ok()
    }
}

/// One page of `delta` or `children`.
#[derive(Debug, Deserialize)]
pub struct Page {
    #[serde(default)]
    pub value: Vec<Item>,
    #[serde(rename = "@odata.nextLink")]
    pub next_link: Option<String>,
    #[serde(rename = "@odata.deltaLink")]
    pub delta_link: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    error: Option<ErrorDetail>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// Graph at one base URL, for one drive.
pub struct Api {
    http: Arc<dyn HttpClient>,
    base: String,
    drive: String,
}

impl Api {
    pub fn new(http: Arc<dyn HttpClient>, base: &str, drive: Option<&str>) -> Self {
        let drive = match drive {
            Some(id) => format!("drives/{}", encode_segment(id)),
            None => "me/drive".to_owned(),
        };
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            drive,
        }
    }

    /// The first page of a full enumeration.
    pub fn delta_url(&self, top: &str) -> String {
        format!("{}/v1.0/{}/root/delta?$top={top}", self.base, self.drive)
    }

    /// The delta URL that yields a `deltaLink` for "now".
    pub fn latest_url(&self) -> String {
        format!("{}/v1.0/{}/root/delta?token=latest", self.base, self.drive)
    }

    pub fn children_url(&self, id: &str, top: &str) -> String {
        format!(
            "{}/v1.0/{}/items/{}/children?$top={top}",
            self.base,
            self.drive,
            encode_segment(id)
        )
    }

    pub fn content_url(&self, id: &str) -> String {
        format!(
            "{}/v1.0/{}/items/{}/content",
            self.base,
            self.drive,
            encode_segment(id)
        )
    }

    /// GETs a page URL (one Graph handed out, followed verbatim) and parses it.
    pub fn page(&self, url: &str) -> PluginResult<Page> {
        let response = self.get(url, Vec::new())?;
        if response.status != 200 {
            return Err(failure(&response));
        }
        serde_json::from_slice(&response.body).map_err(|e| {
            PluginError::Transient(format!(
                "Graph answered something that is not its JSON: {e}"
            ))
        })
    }

    pub fn get(&self, url: &str, headers: Vec<(String, String)>) -> PluginResult<HttpResponse> {
        self.http.send(HttpRequest {
            method: "GET".into(),
            url: url.to_owned(),
            headers,
            body: Vec::new(),
        })
    }
}

fn encode_segment(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// What a failed Graph answer means.
pub fn failure(response: &HttpResponse) -> PluginError {
    let body: ErrorBody = serde_json::from_slice(&response.body).unwrap_or_default();
    let detail = body.error.unwrap_or_default();
    let message = match (detail.code.is_empty(), detail.message.is_empty()) {
        (true, _) => format!("HTTP {}", response.status),
        (false, true) => format!("HTTP {}: {}", response.status, detail.code),
        (false, false) => format!(
            "HTTP {}: {} ({})",
            response.status, detail.message, detail.code
        ),
    };
    let retry_after = response
        .header("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    match (response.status, detail.code.as_str()) {
        (410, _) | (_, "resyncRequired") => PluginError::CursorExpired(message),
        (429, _) | (503, _) | (_, "activityLimitReached") => {
            PluginError::RateLimited { retry_after }
        }
        (401 | 403, _) => PluginError::Unauthorized(message),
        (404, _) => PluginError::NotFound(message),
        (500..=599, _) => PluginError::Transient(message),
        _ => PluginError::Invalid(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, code: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![("Retry-After".into(), "5".into())],
            body: serde_json::json!({"error": {"code": code, "message": "m"}})
                .to_string()
                .into_bytes(),
        }
    }

    #[test]
    fn errors_are_mapped_by_status_and_code() {
        assert!(matches!(
            failure(&response(410, "resyncRequired")),
            PluginError::CursorExpired(_)
        ));
        assert_eq!(
            failure(&response(429, "activityLimitReached")),
            PluginError::RateLimited {
                retry_after: Some(Duration::from_secs(5))
            }
        );
        assert!(matches!(
            failure(&response(401, "InvalidAuthenticationToken")),
            PluginError::Unauthorized(_)
        ));
        assert!(matches!(
            failure(&response(404, "itemNotFound")),
            PluginError::NotFound(_)
        ));
        assert!(matches!(
            failure(&response(502, "")),
            PluginError::Transient(_)
        ));
    }
}
