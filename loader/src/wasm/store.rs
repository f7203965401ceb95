//! What a component's store holds, and the host functions every WIT version imports,
//! written once over the contract's types. Each version's binding module implements its
//! generated `host::Host` trait with [`host_impl!`], converting at the edge.

use std::sync::Arc;
use std::time::Duration;

use tonearm_core::net::{host_allowed, redact};
use tonearm_plugin_api::{
    ByteSource, DirEntry, FileStat, HostContext, HttpRequest, HttpResponse, LogLevel, PluginError,
    PluginResult,
};
use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// The most bytes one host read hands a component at once.
const MAX_READ: u64 = 16 * 1024 * 1024;

/// What a store holds: the capabilities of this instance and its limits.
pub struct HostState {
    pub(super) ctx: HostContext,
    pub(super) limits: StoreLimits,
    pub(super) allowed_hosts: Vec<String>,
    /// The input of the decode session (or description) under way.
    pub(super) source: Option<Arc<dyn ByteSource>>,
    /// When the current call began.
    pub(super) call_started: std::time::Instant,
    /// Time the current call spent waiting on the host (HTTP, reads): not the plugin's.
    pub(super) in_host: Duration,
    /// The plugin's own time each call may take.
    pub(super) call_timeout: Duration,
    /// WASI, granting nothing: no folders, environment, arguments or sockets; standard
    /// output and error become lines of the plugin's log, and waiting traps. Runtimes of
    /// other languages call it at start; a plugin's capabilities come through the `host`
    /// interface alone.
    pub(super) wasi: WasiCtx,
    /// The WASI resources (streams) the guest holds.
    pub(super) table: ResourceTable,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl HostState {
    /// Runs host work for the guest, keeping its time off the guest's deadline.
    fn host_work<T>(&mut self, work: impl FnOnce(&mut Self) -> T) -> T {
        let started = std::time::Instant::now();
        let result = work(self);
        self.in_host += started.elapsed();
        result
    }

    pub(super) fn log(&self, level: LogLevel, message: &str) {
        self.ctx.log.log(level, message);
    }

    pub(super) fn now_unix_ms(&self) -> i64 {
        self.ctx.clock.now_unix_ms()
    }

    /// Whether the filesystem, HTTP and state were granted, in that order.
    pub(super) fn granted(&self) -> (bool, bool, bool) {
        (
            self.ctx.fs.is_some(),
            self.ctx.http.is_some(),
            self.ctx.state.is_some(),
        )
    }

    pub(super) fn settings(&self) -> Vec<(String, String)> {
        self.ctx.settings.clone().into_iter().collect()
    }

    pub(super) fn fs_read_dir(&self, path: &str) -> PluginResult<Vec<DirEntry>> {
        self.ctx.require_fs()?.read_dir(path)
    }

    pub(super) fn fs_stat(&self, path: &str) -> PluginResult<FileStat> {
        self.ctx.require_fs()?.stat(path)
    }

    pub(super) fn fs_read_at(&self, path: &str, offset: u64, len: u64) -> PluginResult<Vec<u8>> {
        let fs = self.ctx.require_fs()?;
        let mut buf = vec![0u8; bounded(len)?];
        let n = fs.read_at(path, offset, &mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }

    pub(super) fn state_get(&self, key: &str) -> PluginResult<Option<Vec<u8>>> {
        self.ctx.require_state()?.get(key)
    }

    pub(super) fn state_put(&self, key: &str, value: &[u8]) -> PluginResult<()> {
        self.ctx.require_state()?.put(key, value)
    }

    pub(super) fn state_delete(&self, key: &str) -> PluginResult<()> {
        self.ctx.require_state()?.delete(key)
    }

    pub(super) fn state_keys(&self, prefix: &str) -> PluginResult<Vec<String>> {
        self.ctx.require_state()?.keys(prefix)
    }

    pub(super) fn http_send(&mut self, request: HttpRequest) -> PluginResult<HttpResponse> {
        if !host_allowed(&request.url, &self.allowed_hosts) {
            let url = redact(&request.url);
            tracing::warn!(%url, "refused a request to a host the plugin's manifest does not declare");
            return Err(PluginError::Unauthorized(format!(
                "{url} is not among the hosts this plugin declared ({})",
                self.allowed_hosts.join(", ")
            )));
        }
        let http = self.ctx.require_http()?;
        self.host_work(|_| http.send(request))
    }

    pub(super) fn source_len(&self) -> PluginResult<u64> {
        self.open_source()?.len()
    }

    pub(super) fn source_read_at(&mut self, offset: u64, len: u64) -> PluginResult<Vec<u8>> {
        let source = self.open_source()?;
        let mut buf = vec![0u8; bounded(len)?];
        // A source may be a remote file: its reads are the host's time, not the plugin's.
        let n = self.host_work(|_| source.read_at(offset, &mut buf))?;
        buf.truncate(n);
        Ok(buf)
    }

    fn open_source(&self) -> PluginResult<Arc<dyn ByteSource>> {
        self.source
            .clone()
            .ok_or_else(|| PluginError::Invalid("no source is open".into()))
    }
}

fn bounded(len: u64) -> PluginResult<usize> {
    if len > MAX_READ {
        return Err(PluginError::Invalid(format!(
            "reads are limited to {MAX_READ} bytes; {len} were asked for"
        )));
    }
    usize::try_from(len).map_err(|_| PluginError::Invalid("read too large".into()))
}

/// Implements a WIT version's `host` interface (unchanged since 0.1.0) on [`HostState`].
/// Expanded inside a binding module, where `wit` names its generated `types` and
/// `tonearm::plugin::host` its host interface.
macro_rules! host_impl {
    () => {
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
                HostState::log(self, level, &message);
            }

            fn now_unix_ms(&mut self) -> i64 {
                HostState::now_unix_ms(self)
            }

            fn granted(&mut self) -> wit::Grants {
                let (filesystem, http, state) = HostState::granted(self);
                wit::Grants {
                    filesystem,
                    http,
                    state,
                }
            }

            fn settings(&mut self) -> Vec<(String, String)> {
                HostState::settings(self)
            }

            fn fs_read_dir(
                &mut self,
                path: String,
            ) -> Result<Vec<wit::DirEntry>, wit::PluginError> {
                Ok(HostState::fs_read_dir(self, &path)?
                    .into_iter()
                    .map(Into::into)
                    .collect())
            }

            fn fs_stat(&mut self, path: String) -> Result<wit::FileStat, wit::PluginError> {
                Ok(HostState::fs_stat(self, &path)?.into())
            }

            fn fs_read_at(
                &mut self,
                path: String,
                offset: u64,
                len: u64,
            ) -> Result<Vec<u8>, wit::PluginError> {
                Ok(HostState::fs_read_at(self, &path, offset, len)?)
            }

            fn state_get(&mut self, key: String) -> Result<Option<Vec<u8>>, wit::PluginError> {
                Ok(HostState::state_get(self, &key)?)
            }

            fn state_put(&mut self, key: String, value: Vec<u8>) -> Result<(), wit::PluginError> {
                Ok(HostState::state_put(self, &key, &value)?)
            }

            fn state_delete(&mut self, key: String) -> Result<(), wit::PluginError> {
                Ok(HostState::state_delete(self, &key)?)
            }

            fn state_keys(&mut self, prefix: String) -> Result<Vec<String>, wit::PluginError> {
                Ok(HostState::state_keys(self, &prefix)?)
            }

            fn http_send(
                &mut self,
                request: wit::HttpRequest,
            ) -> Result<wit::HttpResponse, wit::PluginError> {
                Ok(HostState::http_send(self, request.into())?.into())
            }

            fn source_len(&mut self) -> Result<u64, wit::PluginError> {
                Ok(HostState::source_len(self)?)
            }

            fn source_read_at(
                &mut self,
                offset: u64,
                len: u64,
            ) -> Result<Vec<u8>, wit::PluginError> {
                Ok(HostState::source_read_at(self, offset, len)?)
            }
        }
    };
}

pub(super) use host_impl;
