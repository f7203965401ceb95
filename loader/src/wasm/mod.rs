//! Sandboxed plugins: wasm components run by wasmtime.
//!
//! A component reaches nothing but the `host` imports of the WIT contract, and through
//! them only the capabilities its manifest asked for. Every call runs with an epoch
//! deadline (and optional fuel) and every instance within a memory limit; a trapped
//! instance is dropped and a fresh one made on the next call. Compiled components are
//! cached on disk by content hash and engine ([`cache`]).
//!
//! The host binds every WIT version it supports, one module each (`since_v0_1_0`,
//! `since_v0_2_0`): a component is linked against the version its imports name, so
//! components built against an older contract keep loading.

mod bindings;
mod cache;
mod decoder;
mod exports;
mod instance;
mod lazy;
mod provider;
mod since_v0_1_0;
mod since_v0_2_0;
mod since_v0_3_0;
mod stdio;
mod store;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tonearm_plugin_api::{
    PluginKind, PluginManifest, VersionMismatch, api_version, check_api_compatibility,
};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};

pub use self::bindings::WitVersion;
pub use self::store::HostState;

use self::bindings::Pre;
use self::decoder::WasmDecoder;
use self::instance::WasmPlugin;
use self::provider::{WasmFactory, WasmMetadataFactory};
use crate::{BundledComponent, LoadedPlugin, Origin, PluginHandle, base_context};

/// The WIT package every component's contract interfaces belong to.
const WIT_PACKAGE: &str = "tonearm:plugin";
/// How often the epoch advances; deadlines are counted in these ticks.
const TICK: Duration = Duration::from_millis(10);

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

    /// Registers a component built into this binary from the manifest its build read,
    /// compiling it only when first needed: a decoder compiles when a file it claims is
    /// probed or opened. Other kinds, and a build that recorded no manifest, load now.
    pub fn load_bundled_lazily(
        &self,
        bundled: &'static BundledComponent,
    ) -> Result<LoadedPlugin, WasmLoadError> {
        let manifest = match bundled.manifest.map(serde_json::from_str::<PluginManifest>) {
            Some(Ok(manifest)) if manifest.kind == PluginKind::Decoder => manifest,
            Some(Err(e)) => {
                return Err(WasmLoadError::Invalid {
                    path: PathBuf::from(format!("<bundled {}>", bundled.name)),
                    reason: format!("its build-time manifest does not parse: {e}"),
                });
            }
            _ => return self.load_bundled(bundled),
        };
        check_api_compatibility(&manifest.id, &manifest.api_version, &api_version())
            .map_err(Box::new)?;
        let decoder = lazy::LazyDecoder::new(self.clone(), bundled, manifest.clone());
        Ok(LoadedPlugin {
            manifest,
            origin: Origin::Bundled,
            handle: PluginHandle::Decoder(Arc::new(decoder)),
        })
    }

    /// Checks `component`'s contract version, links it against that version's bindings,
    /// reads its manifest and wraps it as a plugin; `path` names it in errors.
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
        let version = self.contract_version(path, &component)?;

        let linker = |stub_unknown: bool| -> Result<Linker<HostState>, WasmLoadError> {
            let mut linker: Linker<HostState> = Linker::new(&self.engine);
            Pre::add_to_linker(version, &mut linker).map_err(|e| invalid(e.to_string()))?;
            // WASI that grants nothing (see `HostState::wasi`): Rust's std seeds its hash
            // tables from it; CPython or SpiderMonkey read their clocks, randomness and
            // (empty) environment from it. Imports of other WASI patch versions resolve to
            // it by semver.
            wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
                .map_err(|e| invalid(e.to_string()))?;
            refuse_blocking(&mut linker).map_err(|e| invalid(e.to_string()))?;
            if stub_unknown {
                linker
                    .define_unknown_imports_as_traps(&component)
                    .map_err(|e| invalid(e.to_string()))?;
            }
            Ok(linker)
        };
        // Imports nothing defines (wasi:http, say) trap if ever called. Stubbing them
        // defines every import under its exact name, which hides a WASI patch version
        // that semver would have matched: only when linking fails without.
        let pre = match linker(false)?.instantiate_pre(&component) {
            Ok(pre) => pre,
            Err(_) => linker(true)?
                .instantiate_pre(&component)
                .map_err(|e| invalid(e.to_string()))?,
        };
        let pre = Pre::new(version, pre).map_err(|e| invalid(e.to_string()))?;

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
            .call(&mut instance, |s, b| b.manifest(s))
            .map_err(|e| invalid(format!("reading its manifest: {e}")))?;
        let manifest: PluginManifest = serde_json::from_str(&json)
            .map_err(|e| invalid(format!("its manifest does not parse: {e}")))?;
        check_api_compatibility(&manifest.id, &manifest.api_version, &api_version())
            .map_err(Box::new)?;
        tracing::debug!(id = %manifest.id, wit = version.as_str(), "loaded a component");
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
            PluginKind::MetadataSource => {
                PluginHandle::MetadataSource(Arc::new(WasmMetadataFactory(plugin.clone())))
            }
        };
        Ok(LoadedPlugin {
            manifest,
            origin,
            handle,
        })
    }

    /// The WIT version `component` was built against, refusing one this host does not
    /// bind before anything in it runs, with both versions named.
    fn contract_version(
        &self,
        path: &Path,
        component: &Component,
    ) -> Result<WitVersion, WasmLoadError> {
        let invalid = |reason: String| WasmLoadError::Invalid {
            path: path.to_owned(),
            reason,
        };
        let stated = bindings::imported_version(&self.engine, component)
            .map_err(invalid)?
            .ok_or_else(|| {
                invalid(format!(
                    "it imports no {WIT_PACKAGE} interface (was it built with export_component!?)"
                ))
            })?;
        let ours = api_version();
        check_api_compatibility(&path.display().to_string(), &stated, &ours).map_err(Box::new)?;
        WitVersion::bound(&stated).ok_or_else(|| {
            WasmLoadError::Version(Box::new(VersionMismatch {
                plugin_id: path.display().to_string(),
                plugin_api: stated,
                host_api: ours,
                reason: "this host no longer binds that WIT version; rebuild the component",
            }))
        })
    }
}

/// Makes WASI's waits trap: a guest blocked in the host is out of reach of its deadline
/// (the epoch is checked only while wasm runs), so `sleep(forever)` would hang the thread
/// that called it. A plugin is given time by the host's calls; it has nothing to wait for.
fn refuse_blocking(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut poll = linker.instance(WASI_POLL)?;
    for name in ["poll", "[method]pollable.block"] {
        poll.func_new(name, move |_, _, _, _| {
            Err(wasmtime::Error::msg(format!(
                "{WASI_POLL}#{name}: a plugin may not wait; the host gives it time"
            )))
        })?;
    }
    linker.allow_shadowing(false);
    Ok(())
}

/// The WASI poll interface as `wasmtime-wasi` defines it; guests' older 0.2 patch
/// versions resolve to it.
const WASI_POLL: &str = "wasi:io/poll@0.2.12";
