//! The service's errors as the host understands them: it retries what may pass, asks the
//! user to sign in again, or restarts a listing.

use std::time::Duration;

use tonearm_plugin_api::{HttpResponse, PluginError};

/// The error for a response that is not a success.
pub fn from_status(what: &str, response: &HttpResponse) -> PluginError {
    let detail = format!(
        "{what}: {} {}",
        response.status,
        String::from_utf8_lossy(&response.body)
            .chars()
            .take(200)
            .collect::<String>()
    );
    match response.status {
        400 => PluginError::Invalid(detail),
        401 | 403 => PluginError::Unauthorized(detail),
        404 => PluginError::NotFound(detail),
        410 => PluginError::CursorExpired(detail),
        429 => PluginError::RateLimited {
            retry_after: response
                .header("retry-after")
                .and_then(|s| s.trim().parse().ok())
                .map(Duration::from_secs),
        },
        500..=599 => PluginError::Transient(detail),
        _ => PluginError::Invalid(detail),
    }
}
