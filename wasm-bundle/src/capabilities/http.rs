//! HTTP for plugins in the worker: a synchronous `XMLHttpRequest`, which dedicated workers
//! still allow, because the plugin contract is synchronous.
//!
//! The browser follows redirects itself and enforces CORS: a plugin sees the final answer,
//! and a server that does not allow this page's origin answers nothing (status 0, reported
//! as a transient failure). Waiting out a `429` is left to the sync engine's retries,
//! which wait on a timer rather than block the worker.

use std::sync::Arc;

use tonearm_core::net::{host_allowed, redact};
use tonearm_plugin_api::{HttpClient, HttpRequest, HttpResponse, PluginError, PluginResult};
use wasm_bindgen::JsCast as _;

#[cfg(feature = "_oauth")]
use crate::auth::WorkerSession;
use crate::capabilities::WorkerNet;

/// One plugin's HTTP in the worker, limited to the hosts it may reach, with a source's
/// access token for the origins that take it.
#[derive(Debug, Clone)]
pub struct WorkerHttp {
    plugin: String,
    allowed: Vec<String>,
    /// The worker's budgets and cache, for a plugin that keeps to them.
    net: Option<Arc<WorkerNet>>,
    #[cfg(feature = "_oauth")]
    auth: Option<(Arc<WorkerSession>, Vec<String>)>,
}

impl WorkerHttp {
    /// HTTP for `plugin`, to `allowed` hosts only.
    pub fn new(plugin: &str, allowed: Vec<String>) -> Self {
        Self {
            plugin: plugin.to_owned(),
            allowed,
            net: None,
            #[cfg(feature = "_oauth")]
            auth: None,
        }
    }

    /// Keeps to the worker's budgets (the services' rate limits) and answers from its
    /// HTTP cache where it may.
    pub fn with_net(mut self, net: Arc<WorkerNet>) -> Self {
        self.net = Some(net);
        self
    }

    /// Sends `session`'s access token to `token_origins` (`scheme://host:port`) only.
    #[cfg(feature = "_oauth")]
    pub fn with_auth(mut self, session: Arc<WorkerSession>, token_origins: Vec<String>) -> Self {
        self.auth = Some((session, token_origins));
        self
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

/// Sends one request with a synchronous `XMLHttpRequest`. Logs and errors show the URL
/// without its query.
fn send_xhr(request: &HttpRequest) -> PluginResult<HttpResponse> {
    let shown = redact(&request.url);
    let _span = tracing::debug_span!("http", method = %request.method, url = %shown).entered();
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
    tracing::debug!(status, "answered");
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

impl HttpClient for WorkerHttp {
    fn send(&self, request: HttpRequest) -> PluginResult<HttpResponse> {
        if !host_allowed(&request.url, &self.allowed) {
            return Err(PluginError::Unauthorized(format!(
                "{} is not among the hosts plugin `{}` may reach ({})",
                redact(&request.url),
                self.plugin,
                self.allowed.join(", ")
            )));
        }
        if let Some(net) = &self.net {
            return net.send(request, send_xhr);
        }
        #[cfg(feature = "_oauth")]
        return self.send_signed_in(request);
        #[cfg(not(feature = "_oauth"))]
        send_xhr(&request)
    }
}

#[cfg(feature = "_oauth")]
impl WorkerHttp {
    /// Sends with the source's token where it belongs, refreshing once after a `401`.
    fn send_signed_in(&self, mut request: HttpRequest) -> PluginResult<HttpResponse> {
        use tonearm_core::net::origin;

        let session = self
            .auth
            .as_ref()
            .filter(|(_, origins)| origins.contains(&origin(&request.url)))
            .map(|(session, _)| session);
        let Some(session) = session else {
            return send_xhr(&request);
        };
        // The plugin never sees the token: it is added here, for the origins that take it.
        request
            .headers
            .retain(|(name, _)| !name.eq_ignore_ascii_case("authorization"));
        let token = session.access_token()?;
        let mut with_token = request.clone();
        with_token
            .headers
            .push(("authorization".into(), format!("Bearer {token}")));
        let answer = send_xhr(&with_token)?;
        if answer.status != 401 {
            return Ok(answer);
        }
        // Revoked or expired early: refresh once and try again.
        let token = session.refresh_rejected(&token)?;
        request
            .headers
            .push(("authorization".into(), format!("Bearer {token}")));
        send_xhr(&request)
    }
}
