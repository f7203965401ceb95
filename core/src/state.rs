//! Plugin state in memory: for tests and one-off runs, and buffered for a sync that saves
//! it to the library.

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

/// A source's plugin state read from the library before a sync and written back with its
/// progress: plugins call the store synchronously, and the browser's storage is not.
#[derive(Debug)]
pub struct BufferedState {
    values: Mutex<BTreeMap<String, Vec<u8>>>,
    /// Keys changed since the last [`BufferedState::take_changes`]: a value, or a delete.
    changed: Mutex<BTreeMap<String, Option<Vec<u8>>>>,
}

impl BufferedState {
    /// State holding `values`, as loaded.
    pub fn new(values: BTreeMap<String, Vec<u8>>) -> Self {
        Self {
            values: Mutex::new(values),
            changed: Mutex::new(BTreeMap::new()),
        }
    }

    /// The changes since the last call, for the library to save.
    pub fn take_changes(&self) -> Vec<(String, Option<Vec<u8>>)> {
        std::mem::take(&mut *self.changed.lock().unwrap_or_else(PoisonError::into_inner))
            .into_iter()
            .collect()
    }

    fn record(&self, key: &str, value: Option<Vec<u8>>) {
        self.changed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_owned(), value);
    }
}

impl KeyValueStore for BufferedState {
    fn get(&self, key: &str) -> PluginResult<Option<Vec<u8>>> {
        Ok(self
            .values
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned())
    }

    fn put(&self, key: &str, value: &[u8]) -> PluginResult<()> {
        self.values
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_owned(), value.to_vec());
        self.record(key, Some(value.to_vec()));
        Ok(())
    }

    fn delete(&self, key: &str) -> PluginResult<()> {
        self.values
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
        self.record(key, None);
        Ok(())
    }

    fn keys(&self, prefix: &str) -> PluginResult<Vec<String>> {
        let map = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(map
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffered_state_reports_each_key_last_change_once() {
        let state = BufferedState::new(BTreeMap::from([("a".into(), vec![1])]));
        state.put("b", &[2]).unwrap();
        state.put("b", &[3]).unwrap();
        state.delete("a").unwrap();
        assert_eq!(state.get("a").unwrap(), None);
        assert_eq!(state.keys("").unwrap(), ["b"]);
        assert_eq!(
            state.take_changes(),
            [("a".to_owned(), None), ("b".to_owned(), Some(vec![3]))]
        );
        assert!(state.take_changes().is_empty());
    }
}
