//! Signing in to the services sources live in, and keeping their tokens fresh.
//!
//! OAuth 2 through the `oauth2` crate: the loopback redirect on 127.0.0.1 that a native
//! sign-in comes back to ([`signin`]; the facade makes the URL and exchanges the code),
//! tokens kept outside the library database in an owner-only file ([`store`]), and
//! per-source sessions that refresh ahead of expiry, persist rotated refresh tokens at once and report a dead grant as "sign in
//! again" ([`session`]). Tokens, codes and verifiers never reach a log line.

pub mod session;
pub mod signin;
pub mod store;

pub use session::AuthSession;
pub use signin::{Loopback, Redirect, SignInError};
pub use store::{StoredTokens, TokenStore, TokenStoreError};

/// Why a source has no usable token.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The grant is gone (revoked, expired, password changed): a person must sign in.
    #[error(
        "source `{source_name}` needs you to sign in again ({reason}): run `tonearm source signin {source_name}`"
    )]
    NeedsSignIn {
        /// The source.
        source_name: String,
        /// What the server said.
        reason: String,
    },
    /// The token endpoint could not be reached or answered nonsense; worth retrying.
    #[error("refreshing the token of source `{source_name}` failed: {reason}")]
    Refresh {
        /// The source.
        source_name: String,
        /// What went wrong.
        reason: String,
    },
    /// The token file could not be written or read.
    #[error(transparent)]
    Store(#[from] TokenStoreError),
}
