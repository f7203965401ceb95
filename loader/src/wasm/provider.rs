//! A component as a [`StorageProvider`] (one instance per source) or a [`MetadataSource`].

use std::sync::{Arc, Mutex};

use tonearm_plugin_api::{
    ByteRange, Candidate, ChangePage, HostContext, ListPage, MetadataSource, PluginError,
    PluginResult, StorageProvider, TrackQuery,
};

use super::bindings::Bindings;
use super::instance::{Instance, WasmPlugin};
use super::store::HostState;
use crate::{ProviderFactory, base_context};

pub(super) struct WasmFactory(pub(super) Arc<WasmPlugin>);

impl ProviderFactory for WasmFactory {
    fn create(&self, ctx: &HostContext) -> PluginResult<Arc<dyn StorageProvider>> {
        let instance = self.0.instantiate(ctx.clone(), None)?;
        Ok(Arc::new(WasmProvider {
            plugin: self.0.clone(),
            ctx: ctx.clone(),
            instance: Mutex::new(Some(instance)),
        }))
    }
}

struct WasmProvider {
    plugin: Arc<WasmPlugin>,
    ctx: HostContext,
    instance: Mutex<Option<Instance>>,
}

impl WasmProvider {
    fn call<T>(
        &self,
        f: impl FnOnce(&mut wasmtime::Store<HostState>, &Bindings) -> wasmtime::Result<PluginResult<T>>,
    ) -> PluginResult<T> {
        self.plugin
            .with_slot(&self.instance, || self.ctx.clone(), f)?
    }
}

impl StorageProvider for WasmProvider {
    fn change_cursor(&self) -> PluginResult<String> {
        self.call(|s, b| b.change_cursor(s))
    }

    fn list(&self, page_token: Option<&str>) -> PluginResult<ListPage> {
        self.call(|s, b| b.list(s, page_token))
    }

    fn changes(&self, cursor: &str) -> PluginResult<ChangePage> {
        self.call(|s, b| b.changes(s, cursor))
    }

    fn read_range(&self, id: &str, range: ByteRange) -> PluginResult<Vec<u8>> {
        self.call(|s, b| b.read_range(s, id, range))
    }
}

pub(super) struct WasmMetadata {
    pub(super) plugin: Arc<WasmPlugin>,
    pub(super) instance: Mutex<Option<Instance>>,
}

impl MetadataSource for WasmMetadata {
    fn lookup(&self, query: &TrackQuery) -> PluginResult<Vec<Candidate>> {
        let json =
            serde_json::to_string(query).map_err(|e| PluginError::Internal(e.to_string()))?;
        let ctx = || base_context(&self.plugin.id);
        let answer = self
            .plugin
            .with_slot(&self.instance, ctx, |s, b| b.lookup(s, &json))??;
        serde_json::from_str(&answer).map_err(|e| PluginError::Corrupt(format!("candidates: {e}")))
    }
}
