//! A host context for a plugin's own tests: what `Instantiate` functions are given,
//! without a Tonearm host. Log lines go to standard error, the clock is the system's, and
//! state is kept in memory.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use tonearm_plugin_api::{Clock, HostContext, KeyValueStore, Log, LogLevel, PluginResult};

/// A context with a log, a clock and an in-memory state store; grant more with its
/// `with_*` methods (`with_http`, `with_fs`, `with_setting`).
///
/// ```
/// let ctx = tonearm_conformance::host::test_context("my-plugin")
///     .with_setting("endpoint.api", "http://127.0.0.1:8080");
/// assert!(ctx.state.is_some());
/// ```
pub fn test_context(plugin_id: &str) -> HostContext {
    HostContext::new(
        Arc::new(StderrLog(plugin_id.to_owned())),
        Arc::new(SystemClock),
    )
    .with_state(Arc::new(MemoryState::default()))
}

/// Writes a plugin's log lines to standard error, prefixed with its id.
#[derive(Debug)]
pub struct StderrLog(pub String);

impl Log for StderrLog {
    fn log(&self, level: LogLevel, message: &str) {
        eprintln!("[{} {level:?}] {message}", self.0);
    }
}

/// The system's wall clock.
#[derive(Debug)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// Plugin state in memory, as a host would keep it between calls.
#[derive(Debug, Default)]
pub struct MemoryState(Mutex<BTreeMap<String, Vec<u8>>>);

impl KeyValueStore for MemoryState {
    fn get(&self, key: &str) -> PluginResult<Option<Vec<u8>>> {
        Ok(self.map().get(key).cloned())
    }

    fn put(&self, key: &str, value: &[u8]) -> PluginResult<()> {
        self.map().insert(key.to_owned(), value.to_vec());
        Ok(())
    }

    fn delete(&self, key: &str) -> PluginResult<()> {
        self.map().remove(key);
        Ok(())
    }

    fn keys(&self, prefix: &str) -> PluginResult<Vec<String>> {
        Ok(self
            .map()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }
}

impl MemoryState {
    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
