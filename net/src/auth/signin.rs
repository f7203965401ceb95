//! The loopback redirect of a native sign-in (RFC 8252): the host listens on 127.0.0.1,
//! a browser signs the person in, and the code comes back to us. The facade's
//! `begin_sign_in` / `complete_sign_in` make the URL and exchange the code.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

/// Why signing in failed.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The service or the person said no.
    #[error("sign-in was refused: {0}")]
    Denied(String),
    /// The redirect carried a code but no state, so it cannot be ours.
    #[error("the sign-in answer carries no state; try again")]
    NoState,
    /// Nobody finished signing in in time.
    #[error("no sign-in arrived within {0:?}")]
    Timeout(Duration),
    /// The loopback listener failed.
    #[error("the sign-in listener on 127.0.0.1 failed: {0}")]
    Listener(#[from] std::io::Error),
}

/// A listener on 127.0.0.1 for one sign-in's redirect.
#[derive(Debug)]
pub struct Loopback {
    listener: TcpListener,
}

/// What the redirect carried: the code, and the state that names the sign-in. Its
/// `Debug` shows nothing secret.
pub struct Redirect {
    /// The authorization code.
    pub code: String,
    /// The state the service sent back.
    pub state: String,
}

impl std::fmt::Debug for Redirect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redirect").finish_non_exhaustive()
    }
}

impl Loopback {
    /// Listens on a free port of 127.0.0.1.
    pub async fn bind() -> Result<Self, SignInError> {
        Ok(Self {
            listener: TcpListener::bind(("127.0.0.1", 0)).await?,
        })
    }

    /// The redirect URI to sign in with.
    pub fn redirect_uri(&self) -> Result<String, SignInError> {
        Ok(format!(
            "http://127.0.0.1:{}/",
            self.listener.local_addr()?.port()
        ))
    }

    /// Waits up to `timeout` for the redirect, answering the browser with a page that
    /// says how it went.
    pub async fn wait(&self, timeout: Duration) -> Result<Redirect, SignInError> {
        tokio::time::timeout(timeout, wait_for_redirect(&self.listener))
            .await
            .map_err(|_| SignInError::Timeout(timeout))?
    }
}

/// Serves the loopback redirect until one carries a code or an error; returns the code
/// and the state it came with.
async fn wait_for_redirect(listener: &TcpListener) -> Result<Redirect, SignInError> {
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
            (Some(_), _) if state.is_none() => (
                "400 Bad Request",
                "The sign-in answer carries no state; start again from Tonearm.",
            ),
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
            (Some(code), _) => {
                return state
                    .map(|state| Redirect { code, state })
                    .ok_or(SignInError::NoState);
            }
            (None, Some(error)) => return Err(SignInError::Denied(error)),
            (None, None) => continue,
        }
    }
}
