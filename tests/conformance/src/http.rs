//! An HTTP client for a plugin's own tests against a local fake server: requests go out
//! as the plugin describes them, with no retries, pacing or allow-list (feature `http`).

use std::time::Duration;

use tonearm_plugin_api::{HttpClient, HttpRequest, HttpResponse, PluginError, PluginResult};

/// Sends a plugin's requests as they are: give it to a test context with
/// `test_context(id).with_http(Arc::new(TestHttp::new()?))`.
#[derive(Debug, Clone)]
pub struct TestHttp {
    client: reqwest::blocking::Client,
}

impl TestHttp {
    /// A client with a 30-second timeout per request.
    pub fn new() -> Result<Self, String> {
        // reqwest is built without a default TLS provider (the host picks one).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            // The host hands redirects back to the plugin too (it follows them itself).
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot start an HTTP client: {e}"))?;
        Ok(Self { client })
    }
}

impl HttpClient for TestHttp {
    fn send(&self, request: HttpRequest) -> PluginResult<HttpResponse> {
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|e| PluginError::Invalid(format!("method {}: {e}", request.method)))?;
        let mut builder = self.client.request(method, &request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let response = builder
            .body(request.body)
            .send()
            .map_err(|e| PluginError::Transient(format!("{}: {e}", request.url)))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let body = response
            .bytes()
            .map_err(|e| PluginError::Transient(format!("{}: {e}", request.url)))?
            .to_vec();
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}
