//! Drive v3 requests and answers, and errors mapped by their `reason`.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use tonearm_plugin_api::{
    ByteRange, HttpClient, HttpRequest, HttpResponse, PluginError, PluginResult,
};

/// Google's MIME type for folders.
pub const FOLDER: &str = "application/vnd.google-apps.folder";

/// The fields every file request asks for (Drive returns only what is asked).
pub const FILE_FIELDS: &str = "id,name,mimeType,parents,size,md5Checksum,modifiedTime,trashed";

/// A file as Drive describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct File {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub mime_type: String,
    #[serde(default)]
    pub parents: Vec<String>,
    /// A decimal string; absent for folders, shortcuts and Google Docs.
    pub size: Option<String>,
    pub md5_checksum: Option<String>,
    pub modified_time: Option<String>,
    #[serde(default)]
    pub trashed: bool,
}

impl File {
    pub fn is_folder(&self) -> bool {
        self.mime_type == FOLDER
    }

    /// Google's own types (Docs, shortcuts, forms, …) have no bytes to download.
    pub fn is_google_type(&self) -> bool {
        self.mime_type.starts_with("application/vnd.google-apps.")
    }

    pub fn modified_ms(&self) -> Option<i64> {
        let t = humantime::parse_rfc3339(self.modified_time.as_deref()?).ok()?;
        let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
        i64::try_from(d.as_millis()).ok()
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileList {
    #[serde(default)]
    pub files: Vec<File>,
    pub next_page_token: Option<String>,
    #[serde(default)]
    pub incomplete_search: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub file_id: String,
    #[serde(default)]
    pub removed: bool,
    pub file: Option<File>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeList {
    #[serde(default)]
    pub changes: Vec<Change>,
    pub next_page_token: Option<String>,
    pub new_start_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartPageToken {
    pub start_page_token: String,
}

#[derive(Debug, Deserialize)]
pub struct FileId {
    pub id: String,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    error: Option<ErrorDetail>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorItem {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    location: String,
}

/// What a failed request means, by status and Drive's `reason`.
#[derive(Debug)]
pub struct Failure {
    pub status: u16,
    pub location: String,
    pub error: PluginError,
}

/// The Drive API at one base URL, optionally inside a shared drive.
pub struct Api {
    http: Arc<dyn HttpClient>,
    base: String,
    pub shared_drive: Option<String>,
}

impl Api {
    pub fn new(http: Arc<dyn HttpClient>, base: &str, shared_drive: Option<String>) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            shared_drive,
        }
    }

    fn url(&self, path: &str, params: &[(&str, &str)]) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            query.append_pair(k, v);
        }
        if self.shared_drive.is_some() {
            query.append_pair("supportsAllDrives", "true");
        }
        format!("{}/drive/v3/{path}?{}", self.base, query.finish())
    }

    /// Parameters that scope a listing or change feed to the shared drive, if any.
    pub fn drive_params(&self) -> Vec<(&'static str, String)> {
        match &self.shared_drive {
            Some(d) => vec![
                ("driveId", d.clone()),
                ("includeItemsFromAllDrives", "true".into()),
            ],
            None => vec![],
        }
    }

    /// GETs `path` and parses the JSON answer.
    pub fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<T, Failure> {
        let response = self.send(self.url(path, params), vec![])?;
        if response.status != 200 {
            return Err(failure(&response));
        }
        serde_json::from_slice(&response.body).map_err(|e| Failure {
            status: 200,
            location: String::new(),
            // A proxy's HTML page or a truncated answer: worth another try.
            error: PluginError::Transient(format!(
                "Drive answered something that is not its JSON: {e}"
            )),
        })
    }

    /// Reads bytes of file `id`.
    pub fn media(&self, id: &str, range: ByteRange) -> PluginResult<Vec<u8>> {
        let Some(header) = range.http_header() else {
            return Ok(Vec::new());
        };
        let url = self.url(
            &format!("files/{}", encode_segment(id)),
            &[("alt", "media")],
        );
        let response = self
            .send(url, vec![("Range".into(), header)])
            .map_err(|f| f.error)?;
        match response.status {
            206 => Ok(response.body),
            // A server may ignore Range and send everything: cut the range out.
            200 => Ok(range.cut(response.body)),
            // Past the end, or an empty file (Drive refuses any Range on those).
            416 => Ok(Vec::new()),
            _ => Err(failure(&response).error),
        }
    }

    fn send(&self, url: String, headers: Vec<(String, String)>) -> Result<HttpResponse, Failure> {
        self.http
            .send(HttpRequest {
                method: "GET".into(),
                url,
                headers,
                body: Vec::new(),
            })
            .map_err(|error| Failure {
                status: 0,
                location: String::new(),
                error,
            })
    }
}

/// Percent-encodes an id for a path segment (ids are URL-safe, but a host must not trust that).
fn encode_segment(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn failure(response: &HttpResponse) -> Failure {
    let body: ErrorBody = serde_json::from_slice(&response.body).unwrap_or_default();
    let detail = body.error.unwrap_or_default();
    let first = detail.errors.into_iter().next().unwrap_or_default();
    let message = if detail.message.is_empty() {
        format!("HTTP {}", response.status)
    } else {
        format!("HTTP {}: {}", response.status, detail.message)
    };
    let retry_after = response
        .header("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let error = match (response.status, first.reason.as_str()) {
        (403 | 429, "userRateLimitExceeded" | "rateLimitExceeded" | "sharingRateLimitExceeded") => {
            PluginError::RateLimited { retry_after }
        }
        (429, _) => PluginError::RateLimited { retry_after },
        (403, "fileNotDownloadable" | "cannotDownloadFile") => PluginError::Unsupported(message),
        (401 | 403, _) => PluginError::Unauthorized(message),
        (404, _) => PluginError::NotFound(message),
        (500..=599, _) => PluginError::Transient(message),
        _ => PluginError::Invalid(message),
    };
    Failure {
        status: response.status,
        location: first.location,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, reason: &str) -> HttpResponse {
        let body = serde_json::json!({"error": {"code": status, "message": "m", "errors": [{"reason": reason}]}});
        HttpResponse {
            status,
            headers: vec![("Retry-After".into(), "3".into())],
            body: body.to_string().into_bytes(),
        }
    }

    #[test]
    fn errors_are_mapped_by_reason_not_text() {
        assert_eq!(
            failure(&response(403, "userRateLimitExceeded")).error,
            PluginError::RateLimited {
                retry_after: Some(Duration::from_secs(3))
            }
        );
        assert!(matches!(
            failure(&response(403, "insufficientPermissions")).error,
            PluginError::Unauthorized(_)
        ));
        assert!(matches!(
            failure(&response(403, "fileNotDownloadable")).error,
            PluginError::Unsupported(_)
        ));
        assert!(matches!(
            failure(&response(404, "notFound")).error,
            PluginError::NotFound(_)
        ));
        assert!(matches!(
            failure(&response(503, "backendError")).error,
            PluginError::Transient(_)
        ));
        let garbage = HttpResponse {
            status: 502,
            headers: vec![],
            body: b"<html>".to_vec(),
        };
        assert!(matches!(failure(&garbage).error, PluginError::Transient(_)));
    }
}
