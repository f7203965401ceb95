//! The network as the native host gives it to plugins, and signing in to the services
//! sources live in.
//!
//! [`http`] sends the requests plugins describe, with one client, per-source allowlists,
//! pacing, retries and tokens; [`auth`] signs sources in (OAuth 2 with PKCE and a loopback
//! redirect), keeps their tokens and refreshes them. Secrets never reach a log line.

pub mod auth;
pub mod cache;
pub mod http;
mod pace;

use std::sync::Arc;

pub use cache::HttpCache;
pub use http::{HttpService, HttpSettings, HttpStats};

/// What providers that reach the network need from the host: the HTTP stack and where
/// sources' tokens are kept.
#[derive(Clone)]
pub struct Network {
    /// The HTTP stack.
    pub http: Arc<HttpService>,
    /// Where sources' tokens are kept.
    pub tokens: Arc<auth::TokenStore>,
}
