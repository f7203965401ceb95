//! The one error type every plugin call returns.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The result of a plugin call.
pub type PluginResult<T> = Result<T, PluginError>;

/// What went wrong in a plugin call, by kind, so the host can react without parsing text.
///
/// Every variant that carries a `String` carries a human-readable detail; hosts match on the
/// variant, never on the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum PluginError {
    /// The entry, file or resource does not exist (any more).
    #[error("not found: {0}")]
    NotFound(String),
    /// The credentials are missing, expired or revoked.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The service asked us to slow down; retry after the given delay if one was stated.
    #[error("rate limited{}", retry_after.map(|d| format!(" (retry after {} ms)", d.as_millis())).unwrap_or_default())]
    RateLimited {
        /// How long the service asked us to wait, if it said.
        retry_after: Option<Duration>,
    },
    /// A failure that may go away on retry (a timeout, a 5xx, a dropped connection).
    #[error("transient failure: {0}")]
    Transient(String),
    /// The change cursor is no longer valid; the source must be listed again in full.
    #[error("change cursor expired: {0}")]
    CursorExpired(String),
    /// The plugin or the host does not support this operation or input.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The caller passed something malformed (a bad id, range or setting).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The data is damaged: a truncated or corrupt file, an unparseable response.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// A host I/O capability failed.
    #[error("I/O error: {0}")]
    Io(String),
    /// The plugin itself failed: a panic, a trap, a broken invariant.
    #[error("plugin failure: {0}")]
    Internal(String),
}

impl PluginError {
    /// Whether retrying the same call later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Transient(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_round_trip_through_serde() {
        let errors = [
            PluginError::NotFound("a/b.flac".into()),
            PluginError::RateLimited {
                retry_after: Some(Duration::from_millis(1500)),
            },
            PluginError::RateLimited { retry_after: None },
            PluginError::CursorExpired("410".into()),
        ];
        for e in errors {
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(serde_json::from_str::<PluginError>(&json).unwrap(), e);
        }
    }

    #[test]
    fn retryable_kinds() {
        assert!(PluginError::Transient("x".into()).is_retryable());
        assert!(PluginError::RateLimited { retry_after: None }.is_retryable());
        assert!(!PluginError::Corrupt("x".into()).is_retryable());
        assert_eq!(
            PluginError::RateLimited {
                retry_after: Some(Duration::from_secs(2))
            }
            .to_string(),
            "rate limited (retry after 2000 ms)"
        );
    }
}
