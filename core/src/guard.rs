//! The host side of every plugin call: a tracing span, panic containment, and a plugin
//! that failed once is not called again.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tonearm_plugin_api::{
    Artwork, ArtworkRequest, ByteRange, ByteSource, Candidate, ChangePage, DecodeSession, Decoder,
    HostContext, ListPage, Lyrics, MediaInfo, MetadataSource, PluginError, PluginResult, ProbeHint,
    StorageProvider, StreamSpec, TrackQuery,
};

use crate::events::{CoreEvent, EventBus, PluginEvent};
use crate::plugin::{MetadataFactory, PluginHandle, ProviderFactory};

/// Whether a plugin is still usable, shared by every adapter of that plugin.
#[derive(Debug)]
pub struct Health {
    id: String,
    /// Set once `failure` is: every call checks this, so a healthy plugin's calls take no
    /// lock (a decode reads in calls of a few microseconds).
    failed: AtomicBool,
    failure: Mutex<Option<String>>,
    bus: EventBus,
}

impl Health {
    /// A healthy plugin reporting on `bus`.
    pub fn new(id: &str, bus: EventBus) -> Arc<Self> {
        Arc::new(Self {
            id: id.to_owned(),
            failed: AtomicBool::new(false),
            failure: Mutex::new(None),
            bus,
        })
    }

    /// Why the plugin was disabled, if it was.
    pub fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Disables the plugin and announces it.
    pub fn fail(&self, reason: String) {
        let mut failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        if failure.is_none() {
            tracing::error!(plugin = %self.id, %reason, "plugin failed and is disabled");
            *failure = Some(reason.clone());
            self.failed.store(true, Ordering::Release);
            self.bus.emit(CoreEvent::Plugin(PluginEvent::Failed {
                id: self.id.clone(),
                error: reason,
            }));
        }
    }

    /// Runs one plugin call under a span, converting a panic into an error that disables
    /// the plugin.
    pub fn call<T>(
        &self,
        op: &'static str,
        f: impl FnOnce() -> PluginResult<T>,
    ) -> PluginResult<T> {
        if self.failed.load(Ordering::Acquire)
            && let Some(reason) = self.failure()
        {
            return Err(PluginError::Internal(format!(
                "plugin `{}` is disabled after an earlier failure: {reason}",
                self.id
            )));
        }
        let _span = tracing::debug_span!("plugin_call", plugin = %self.id, op).entered();
        catch(op, f).inspect_err(|e| {
            if let PluginError::Internal(reason) = e {
                self.fail(reason.clone());
            }
        })
    }
}

/// Runs `f`, turning a panic into [`PluginError::Internal`].
pub fn catch<T>(op: &str, f: impl FnOnce() -> PluginResult<T>) -> PluginResult<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic payload".into());
        Err(PluginError::Internal(format!(
            "panicked in {op}: {message}"
        )))
    })
}

/// Wraps every entry point of a plugin in [`Health::call`].
pub fn wrap(handle: PluginHandle, health: Arc<Health>) -> PluginHandle {
    match handle {
        PluginHandle::StorageProvider(inner) => {
            PluginHandle::StorageProvider(Arc::new(GuardedFactory { inner, health }))
        }
        PluginHandle::Decoder(inner) => {
            PluginHandle::Decoder(Arc::new(GuardedDecoder { inner, health }))
        }
        PluginHandle::MetadataSource(inner) => {
            PluginHandle::MetadataSource(Arc::new(GuardedMetadataFactory { inner, health }))
        }
    }
}

struct GuardedFactory {
    inner: Arc<dyn ProviderFactory>,
    health: Arc<Health>,
}

impl ProviderFactory for GuardedFactory {
    fn create(&self, ctx: &HostContext) -> PluginResult<Arc<dyn StorageProvider>> {
        let inner = self.health.call("create", || self.inner.create(ctx))?;
        Ok(Arc::new(GuardedProvider {
            inner,
            health: self.health.clone(),
        }))
    }
}

struct GuardedProvider {
    inner: Arc<dyn StorageProvider>,
    health: Arc<Health>,
}

impl StorageProvider for GuardedProvider {
    fn change_cursor(&self) -> PluginResult<String> {
        self.health
            .call("change_cursor", || self.inner.change_cursor())
    }

    fn list(&self, page_token: Option<&str>) -> PluginResult<ListPage> {
        self.health.call("list", || self.inner.list(page_token))
    }

    fn changes(&self, cursor: &str) -> PluginResult<ChangePage> {
        self.health.call("changes", || self.inner.changes(cursor))
    }

    fn read_range(&self, id: &str, range: ByteRange) -> PluginResult<Vec<u8>> {
        self.health
            .call("read_range", || self.inner.read_range(id, range))
    }
}

struct GuardedDecoder {
    inner: Arc<dyn Decoder>,
    health: Arc<Health>,
}

impl Decoder for GuardedDecoder {
    fn probe(&self, head: &[u8], hint: &ProbeHint) -> PluginResult<u8> {
        self.health.call("probe", || self.inner.probe(head, hint))
    }

    fn open(
        &self,
        source: Arc<dyn ByteSource>,
        hint: &ProbeHint,
    ) -> PluginResult<Box<dyn DecodeSession>> {
        let inner = self.health.call("open", || self.inner.open(source, hint))?;
        Ok(Box::new(GuardedSession {
            inner,
            health: self.health.clone(),
        }))
    }

    fn describe(&self, source: Arc<dyn ByteSource>, hint: &ProbeHint) -> PluginResult<MediaInfo> {
        self.health
            .call("describe", || self.inner.describe(source, hint))
    }
}

struct GuardedSession {
    inner: Box<dyn DecodeSession>,
    health: Arc<Health>,
}

impl DecodeSession for GuardedSession {
    fn spec(&self) -> StreamSpec {
        // `spec` cannot fail in the contract; a panic here yields an empty spec that every
        // caller rejects (zero channels), and the plugin is disabled.
        self.health
            .call("spec", || Ok(self.inner.spec()))
            .unwrap_or(StreamSpec {
                sample_rate: 0,
                channels: 0,
                total_frames: None,
                codec: String::new(),
                bits_per_sample: None,
            })
    }

    fn read(&mut self, out: &mut Vec<f32>) -> PluginResult<usize> {
        let inner = &mut self.inner;
        self.health.call("read", || inner.read(out))
    }

    fn seek(&mut self, frame: u64) -> PluginResult<u64> {
        let inner = &mut self.inner;
        self.health.call("seek", || inner.seek(frame))
    }
}

struct GuardedMetadataFactory {
    inner: Arc<dyn MetadataFactory>,
    health: Arc<Health>,
}

impl MetadataFactory for GuardedMetadataFactory {
    fn create(&self, ctx: &HostContext) -> PluginResult<Arc<dyn MetadataSource>> {
        let inner = self.health.call("create", || self.inner.create(ctx))?;
        Ok(Arc::new(GuardedMetadata {
            inner,
            health: self.health.clone(),
        }))
    }
}

struct GuardedMetadata {
    inner: Arc<dyn MetadataSource>,
    health: Arc<Health>,
}

impl MetadataSource for GuardedMetadata {
    fn identify(&self, query: &TrackQuery) -> PluginResult<Vec<Candidate>> {
        self.health.call("identify", || self.inner.identify(query))
    }

    fn artwork(&self, request: &ArtworkRequest) -> PluginResult<Option<Artwork>> {
        self.health.call("artwork", || self.inner.artwork(request))
    }

    fn lyrics(&self, query: &TrackQuery) -> PluginResult<Option<Lyrics>> {
        self.health.call("lyrics", || self.inner.lyrics(query))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_disables_the_plugin_and_is_announced() {
        let bus = EventBus::new(8);
        let mut sub = bus.subscribe();
        let health = Health::new("boom", bus);
        let err = health.call::<()>("probe", || panic!("kaboom")).unwrap_err();
        assert!(
            matches!(&err, PluginError::Internal(m) if m.contains("kaboom")),
            "{err}"
        );
        let again = health.call("probe", || Ok(1)).unwrap_err();
        assert!(again.to_string().contains("disabled"), "{again}");
        assert!(matches!(
            sub.try_recv(),
            Some(crate::events::Received::Event(CoreEvent::Plugin(PluginEvent::Failed { id, .. }))) if id == "boom"
        ));
    }

    #[test]
    fn ordinary_errors_do_not_disable() {
        let health = Health::new("ok", EventBus::new(8));
        let _ = health.call::<()>("read", || Err(PluginError::Corrupt("bad frame".into())));
        assert_eq!(health.failure(), None);
    }
}
