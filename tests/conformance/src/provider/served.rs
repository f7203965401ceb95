//! A harness over a provider's fake server: the suite changes the files it serves through
//! a small control API, so a network provider is certified against the service it talks
//! to, in any form, from its own tests or from `tonearm conformance --server`.
//!
//! The control API, under the fake server's address (paths percent-encoded):
//!
//! ```text
//! POST   /_harness/reset                      start empty
//! PUT    /_harness/files/PATH      (bytes)    create or replace a file
//! DELETE /_harness/files/PATH                 delete a file
//! POST   /_harness/rename?from=PATH&to=PATH   rename or move a file
//! ```
//!
//! Each answers 2xx when done, anything else with the reason in its body.

use std::sync::Arc;

use tonearm_plugin_api::{HttpClient, HttpRequest, StorageProvider};

use super::ProviderHarness;

/// Makes a provider instance whose requests go to the fake server.
pub type CreateProvider = Arc<dyn Fn() -> Result<Arc<dyn StorageProvider>, String> + Send + Sync>;

/// A [`ProviderHarness`] over a fake server that speaks the control API.
pub struct ServedHarness {
    server: String,
    http: Arc<dyn HttpClient>,
    create: CreateProvider,
}

impl ServedHarness {
    /// The harness over the fake server at `server` (`http://127.0.0.1:PORT`), controlled
    /// with `http`; `create` makes a provider that talks to it. The server is reset first.
    pub fn new(
        server: &str,
        http: Arc<dyn HttpClient>,
        create: CreateProvider,
    ) -> Result<Self, String> {
        let harness = Self {
            server: server.trim_end_matches('/').to_owned(),
            http,
            create,
        };
        harness.control("POST", "reset", Vec::new())?;
        Ok(harness)
    }

    fn control(&self, method: &str, path: &str, body: Vec<u8>) -> Result<(), String> {
        let url = format!("{}/_harness/{path}", self.server);
        let response = self
            .http
            .send(HttpRequest {
                method: method.into(),
                url: url.clone(),
                headers: Vec::new(),
                body,
            })
            .map_err(|e| format!("{method} {url}: {e}"))?;
        if (200..300).contains(&response.status) {
            Ok(())
        } else {
            Err(format!(
                "{method} {url}: {} {}",
                response.status,
                String::from_utf8_lossy(&response.body)
            ))
        }
    }
}

impl ProviderHarness for ServedHarness {
    fn provider(&self) -> Result<Arc<dyn StorageProvider>, String> {
        (self.create)()
    }

    fn put(&self, path: &str, bytes: &[u8]) -> Result<(), String> {
        self.control(
            "PUT",
            &format!("files/{}", encode_path(path)),
            bytes.to_vec(),
        )
    }

    fn remove(&self, path: &str) -> Result<(), String> {
        self.control(
            "DELETE",
            &format!("files/{}", encode_path(path)),
            Vec::new(),
        )
    }

    fn rename(&self, from: &str, to: &str) -> Result<(), String> {
        let query = format!("from={}&to={}", encode(from), encode(to));
        self.control("POST", &format!("rename?{query}"), Vec::new())
    }
}

/// `path` with each `/`-separated part percent-encoded.
fn encode_path(path: &str) -> String {
    path.split('/').map(encode).collect::<Vec<_>>().join("/")
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_keep_their_slashes_and_lose_everything_else() {
        assert_eq!(encode_path("a b/#c?.flac"), "a%20b/%23c%3F.flac");
        assert_eq!(encode("ü/x"), "%C3%BC%2Fx");
    }
}
