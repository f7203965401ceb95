//! A component as a [`StorageProvider`] (one instance per source) or a [`MetadataSource`]
//! (one instance per use).

use std::sync::{Arc, Mutex};

use tonearm_plugin_api::{
    Artwork, ArtworkRequest, ByteRange, Candidate, ChangePage, HostContext, ListPage, Lyrics,
    MetadataSource, PluginError, PluginResult, StorageProvider, TrackQuery,
};

use super::bindings::Bindings;
use super::instance::{Instance, WasmPlugin};
use super::store::HostState;
use crate::{MetadataFactory, ProviderFactory};

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

/// Makes a metadata source instance per use, each its own component instance over the
/// capabilities granted for that use.
pub(super) struct WasmMetadataFactory(pub(super) Arc<WasmPlugin>);

impl MetadataFactory for WasmMetadataFactory {
    fn create(&self, ctx: &HostContext) -> PluginResult<Arc<dyn MetadataSource>> {
        let instance = self.0.instantiate(ctx.clone(), None)?;
        Ok(Arc::new(WasmMetadata {
            plugin: self.0.clone(),
            ctx: ctx.clone(),
            instance: Mutex::new(Some(instance)),
        }))
    }
}

struct WasmMetadata {
    plugin: Arc<WasmPlugin>,
    ctx: HostContext,
    instance: Mutex<Option<Instance>>,
}

impl WasmMetadata {
    fn call<T>(
        &self,
        f: impl FnOnce(&mut wasmtime::Store<HostState>, &Bindings) -> wasmtime::Result<PluginResult<T>>,
    ) -> PluginResult<T> {
        self.plugin
            .with_slot(&self.instance, || self.ctx.clone(), f)?
    }
}

/// Encodes an argument `what` for the component.
fn to_json<T: serde::Serialize>(value: &T, what: &str) -> PluginResult<String> {
    serde_json::to_string(value)
        .map_err(|e| PluginError::Internal(format!("cannot encode {what}: {e}")))
}

/// Parses the component's answer `what`.
fn from_json<T: serde::de::DeserializeOwned>(json: &str, what: &str) -> PluginResult<T> {
    serde_json::from_str(json).map_err(|e| {
        PluginError::Corrupt(format!("the plugin answered {what} that do not parse: {e}"))
    })
}

impl MetadataSource for WasmMetadata {
    fn identify(&self, query: &TrackQuery) -> PluginResult<Vec<Candidate>> {
        let json = to_json(query, "query")?;
        let answer = self.call(|s, b| b.identify(s, &json))?;
        from_json(&answer, "candidates")
    }

    fn artwork(&self, request: &ArtworkRequest) -> PluginResult<Option<Artwork>> {
        let json = to_json(request, "artwork request")?;
        self.call(|s, b| b.artwork(s, &json))
    }

    fn lyrics(&self, query: &TrackQuery) -> PluginResult<Option<Lyrics>> {
        let json = to_json(query, "query")?;
        match self.call(|s, b| b.lyrics(s, &json))? {
            Some(answer) => from_json(&answer, "lyrics").map(Some),
            None => Ok(None),
        }
    }
}
