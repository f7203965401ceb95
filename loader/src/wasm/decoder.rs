//! A component as a [`Decoder`]: one instance answers `probe`, and each decode session
//! (or description) runs on an instance of its own, kept for the next one when it ends
//! soundly.

use std::sync::{Arc, Mutex, PoisonError};

use tonearm_plugin_api::{
    ByteSource, DecodeSession, Decoder, MediaInfo, PluginError, PluginResult, ProbeHint,
    StreamSpec, TrackTags,
};

use super::instance::{Instance, WasmPlugin};
use crate::base_context;

/// Instances a decoder keeps between sessions. A session on a kept instance skips
/// instantiation and finds the guest's lazily built tables (a decoder's IMDCT and
/// requantisation tables) ready, as a linked-in plugin does.
const IDLE_INSTANCES: usize = 2;

pub(super) struct WasmDecoder {
    pub(super) plugin: Arc<WasmPlugin>,
    /// The instance that answers `probe`.
    pub(super) prober: Mutex<Option<Instance>>,
    /// Instances whose sessions ended without a trap, for the next sessions.
    pub(super) idle: Arc<Mutex<Vec<Instance>>>,
}

impl WasmDecoder {
    /// An instance reading `source`: a kept one, or a new one.
    fn instance_for(&self, source: Arc<dyn ByteSource>) -> PluginResult<Instance> {
        let kept = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match kept {
            Some(mut instance) => {
                instance.store.data_mut().source = Some(source);
                Ok(instance)
            }
            None => self
                .plugin
                .instantiate(base_context(&self.plugin.id), Some(source)),
        }
    }
}

impl Decoder for WasmDecoder {
    fn probe(&self, head: &[u8], hint: &ProbeHint) -> PluginResult<u8> {
        let ctx = || base_context(&self.plugin.id);
        self.plugin
            .with_slot(&self.prober, ctx, |s, b| b.probe(s, head, hint))?
    }

    fn open(
        &self,
        source: Arc<dyn ByteSource>,
        hint: &ProbeHint,
    ) -> PluginResult<Box<dyn DecodeSession>> {
        // One session at a time per instance: a trap ends only that session, and its
        // instance is dropped rather than kept.
        let mut instance = self.instance_for(source)?;
        let spec = match self.plugin.call(&mut instance, |s, b| b.open(s, hint))? {
            Ok(spec) => spec,
            // A refusal (not this format, say) leaves the instance sound.
            Err(refused) => {
                keep(&self.idle, instance);
                return Err(refused);
            }
        };
        let want = (usize::from(spec.channels.max(1)) * 4096).max(16 * 1024);
        Ok(Box::new(WasmSession {
            plugin: self.plugin.clone(),
            instance: Some(instance),
            idle: self.idle.clone(),
            spec,
            want,
        }))
    }

    fn describe(&self, source: Arc<dyn ByteSource>, hint: &ProbeHint) -> PluginResult<MediaInfo> {
        let mut instance = self.instance_for(source.clone())?;
        let described = self
            .plugin
            .call(&mut instance, |s, b| b.describe(s, hint))?;
        keep(&self.idle, instance);
        match described? {
            Some(info) => Ok(info),
            // A component built before `describe` existed: the stream as a session sees it.
            None => Ok(MediaInfo {
                stream: self.open(source, hint)?.spec(),
                tags: TrackTags::default(),
            }),
        }
    }
}

struct WasmSession {
    plugin: Arc<WasmPlugin>,
    /// `None` once it trapped: a trapped instance cannot be entered again.
    instance: Option<Instance>,
    idle: Arc<Mutex<Vec<Instance>>>,
    spec: StreamSpec,
    want: usize,
}

impl WasmSession {
    fn call<T>(
        &mut self,
        f: impl FnOnce(
            &mut wasmtime::Store<super::store::HostState>,
            &super::bindings::Bindings,
        ) -> wasmtime::Result<PluginResult<T>>,
    ) -> PluginResult<T> {
        let instance = self
            .instance
            .as_mut()
            .ok_or_else(|| PluginError::Internal("the session's instance trapped".into()))?;
        let result = self.plugin.call(instance, f);
        if result.is_err() {
            self.instance = None;
        }
        result?
    }
}

/// Keeps a sound instance for a later session, if the pool has room.
fn keep(idle: &Mutex<Vec<Instance>>, mut instance: Instance) {
    instance.store.data_mut().source = None;
    let mut idle = idle.lock().unwrap_or_else(PoisonError::into_inner);
    if idle.len() < IDLE_INSTANCES {
        idle.push(instance);
    }
}

impl Drop for WasmSession {
    fn drop(&mut self) {
        if let Some(instance) = self.instance.take() {
            keep(&self.idle, instance);
        }
    }
}

impl DecodeSession for WasmSession {
    fn spec(&self) -> StreamSpec {
        self.spec.clone()
    }

    fn read(&mut self, out: &mut Vec<f32>) -> PluginResult<usize> {
        let max = u32::try_from(self.want).unwrap_or(u32::MAX);
        *out = self.call(|s, b| b.read(s, max))?;
        Ok(out.len() / usize::from(self.spec.channels.max(1)))
    }

    fn seek(&mut self, frame: u64) -> PluginResult<u64> {
        self.call(|s, b| b.seek(s, frame))
    }
}
