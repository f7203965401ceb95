//! Plugin state kept in memory: for tests, one-off runs and the browser (which persists it
//! elsewhere).

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use tonearm_plugin_api::{KeyValueStore, PluginResult};

/// A state store in memory, for tests and one-off runs.
#[derive(Debug, Default)]
pub struct MemoryState(Mutex<BTreeMap<String, Vec<u8>>>);

impl KeyValueStore for MemoryState {
    fn get(&self, key: &str) -> PluginResult<Option<Vec<u8>>> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned())
    }

    fn put(&self, key: &str, value: &[u8]) -> PluginResult<()> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_owned(), value.to_vec());
        Ok(())
    }

    fn delete(&self, key: &str) -> PluginResult<()> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
        Ok(())
    }

    fn keys(&self, prefix: &str) -> PluginResult<Vec<String>> {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(map
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }
}
