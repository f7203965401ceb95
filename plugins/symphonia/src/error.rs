//! Maps Symphonia's errors onto the plugin error kinds.

use std::io;

use symphonia::core::errors::Error;
use tonearm_plugin_api::PluginError;

/// Converts a Symphonia error into the plugin error a host can act on.
pub(crate) fn map(err: Error) -> PluginError {
    match err {
        Error::IoError(e) => map_io(e),
        Error::DecodeError(what) => PluginError::Corrupt(format!("undecodable data: {what}")),
        Error::SeekError(kind) => PluginError::Invalid(format!("cannot seek: {kind:?}")),
        Error::Unsupported(what) => PluginError::Unsupported(what.to_string()),
        Error::LimitError(what) => PluginError::Corrupt(format!("limit exceeded: {what}")),
        Error::ResetRequired => {
            PluginError::Unsupported("the stream changed its tracks midway (chained stream)".into())
        }
        other => PluginError::Corrupt(other.to_string()),
    }
}

fn map_io(err: io::Error) -> PluginError {
    // Errors from our ByteSource adapter carry the original plugin error; unwrap it so the
    // host sees e.g. `NotFound` rather than a generic I/O failure.
    if let Some(inner) = err.get_ref().and_then(|e| e.downcast_ref::<PluginError>()) {
        return inner.clone();
    }
    match err.kind() {
        io::ErrorKind::UnexpectedEof => {
            PluginError::Corrupt("the stream ends early (truncated file)".into())
        }
        _ => PluginError::Io(err.to_string()),
    }
}
