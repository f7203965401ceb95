//! HTTP for plugins in the worker: a synchronous `XMLHttpRequest`, which dedicated workers
//! still allow, because the plugin contract is synchronous.
//!
//! The browser follows redirects itself and enforces CORS: a plugin sees the final answer,
//! and a server that does not allow this page's origin answers nothing (status 0, reported
//! as a transient failure).

use tonearm_core::net::{host_allowed, redact};
use tonearm_plugin_api::{HttpClient, HttpRequest, HttpResponse, PluginError, PluginResult};
use wasm_bindgen::JsCast as _;

/// One plugin's HTTP in the worker, limited to the hosts it may reach.
#[derive(Debug, Clone)]
pub struct WorkerHttp {
    plugin: String,
    allowed: Vec<String>,
}

impl WorkerHttp {
    /// HTTP for `plugin`, to `allowed` hosts only.
    pub fn new(plugin: &str, allowed: Vec<String>) -> Self {
        Self {
            plugin: plugin.to_owned(),
            allowed,
        }
    }
}

fn js_error(what: &str) -> impl Fn(wasm_bindgen::JsValue) -> PluginError + '_ {
    move |e| PluginError::Transient(format!("{what}: {}", describe(&e)))
}

fn describe(value: &wasm_bindgen::JsValue) -> String {
    value
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| format!("{value:?}"))
}

impl HttpClient for WorkerHttp {
    fn send(&self, request: HttpRequest) -> PluginResult<HttpResponse> {
        let shown = redact(&request.url);
        if !host_allowed(&request.url, &self.allowed) {
            return Err(PluginError::Unauthorized(format!(
                "{shown} is not among the hosts plugin `{}` may reach ({})",
                self.plugin,
                self.allowed.join(", ")
            )));
        }
        let xhr = web_sys::XmlHttpRequest::new().map_err(js_error("XMLHttpRequest"))?;
        xhr.open_with_async(&request.method, &request.url, false)
            .map_err(|e| PluginError::Invalid(format!("{shown}: {}", describe(&e))))?;
        // Binary bodies; workers allow a response type on synchronous requests.
        xhr.set_response_type(web_sys::XmlHttpRequestResponseType::Arraybuffer);
        for (name, value) in &request.headers {
            xhr.set_request_header(name, value)
                .map_err(|e| PluginError::Invalid(format!("header {name}: {}", describe(&e))))?;
        }
        let sent = if request.body.is_empty() {
            xhr.send()
        } else {
            xhr.send_with_opt_u8_array(Some(&request.body))
        };
        sent.map_err(js_error(&shown))?;
        let status = xhr.status().map_err(js_error(&shown))?;
        if status == 0 {
            return Err(PluginError::Transient(format!(
                "{shown}: no answer (network failure, or the server does not allow this origin)"
            )));
        }
        let headers = xhr
            .get_all_response_headers()
            .map_err(js_error(&shown))?
            .lines()
            .filter_map(|line| {
                let (k, v) = line.split_once(':')?;
                Some((k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            })
            .collect();
        let body = xhr.response().map_err(js_error(&shown))?;
        let body = match body.dyn_into::<js_sys::ArrayBuffer>() {
            Ok(buffer) => js_sys::Uint8Array::new(&buffer).to_vec(),
            Err(_) => Vec::new(),
        };
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}
