//! The storage provider: listings, the change feed and ranged reads, each one request
//! the host sends (and retries, paces and traces) for it.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use tonearm_plugin_api::{
    ByteRange, Change, ChangePage, ContentHash, HostContext, HttpClient, HttpRequest, HttpResponse,
    ListPage, PluginError, PluginResult, RemoteEntry, StorageProvider,
};

use crate::api;
use crate::error::from_status;

/// Files per page unless the source's `page_size` setting says otherwise.
const PAGE_SIZE: u32 = 100;

/// One source's view of the service.
pub struct ServiceProvider {
    http: Arc<dyn HttpClient>,
    api: String,
    page_size: u32,
}

impl ServiceProvider {
    /// The provider for the source `ctx` describes.
    pub fn new(ctx: &HostContext) -> PluginResult<Self> {
        let http = ctx
            .http
            .clone()
            .ok_or_else(|| PluginError::Unsupported("the host granted no HTTP".into()))?;
        let page_size = match ctx.settings.get("page_size") {
            Some(n) => n
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| PluginError::Invalid(format!("page_size `{n}`")))?,
            None => PAGE_SIZE,
        };
        let api = ctx
            .settings
            .get("endpoint.api")
            .map_or(crate::DEFAULT_API, String::as_str);
        Ok(Self {
            http,
            api: api.trim_end_matches('/').to_owned(),
            page_size,
        })
    }

    /// Sends a GET to `path` with `query`; any status comes back.
    fn send(
        &self,
        path: &str,
        query: &[(&str, &str)],
        headers: Vec<(String, String)>,
    ) -> PluginResult<HttpResponse> {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        self.http.send(HttpRequest {
            method: "GET".into(),
            url: format!("{}{path}?{query}", self.api),
            headers,
            body: Vec::new(),
        })
    }

    fn get<T: DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        query: &[(&str, &str)],
    ) -> PluginResult<T> {
        let response = self.send(path, query, Vec::new())?;
        if !(200..300).contains(&response.status) {
            return Err(from_status(what, &response));
        }
        serde_json::from_slice(&response.body)
            .map_err(|e| PluginError::Corrupt(format!("{what}: the service answered {e}")))
    }
}

fn entry(file: api::File) -> RemoteEntry {
    RemoteEntry {
        id: file.id,
        path: file.path,
        size: file.size,
        modified_ms: Some(file.modified_ms),
        content_hash: Some(ContentHash {
            algorithm: "sha256".into(),
            value: file.sha256,
        }),
        mime: None,
    }
}

impl StorageProvider for ServiceProvider {
    fn change_cursor(&self) -> PluginResult<String> {
        Ok(self
            .get::<api::StartCursor>("change cursor", "/v1/changes/start", &[])?
            .cursor)
    }

    fn list(&self, page_token: Option<&str>) -> PluginResult<ListPage> {
        let size = self.page_size.to_string();
        let mut query = vec![("page_size", size.as_str())];
        if let Some(token) = page_token {
            query.push(("page_token", token));
        }
        let page: api::FileList = self.get("list", "/v1/files", &query)?;
        Ok(ListPage {
            entries: page.files.into_iter().map(entry).collect(),
            next_page: page.next_page_token,
        })
    }

    fn changes(&self, cursor: &str) -> PluginResult<ChangePage> {
        let size = self.page_size.to_string();
        let page: api::ChangeList = self.get(
            "changes",
            "/v1/changes",
            &[("cursor", cursor), ("page_size", &size)],
        )?;
        Ok(ChangePage {
            changes: page
                .changes
                .into_iter()
                .map(|change| match change {
                    api::Change::Upsert { file } => Change::Upsert { entry: entry(file) },
                    api::Change::Removed { id } => Change::Removed { id },
                })
                .collect(),
            next_cursor: page.next_cursor,
            has_more: page.has_more,
        })
    }

    fn read_range(&self, id: &str, range: ByteRange) -> PluginResult<Vec<u8>> {
        let Some(header) = range.http_header() else {
            return Ok(Vec::new());
        };
        let response = self.send("/v1/content", &[("id", id)], vec![("Range".into(), header)])?;
        match response.status {
            206 => Ok(response.body),
            // A server that ignores `Range` sends the whole file: cut it here.
            200 => Ok(range.cut(response.body)),
            // The range starts past the end: nothing there.
            416 => Ok(Vec::new()),
            _ => Err(from_status("read", &response)),
        }
    }
}
