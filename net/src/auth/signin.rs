//! The authorization code grant with PKCE and a loopback redirect (RFC 8252): the host
//! listens on 127.0.0.1, a browser signs the person in, and the code comes back to us.

use std::time::Duration;

use oauth2::AuthorizationCode;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

pub use tonearm_core::auth::OAuthApp;
use tonearm_core::auth::{EndpointError, authorize, describe};

use super::StoredTokens;

/// Why signing in failed.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// An endpoint is not a URL.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// The service or the person said no.
    #[error("sign-in was refused: {0}")]
    Denied(String),
    /// The redirect carried another `state` than we sent: not our sign-in.
    #[error("the sign-in answer does not match the request (state mismatch); try again")]
    StateMismatch,
    /// Nobody finished signing in in time.
    #[error("no sign-in arrived within {0:?}")]
    Timeout(Duration),
    /// The loopback listener failed.
    #[error("the sign-in listener on 127.0.0.1 failed: {0}")]
    Listener(#[from] std::io::Error),
    /// The code could not be exchanged for tokens.
    #[error("exchanging the sign-in code failed: {0}")]
    Exchange(String),
}

/// Sends oauth2's requests with the host's reqwest client.
pub(crate) async fn send(
    client: reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, reqwest::Error> {
    let (parts, body) = request.into_parts();
    let span = tracing::info_span!("oauth", url = %crate::http::redact(&parts.uri.to_string()));
    let _enter = span.enter();
    let response = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    tracing::debug!(
        status = response.status().as_u16(),
        "token endpoint answered"
    );
    let mut answer = oauth2::http::Response::builder().status(response.status());
    if let Some(headers) = answer.headers_mut() {
        *headers = response.headers().clone();
    }
    let body = response.bytes().await?.to_vec();
    // The builder only fails on invalid parts, and these came from a parsed response.
    Ok(answer
        .body(body)
        .unwrap_or_else(|_| oauth2::http::Response::new(Vec::new())))
}

/// Signs in: listens on 127.0.0.1, hands the authorization URL to `open` (print it, or
/// start a browser), waits up to `timeout` for the redirect, checks its `state` and
/// exchanges the code (with the PKCE verifier) for tokens.
pub async fn sign_in(
    app: &OAuthApp,
    http: &reqwest::Client,
    open: impl FnOnce(&str),
    timeout: Duration,
) -> Result<StoredTokens, SignInError> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let redirect = format!("http://127.0.0.1:{}/", listener.local_addr()?.port());
    let authorization = authorize(app, &redirect)?;
    open(&authorization.url);

    let (code, state) = tokio::time::timeout(timeout, wait_for_redirect(&listener))
        .await
        .map_err(|_| SignInError::Timeout(timeout))??;
    if state.as_deref() != Some(authorization.state.secret().as_str()) {
        return Err(SignInError::StateMismatch);
    }
    let http = http.clone();
    let send = move |r| send(http.clone(), r);
    let token = authorization
        .client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(authorization.verifier)
        .request_async(&send)
        .await
        .map_err(|e| SignInError::Exchange(describe(&e)))?;
    Ok(StoredTokens::issued(app, &token, super::session::now()))
}

/// Serves the loopback redirect until one carries a code or an error; returns the code
/// and the state it came with.
async fn wait_for_redirect(
    listener: &TcpListener,
) -> Result<(String, Option<String>), SignInError> {
    loop {
        let (mut stream, _) = listener.accept().await?;
        let mut head = Vec::with_capacity(1024);
        let mut buf = [0u8; 1024];
        // The request line is all we need; stop at the end of the head or 16 KiB.
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 << 10 {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        let line = String::from_utf8_lossy(&head);
        let target = line
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("/");
        let query = oauth2::url::Url::parse(&format!("http://127.0.0.1{target}")).ok();
        let get = |name: &str| {
            query.as_ref().and_then(|u| {
                u.query_pairs()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.into_owned())
            })
        };
        let (code, error, state) = (get("code"), get("error"), get("state"));
        let (status, message) = match (&code, &error) {
            (Some(_), _) => (
                "200 OK",
                "Signed in. You can close this tab and go back to Tonearm.",
            ),
            (None, Some(_)) => ("200 OK", "Sign-in was refused. You can close this tab."),
            // A favicon or a stray request: keep waiting for the redirect.
            (None, None) => ("404 Not Found", "Not the sign-in redirect."),
        };
        let body = format!("<!doctype html><title>Tonearm</title><p>{message}</p>");
        let reply = format!(
            "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        // The person's browser going away does not change what the redirect said.
        let _ = stream.write_all(reply.as_bytes()).await;
        let _ = stream.shutdown().await;
        match (code, error) {
            (Some(code), _) => return Ok((code, state)),
            (None, Some(error)) => return Err(SignInError::Denied(error)),
            (None, None) => continue,
        }
    }
}
