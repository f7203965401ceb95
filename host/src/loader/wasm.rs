//! Sandboxed plugins: wasm components run by wasmtime.
//!
//! A component reaches nothing but the `host` imports of the WIT contract, and through
//! them only the capabilities its manifest asked for. Every call runs with an epoch
//! deadline (and optional fuel) and every instance within a memory limit; a trapped
//! instance is dropped and a fresh one made on the next call. Compiled components are
//! cached on disk by content hash and engine (wasmtime version and settings).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tonearm_plugin_api::{
    ByteSource, Candidate, ChangePage, DecodeSession, Decoder, HostContext, ListPage,
    MetadataSource, PluginError, PluginKind, PluginManifest, PluginResult, ProbeHint,
    StorageProvider, StreamSpec, TrackQuery, api_version, check_api_compatibility,
};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder};

use super::bundled::BundledComponent;
use super::{LoadedPlugin, Origin, PluginHandle, ProviderFactory, base_context};
use crate::capabilities::http::{allowed_hosts, host_allowed};

/// Bindings generated from the WIT contract.
mod bindings {
    #![allow(missing_docs)]
    wasmtime::component::bindgen!({
        path: "../plugin-api/wit/since_v0.1.0",
        world: "plugin-component",
    });
}

tonearm_plugin_api::__wit_conversions!(self::bindings::tonearm::plugin::types);

use self::bindings::tonearm::plugin::types as wit;
use self::bindings::{PluginComponent, PluginComponentPre, tonearm};

/// The WIT package version this host implements.
const WIT_PACKAGE: &str = "tonearm:plugin";
/// How often the epoch advances; deadlines are counted in these ticks.
const TICK: Duration = Duration::from_millis(10);
/// The most bytes one host read hands a component at once.
const MAX_READ: u64 = 16 * 1024 * 1024;

/// Limits every component runs under.
#[derive(Debug, Clone)]
pub struct WasmLimits {
    /// Linear memory per instance, in bytes.
    pub memory_bytes: usize,
    /// Wall time one call may take.
    pub call_timeout: Duration,
    /// Fuel per call, if fuel metering is wanted (slower; deterministic).
    pub fuel: Option<u64>,
    /// Where compiled components are cached; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
}

impl Default for WasmLimits {
    fn default() -> Self {
        Self {
            memory_bytes: 256 << 20,
            call_timeout: Duration::from_secs(10),
            fuel: None,
            cache_dir: None,
        }
    }
}

/// Why a component was refused.
#[derive(Debug, thiserror::Error)]
pub enum WasmLoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not a component wasmtime accepts.
    #[error("{path} is not a usable Tonearm component: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What wasmtime said.
        reason: String,
    },
    /// Built against another version of the WIT contract.
    #[error(transparent)]
    Version(#[from] Box<tonearm_plugin_api::VersionMismatch>),
}

/// The wasmtime engine all components share, with its epoch ticker.
#[derive(Clone)]
pub struct WasmRuntime {
    engine: Engine,
    limits: WasmLimits,
}

impl WasmRuntime {
    /// An engine enforcing `limits`.
    pub fn new(limits: WasmLimits) -> Result<Self, String> {
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .consume_fuel(limits.fuel.is_some());
        let engine = Engine::new(&config).map_err(|e| format!("cannot start wasmtime: {e}"))?;
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(TICK);
                }
            })
            .map_err(|e| format!("cannot start the epoch ticker: {e}"))?;
        Ok(Self { engine, limits })
    }

    /// Compiles (or takes from the cache) and checks the component at `path`, and reads
    /// its manifest.
    pub fn load(&self, path: &Path) -> Result<LoadedPlugin, WasmLoadError> {
        let component = self.component(path)?;
        self.instantiate_checked(path, component, Origin::Wasm(path.to_owned()))
    }

    /// Compiles (or takes from the cache) and checks a component built into this binary.
    pub fn load_bundled(&self, bundled: &BundledComponent) -> Result<LoadedPlugin, WasmLoadError> {
        let label = PathBuf::from(format!("<bundled {}>", bundled.name));
        let component = self
            .compile(bundled.sha256, bundled.bytes)
            .map_err(|reason| WasmLoadError::Invalid {
                path: label.clone(),
                reason,
            })?;
        self.instantiate_checked(&label, component, Origin::Bundled)
    }

    /// Checks `component`'s contract version, links it, reads its manifest and wraps it
    /// as a plugin; `path` names it in errors.
    fn instantiate_checked(
        &self,
        path: &Path,
        component: Component,
        origin: Origin,
    ) -> Result<LoadedPlugin, WasmLoadError> {
        let invalid = |reason: String| WasmLoadError::Invalid {
            path: path.to_owned(),
            reason,
        };
        self.check_contract_version(path, &component)?;

        let mut linker: Linker<HostState> = Linker::new(&self.engine);
        PluginComponent::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .map_err(|e| invalid(e.to_string()))?;
        // Rust's std seeds every HashMap from `wasi:random/insecure-seed`: a value that
        // grants nothing, so it is the one WASI function defined. Every other WASI import a
        // std guest carries traps if it is ever called.
        for (name, _) in component.component_type().imports(&self.engine) {
            if name.starts_with("wasi:random/insecure-seed@") {
                linker
                    .instance(name)
                    .and_then(|mut i| {
                        i.func_wrap("insecure-seed", |_, (): ()| Ok((insecure_seed(),)))
                    })
                    .map_err(|e| invalid(e.to_string()))?;
            }
        }
        linker
            .define_unknown_imports_as_traps(&component)
            .map_err(|e| invalid(e.to_string()))?;
        let pre = PluginComponentPre::new(
            linker
                .instantiate_pre(&component)
                .map_err(|e| invalid(e.to_string()))?,
        )
        .map_err(|e| invalid(e.to_string()))?;

        let mut plugin = WasmPlugin {
            id: path.display().to_string(),
            runtime: self.clone(),
            pre,
            allowed_hosts: Vec::new(),
        };
        let mut instance = plugin
            .instantiate(base_context("wasm"), None)
            .map_err(|e| invalid(e.to_string()))?;
        let json = plugin
            .call(&mut instance, |s, b| {
                b.tonearm_plugin_plugin().call_manifest(s)
            })
            .map_err(|e| invalid(format!("reading its manifest: {e}")))?;
        let manifest: PluginManifest = serde_json::from_str(&json)
            .map_err(|e| invalid(format!("its manifest does not parse: {e}")))?;
        check_api_compatibility(&manifest.id, &manifest.api_version, &api_version())
            .map_err(Box::new)?;
        plugin.id = manifest.id.clone();
        plugin.allowed_hosts = manifest.capabilities.http_hosts.clone();
        let plugin = Arc::new(plugin);
        let handle = match manifest.kind {
            PluginKind::Decoder => PluginHandle::Decoder(Arc::new(WasmDecoder {
                plugin: plugin.clone(),
                prober: Mutex::new(Some(instance)),
                idle: Arc::default(),
            })),
            PluginKind::StorageProvider => {
                PluginHandle::StorageProvider(Arc::new(WasmFactory(plugin.clone())))
            }
            PluginKind::MetadataSource => PluginHandle::MetadataSource(Arc::new(WasmMetadata {
                plugin: plugin.clone(),
                instance: Mutex::new(Some(instance)),
            })),
        };
        Ok(LoadedPlugin {
            manifest,
            origin,
            handle,
        })
    }

    /// The compiled component at `path`: from the cache when its content is known there,
    /// else compiled (and cached).
    fn component(&self, path: &Path) -> Result<Component, WasmLoadError> {
        let invalid = |reason: String| WasmLoadError::Invalid {
            path: path.to_owned(),
            reason,
        };
        let read = |source| WasmLoadError::Read {
            path: path.to_owned(),
            source,
        };
        // A file seen before (same path, size and time) has a known content hash, so a
        // warm load need not read, let alone hash, the component.
        let meta = std::fs::metadata(path).map_err(read)?;
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_owned());
        let stamp = format!(
            "{} {} {:?}",
            canonical.display(),
            meta.len(),
            meta.modified().ok()
        );
        let stamp_file = self
            .limits
            .cache_dir
            .as_ref()
            .map(|dir| dir.join(format!("{}.source", hex(&Sha256::digest(&stamp)))));
        if let Some(known) = stamp_file
            .as_ref()
            .and_then(|f| std::fs::read_to_string(f).ok())
            && let Some(component) = self.cached(known.trim())
        {
            return Ok(component);
        }
        let bytes = std::fs::read(path).map_err(read)?;
        let key = hex(&Sha256::digest(&bytes));
        let component = self.compile(&key, &bytes).map_err(invalid)?;
        if let Some(file) = stamp_file
            && let Err(e) = std::fs::write(&file, &key)
        {
            tracing::debug!(file = %file.display(), error = %e, "cannot remember a component's hash");
        }
        Ok(component)
    }

    /// The cache file for content `key` under this engine.
    fn cache_file(&self, key: &str) -> Option<PathBuf> {
        // The engine's compatibility hash covers wasmtime's version and every setting that
        // changes compiled code.
        let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(
            &self.engine.precompile_compatibility_hash(),
            &mut engine_hash,
        );
        let engine_key = std::hash::Hasher::finish(&engine_hash);
        Some(
            self.limits
                .cache_dir
                .as_ref()?
                .join(format!("{key}-{engine_key:016x}.cwasm")),
        )
    }

    fn cached(&self, key: &str) -> Option<Component> {
        let cached = self.cache_file(key).filter(|f| f.is_file())?;
        // SAFETY: the file was written by `Component::serialize` in `compile`, under a name
        // that binds it to the component's content hash and this engine, in a folder only
        // this host writes; wasmtime still checks its header and engine settings.
        #[allow(unsafe_code)]
        match unsafe { Component::deserialize_file(&self.engine, &cached) } {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(file = %cached.display(), error = %e, "recompiling a stale cached component");
                None
            }
        }
    }

    fn compile(&self, key: &str, bytes: &[u8]) -> Result<Component, String> {
        if let Some(component) = self.cached(key) {
            return Ok(component);
        }
        let component = Component::new(&self.engine, bytes).map_err(|e| format!("{e:#}"))?;
        let (Some(dir), Some(cached)) = (&self.limits.cache_dir, self.cache_file(key)) else {
            return Ok(component);
        };
        if let Ok(serialized) = component.serialize() {
            let partial = dir.join(format!(".{key}.partial"));
            let written = std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::write(&partial, serialized))
                .and_then(|()| std::fs::rename(&partial, &cached));
            if let Err(e) = written {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot cache a compiled component");
            }
        }
        Ok(component)
    }

    /// Refuses a component built against another version of the WIT contract before
    /// anything in it runs, naming both versions.
    fn check_contract_version(
        &self,
        path: &Path,
        component: &Component,
    ) -> Result<(), WasmLoadError> {
        let ours = api_version();
        for (name, _) in component.component_type().imports(&self.engine) {
            let Some(rest) = name
                .strip_prefix(WIT_PACKAGE)
                .and_then(|r| r.strip_prefix('/'))
            else {
                continue;
            };
            let stated = rest.split_once('@').map(|(_, v)| v).unwrap_or("");
            let version = semver::Version::parse(stated).map_err(|_| WasmLoadError::Invalid {
                path: path.to_owned(),
                reason: format!("it imports {name}, which names no version"),
            })?;
            check_api_compatibility(&path.display().to_string(), &version, &ours)
                .map_err(Box::new)?;
        }
        Ok(())
    }
}

/// What a store holds: the capabilities of this instance and its limits.
pub struct HostState {
    ctx: HostContext,
    limits: StoreLimits,
    allowed_hosts: Vec<String>,
    source: Option<Arc<dyn ByteSource>>,
    /// When the current call began.
    call_started: std::time::Instant,
    /// Time the current call spent waiting on the host (HTTP, reads): not the plugin's.
    in_host: Duration,
    /// The plugin's own time each call may take.
    call_timeout: Duration,
}

impl HostState {
    /// Runs host work for the guest, keeping its time off the guest's deadline.
    fn host_work<T>(&mut self, work: impl FnOnce(&mut Self) -> T) -> T {
        let started = std::time::Instant::now();
        let result = work(self);
        self.in_host += started.elapsed();
        result
    }
}

struct Instance {
    store: Store<HostState>,
    bindings: PluginComponent,
}

struct WasmPlugin {
    id: String,
    runtime: WasmRuntime,
    pre: PluginComponentPre<HostState>,
    allowed_hosts: Vec<String>,
}

impl WasmPlugin {
    fn instantiate(
        &self,
        ctx: HostContext,
        source: Option<Arc<dyn ByteSource>>,
    ) -> PluginResult<Instance> {
        let limits = &self.runtime.limits;
        let ctx_settings = ctx.settings.clone();
        let state = HostState {
            ctx,
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.memory_bytes)
                .trap_on_grow_failure(true)
                .build(),
            allowed_hosts: allowed_hosts(&self.allowed_hosts, &ctx_settings),
            source,
            call_started: std::time::Instant::now(),
            in_host: Duration::ZERO,
            call_timeout: limits.call_timeout,
        };
        let mut store = Store::new(&self.runtime.engine, state);
        store.limiter(|s| &mut s.limits);
        // The deadline counts the plugin's own time: when it passes, time spent in host
        // calls (a slow server, a Retry-After) is given back before trapping.
        store.epoch_deadline_callback(|ctx| {
            let state = ctx.data();
            let own = state.call_started.elapsed().saturating_sub(state.in_host);
            if own >= state.call_timeout {
                return Err(wasmtime::Trap::Interrupt.into());
            }
            let left = (state.call_timeout - own).as_millis() / TICK.as_millis();
            Ok(wasmtime::UpdateDeadline::Continue(
                u64::try_from(left).unwrap_or(u64::MAX).max(1),
            ))
        });
        self.arm(&mut store)?;
        let bindings = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| trapped(&self.id, "instantiate", &e))?;
        Ok(Instance { store, bindings })
    }

    /// Sets the deadline (and fuel) for the next call.
    fn arm(&self, store: &mut Store<HostState>) -> PluginResult<()> {
        let limits = &self.runtime.limits;
        let ticks = (limits.call_timeout.as_millis() / TICK.as_millis()).max(1);
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
        let state = store.data_mut();
        state.call_started = std::time::Instant::now();
        state.in_host = Duration::ZERO;
        if let Some(fuel) = limits.fuel {
            store
                .set_fuel(fuel)
                .map_err(|e| PluginError::Internal(e.to_string()))?;
        }
        Ok(())
    }

    /// One call into `instance`; a trap becomes [`PluginError::Internal`].
    fn call<T>(
        &self,
        instance: &mut Instance,
        f: impl FnOnce(&mut Store<HostState>, &PluginComponent) -> wasmtime::Result<T>,
    ) -> PluginResult<T> {
        self.arm(&mut instance.store)?;
        f(&mut instance.store, &instance.bindings).map_err(|e| trapped(&self.id, "call", &e))
    }

    /// Runs `f` on the instance in `slot`, creating one if there is none; an instance
    /// that trapped is dropped, so the next call gets a fresh one.
    fn with_slot<T>(
        &self,
        slot: &Mutex<Option<Instance>>,
        ctx: impl FnOnce() -> HostContext,
        f: impl FnOnce(&mut Store<HostState>, &PluginComponent) -> wasmtime::Result<T>,
    ) -> PluginResult<T> {
        let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(self.instantiate(ctx(), None)?);
        }
        let Some(instance) = slot.as_mut() else {
            return Err(PluginError::Internal("no instance".into()));
        };
        let result = self.call(instance, f);
        if result.is_err() {
            *slot = None;
        }
        result
    }
}

/// A seed for hash tables: different per call, not secret.
fn insecure_seed() -> (u64, u64) {
    use std::hash::{BuildHasher, Hasher};
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let a = hasher.finish();
    hasher.write_u64(a);
    (a, hasher.finish())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn trapped(plugin: &str, what: &str, error: &wasmtime::Error) -> PluginError {
    let reason = match error.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => "it ran past its deadline".to_owned(),
        Some(wasmtime::Trap::OutOfFuel) => "it ran out of fuel".to_owned(),
        Some(trap) => format!("it trapped: {trap}"),
        // Limiter refusals (memory) and host errors arrive wrapped in a wasm backtrace.
        None => format!("it trapped: {}", error.root_cause()),
    };
    PluginError::Internal(format!("component `{plugin}` failed in {what}: {reason}"))
}

fn not_granted(what: &str) -> wit::PluginError {
    wit::PluginError::Unsupported(format!("the host did not grant the {what} capability"))
}

fn bounded(len: u64) -> Result<usize, wit::PluginError> {
    if len > MAX_READ {
        return Err(wit::PluginError::Invalid(format!(
            "reads are limited to {MAX_READ} bytes; {len} were asked for"
        )));
    }
    usize::try_from(len).map_err(|_| wit::PluginError::Invalid("read too large".into()))
}

impl tonearm::plugin::types::Host for HostState {}

impl tonearm::plugin::host::Host for HostState {
    fn log(&mut self, level: wit::LogLevel, message: String) {
        use tonearm_plugin_api::LogLevel as L;
        let level = match level {
            wit::LogLevel::Trace => L::Trace,
            wit::LogLevel::Debug => L::Debug,
            wit::LogLevel::Info => L::Info,
            wit::LogLevel::Warn => L::Warn,
            wit::LogLevel::Error => L::Error,
        };
        self.ctx.log.log(level, &message);
    }

    fn now_unix_ms(&mut self) -> i64 {
        self.ctx.clock.now_unix_ms()
    }

    fn granted(&mut self) -> wit::Grants {
        wit::Grants {
            filesystem: self.ctx.fs.is_some(),
            http: self.ctx.http.is_some(),
            state: self.ctx.state.is_some(),
        }
    }

    fn settings(&mut self) -> Vec<(String, String)> {
        self.ctx.settings.clone().into_iter().collect()
    }

    fn fs_read_dir(&mut self, path: String) -> Result<Vec<wit::DirEntry>, wit::PluginError> {
        let fs = self
            .ctx
            .fs
            .as_ref()
            .ok_or_else(|| not_granted("filesystem"))?;
        Ok(fs.read_dir(&path)?.into_iter().map(Into::into).collect())
    }

    fn fs_stat(&mut self, path: String) -> Result<wit::FileStat, wit::PluginError> {
        let fs = self
            .ctx
            .fs
            .as_ref()
            .ok_or_else(|| not_granted("filesystem"))?;
        Ok(fs.stat(&path)?.into())
    }

    fn fs_read_at(
        &mut self,
        path: String,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, wit::PluginError> {
        let fs = self
            .ctx
            .fs
            .as_ref()
            .ok_or_else(|| not_granted("filesystem"))?;
        let mut buf = vec![0u8; bounded(len)?];
        let n = fs.read_at(&path, offset, &mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }

    fn state_get(&mut self, key: String) -> Result<Option<Vec<u8>>, wit::PluginError> {
        let state = self
            .ctx
            .state
            .as_ref()
            .ok_or_else(|| not_granted("state store"))?;
        Ok(state.get(&key)?)
    }

    fn state_put(&mut self, key: String, value: Vec<u8>) -> Result<(), wit::PluginError> {
        let state = self
            .ctx
            .state
            .as_ref()
            .ok_or_else(|| not_granted("state store"))?;
        Ok(state.put(&key, &value)?)
    }

    fn state_delete(&mut self, key: String) -> Result<(), wit::PluginError> {
        let state = self
            .ctx
            .state
            .as_ref()
            .ok_or_else(|| not_granted("state store"))?;
        Ok(state.delete(&key)?)
    }

    fn state_keys(&mut self, prefix: String) -> Result<Vec<String>, wit::PluginError> {
        let state = self
            .ctx
            .state
            .as_ref()
            .ok_or_else(|| not_granted("state store"))?;
        Ok(state.keys(&prefix)?)
    }

    fn http_send(
        &mut self,
        request: wit::HttpRequest,
    ) -> Result<wit::HttpResponse, wit::PluginError> {
        if !host_allowed(&request.url, &self.allowed_hosts) {
            let url = crate::capabilities::http::redact(&request.url);
            tracing::warn!(%url, "refused a request to a host the plugin's manifest does not declare");
            return Err(wit::PluginError::Unauthorized(format!(
                "{url} is not among the hosts this plugin declared ({})",
                self.allowed_hosts.join(", ")
            )));
        }
        let http = self.ctx.http.clone().ok_or_else(|| not_granted("HTTP"))?;
        Ok(self.host_work(|_| http.send(request.into()))?.into())
    }

    fn source_len(&mut self) -> Result<u64, wit::PluginError> {
        let source = self
            .source
            .as_ref()
            .ok_or_else(|| wit::PluginError::Invalid("no source is open".into()))?;
        Ok(source.len()?)
    }

    fn source_read_at(&mut self, offset: u64, len: u64) -> Result<Vec<u8>, wit::PluginError> {
        let source = self
            .source
            .clone()
            .ok_or_else(|| wit::PluginError::Invalid("no source is open".into()))?;
        let mut buf = vec![0u8; bounded(len)?];
        // A source may be a remote file: its reads are the host's time, not the plugin's.
        let n = self.host_work(|_| source.read_at(offset, &mut buf))?;
        buf.truncate(n);
        Ok(buf)
    }
}

fn flatten<T>(r: PluginResult<Result<T, wit::PluginError>>) -> PluginResult<T> {
    r?.map_err(Into::into)
}

struct WasmDecoder {
    plugin: Arc<WasmPlugin>,
    /// The instance that answers `probe`.
    prober: Mutex<Option<Instance>>,
    /// Instances whose sessions ended without a trap, for the next sessions.
    idle: Arc<Mutex<Vec<Instance>>>,
}

/// Instances a decoder keeps between sessions. A session on a kept instance skips
/// instantiation and finds the guest's lazily built tables (a decoder's IMDCT and
/// requantisation tables) ready, as a linked-in plugin does.
const IDLE_INSTANCES: usize = 2;

impl Decoder for WasmDecoder {
    fn probe(&self, head: &[u8], hint: &ProbeHint) -> u8 {
        let hint = wit::ProbeHint::from(hint.clone());
        let ctx = || base_context(&self.plugin.id);
        match self.plugin.with_slot(&self.prober, ctx, |s, b| {
            b.tonearm_plugin_decoder().call_probe(s, head, &hint)
        }) {
            Ok(score) => score,
            // As for native plugins: the host's guard sees the failure and disables it.
            Err(e) => std::panic::panic_any(e.to_string()),
        }
    }

    fn open(
        &self,
        source: Arc<dyn ByteSource>,
        hint: &ProbeHint,
    ) -> PluginResult<Box<dyn DecodeSession>> {
        // One session at a time per instance: a trap ends only that session, and its
        // instance is dropped rather than kept.
        let kept = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut instance = match kept {
            Some(mut instance) => {
                instance.store.data_mut().source = Some(source);
                instance
            }
            None => self
                .plugin
                .instantiate(base_context(&self.plugin.id), Some(source))?,
        };
        let hint = wit::ProbeHint::from(hint.clone());
        let opened = self.plugin.call(&mut instance, |s, b| {
            b.tonearm_plugin_decoder().call_open(s, &hint)
        })?;
        let spec: StreamSpec = match opened {
            Ok(spec) => spec.into(),
            // A refusal (not this format, say) leaves the instance sound.
            Err(refused) => {
                keep(&self.idle, instance);
                return Err(refused.into());
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
            &mut Store<HostState>,
            &PluginComponent,
        ) -> wasmtime::Result<Result<T, wit::PluginError>>,
    ) -> PluginResult<T> {
        let instance = self
            .instance
            .as_mut()
            .ok_or_else(|| PluginError::Internal("the session's instance trapped".into()))?;
        let result = self.plugin.call(instance, f);
        if result.is_err() {
            self.instance = None;
        }
        flatten(result)
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
        *out = self.call(|s, b| b.tonearm_plugin_decoder().call_read(s, max))?;
        Ok(out.len() / usize::from(self.spec.channels.max(1)))
    }

    fn seek(&mut self, frame: u64) -> PluginResult<u64> {
        self.call(|s, b| b.tonearm_plugin_decoder().call_seek(s, frame))
    }
}

struct WasmFactory(Arc<WasmPlugin>);

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
        f: impl FnOnce(
            &mut Store<HostState>,
            &PluginComponent,
        ) -> wasmtime::Result<Result<T, wit::PluginError>>,
    ) -> PluginResult<T> {
        flatten(
            self.plugin
                .with_slot(&self.instance, || self.ctx.clone(), f),
        )
    }
}

impl StorageProvider for WasmProvider {
    fn change_cursor(&self) -> PluginResult<String> {
        self.call(|s, b| b.tonearm_plugin_storage_provider().call_change_cursor(s))
    }

    fn list(&self, page_token: Option<&str>) -> PluginResult<ListPage> {
        self.call(|s, b| {
            b.tonearm_plugin_storage_provider()
                .call_list_entries(s, page_token)
        })
        .map(Into::into)
    }

    fn changes(&self, cursor: &str) -> PluginResult<ChangePage> {
        self.call(|s, b| b.tonearm_plugin_storage_provider().call_changes(s, cursor))
            .map(Into::into)
    }

    fn read_range(&self, id: &str, range: tonearm_plugin_api::ByteRange) -> PluginResult<Vec<u8>> {
        let range = wit::ByteRange::from(range);
        self.call(|s, b| {
            b.tonearm_plugin_storage_provider()
                .call_read_range(s, id, range)
        })
    }
}

struct WasmMetadata {
    plugin: Arc<WasmPlugin>,
    instance: Mutex<Option<Instance>>,
}

impl MetadataSource for WasmMetadata {
    fn lookup(&self, query: &TrackQuery) -> PluginResult<Vec<Candidate>> {
        let json =
            serde_json::to_string(query).map_err(|e| PluginError::Internal(e.to_string()))?;
        let ctx = || base_context(&self.plugin.id);
        let answer = flatten(self.plugin.with_slot(&self.instance, ctx, |s, b| {
            b.tonearm_plugin_metadata_source().call_lookup(s, &json)
        }))?;
        serde_json::from_str(&answer).map_err(|e| PluginError::Corrupt(format!("candidates: {e}")))
    }
}
