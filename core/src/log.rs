//! Plugin logs into `tracing`, and the wall clock.

use tonearm_plugin_api::{Clock, Log, LogLevel};

/// Routes a plugin's log lines into the host's `tracing` output, tagged with its id.
#[derive(Debug, Clone)]
pub struct TracingLog {
    plugin: String,
}

impl TracingLog {
    /// A log for the plugin `plugin`.
    pub fn new(plugin: &str) -> Self {
        Self {
            plugin: plugin.to_owned(),
        }
    }
}

impl Log for TracingLog {
    fn log(&self, level: LogLevel, message: &str) {
        let plugin = self.plugin.as_str();
        match level {
            LogLevel::Trace => tracing::trace!(target: "tonearm::plugin", plugin, "{message}"),
            LogLevel::Debug => tracing::debug!(target: "tonearm::plugin", plugin, "{message}"),
            LogLevel::Info => tracing::info!(target: "tonearm::plugin", plugin, "{message}"),
            LogLevel::Warn => tracing::warn!(target: "tonearm::plugin", plugin, "{message}"),
            LogLevel::Error => tracing::error!(target: "tonearm::plugin", plugin, "{message}"),
        }
    }
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[cfg(not(all(target_arch = "wasm32", not(target_os = "wasi"))))]
    fn now_unix_ms(&self) -> i64 {
        use std::time::{SystemTime, UNIX_EPOCH};
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }

    // `SystemTime::now` panics in the browser: ask JavaScript.
    #[cfg(all(target_arch = "wasm32", not(target_os = "wasi")))]
    fn now_unix_ms(&self) -> i64 {
        js_sys::Date::now() as i64
    }
}
