//! Component instances: one store each, armed with a deadline (and optional fuel) before
//! every call; a trap becomes [`PluginError::Internal`] and the instance is dropped.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tonearm_core::net::allowed_hosts;
use tonearm_plugin_api::{ByteSource, HostContext, LogLevel, PluginError, PluginResult};
use wasmtime::{Store, StoreLimitsBuilder};

use super::bindings::{Bindings, Pre};
use super::stdio::LogStream;
use super::store::HostState;
use super::{TICK, WasmRuntime};

/// A live instance and its exports.
pub(super) struct Instance {
    pub(super) store: Store<HostState>,
    pub(super) bindings: Bindings,
}

/// One loaded component: what every instance of it is made from.
pub(super) struct WasmPlugin {
    pub(super) id: String,
    pub(super) runtime: WasmRuntime,
    pub(super) pre: Pre,
    pub(super) allowed_hosts: Vec<String>,
}

impl WasmPlugin {
    /// A new instance with the capabilities in `ctx`, reading `source` if it decodes.
    pub(super) fn instantiate(
        &self,
        ctx: HostContext,
        source: Option<Arc<dyn ByteSource>>,
    ) -> PluginResult<Instance> {
        let limits = &self.runtime.limits;
        let allowed_hosts = allowed_hosts(&self.allowed_hosts, &ctx.settings);
        let wasi = wasmtime_wasi::WasiCtx::builder()
            .stdout(LogStream::new(ctx.log.clone(), LogLevel::Info))
            .stderr(LogStream::new(ctx.log.clone(), LogLevel::Warn))
            .build();
        let state = HostState {
            ctx,
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.memory_bytes)
                .trap_on_grow_failure(true)
                .build(),
            allowed_hosts,
            source,
            call_started: std::time::Instant::now(),
            in_host: Duration::ZERO,
            call_timeout: limits.call_timeout,
            wasi,
            table: wasmtime::component::ResourceTable::new(),
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
    pub(super) fn call<T>(
        &self,
        instance: &mut Instance,
        f: impl FnOnce(&mut Store<HostState>, &Bindings) -> wasmtime::Result<T>,
    ) -> PluginResult<T> {
        self.arm(&mut instance.store)?;
        f(&mut instance.store, &instance.bindings).map_err(|e| trapped(&self.id, "call", &e))
    }

    /// Runs `f` on the instance in `slot`, creating one if there is none; an instance
    /// that trapped is dropped, so the next call gets a fresh one.
    pub(super) fn with_slot<T>(
        &self,
        slot: &Mutex<Option<Instance>>,
        ctx: impl FnOnce() -> HostContext,
        f: impl FnOnce(&mut Store<HostState>, &Bindings) -> wasmtime::Result<T>,
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
