//! The guest side of sandboxed plugins: a plugin's ordinary impl, exported as a wasm
//! component for `wasm32-wasip2` with [`export_component!`](crate::export_component),
//! against the newest WIT version (`wit/since_v0.3.0`).
//!
//! A component instance holds one plugin instance (and, for a decoder, at most one open
//! session): the host instantiates components cheaply and gives each decode its own.

use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tonearm_plugin_api::{Artwork, ArtworkRequest};
use tonearm_plugin_api::{
    ByteSource, Clock, DecodeSession, Decoder, DirEntry, FileStat, FileSystem, HostContext,
    HttpClient, HttpRequest, HttpResponse, Instantiate, KeyValueStore, Log, LogLevel,
    MetadataSource, PluginDescriptor, PluginError, PluginResult, StorageProvider, TrackQuery,
};

/// Bindings generated from `wit/since_v0.3.0`.
#[allow(missing_docs, clippy::all, unsafe_code)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit/since_v0.3.0",
        world: "plugin-component",
        pub_export_macro: true,
        export_macro_name: "__export_plugin_component",
        default_bindings_module: "tonearm_plugin_component::guest::bindings",
    });
}

use bindings::exports::tonearm::plugin as exports;
use bindings::tonearm::plugin::host;
use bindings::tonearm::plugin::types as wit;

crate::__wit_conversions!(crate::guest::bindings::tonearm::plugin::types);

/// Names the descriptor a component exports; implemented by [`export_component!`](crate::export_component).
pub trait ComponentPlugin {
    /// The exported plugin.
    const DESCRIPTOR: &'static PluginDescriptor;
}

/// The adapter that implements the WIT exports for the plugin `P`.
pub struct Component<P>(PhantomData<P>);

#[derive(Default)]
struct State {
    decoder: Option<Box<dyn Decoder>>,
    session: Option<Session>,
    provider: Option<Box<dyn StorageProvider>>,
    metadata: Option<Box<dyn MetadataSource>>,
}

struct Session {
    inner: Box<dyn DecodeSession>,
    pending: Vec<f32>,
    offset: usize,
    channels: usize,
    ended: bool,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

fn state() -> MutexGuard<'static, Option<State>> {
    STATE.lock().unwrap_or_else(PoisonError::into_inner)
}

fn context() -> HostContext {
    let granted = host::granted();
    let mut ctx = HostContext::new(Arc::new(GuestHost), Arc::new(GuestHost));
    if granted.filesystem {
        ctx.fs = Some(Arc::new(GuestHost));
    }
    if granted.http {
        ctx.http = Some(Arc::new(GuestHost));
    }
    if granted.state {
        ctx.state = Some(Arc::new(GuestHost));
    }
    ctx.settings = host::settings().into_iter().collect();
    ctx
}

fn unsupported(kind: &str, descriptor: &PluginDescriptor) -> PluginError {
    PluginError::Unsupported(format!(
        "this component is a {}, not a {kind}",
        descriptor.instantiate.kind()
    ))
}

/// Runs `f` with the plugin instance of kind `pick`, creating it on first use.
fn with_state<T>(f: impl FnOnce(&mut State) -> PluginResult<T>) -> PluginResult<T> {
    let mut guard = state();
    f(guard.get_or_insert_with(State::default))
}

/// How a descriptor creates an instance of one kind.
type Create<T> = fn(&HostContext) -> PluginResult<Box<T>>;

/// The instance in `slot`, created with `create` on first use; `None` from `create` means
/// the component is not of this kind.
fn instance<'a, T: ?Sized>(
    slot: &'a mut Option<Box<T>>,
    kind: &str,
    descriptor: &PluginDescriptor,
    create: Option<Create<T>>,
) -> PluginResult<&'a T> {
    if slot.is_none() {
        let create = create.ok_or_else(|| unsupported(kind, descriptor))?;
        *slot = Some(create(&context())?);
    }
    slot.as_deref()
        .ok_or_else(|| PluginError::Internal(format!("no {kind}")))
}

impl<P: ComponentPlugin> Component<P> {
    fn decoder(state: &mut State) -> PluginResult<&dyn Decoder> {
        let create = match P::DESCRIPTOR.instantiate {
            Instantiate::Decoder(create) => Some(create),
            _ => None,
        };
        instance(&mut state.decoder, "decoder", P::DESCRIPTOR, create)
    }

    fn provider(state: &mut State) -> PluginResult<&dyn StorageProvider> {
        let create = match P::DESCRIPTOR.instantiate {
            Instantiate::StorageProvider(create) => Some(create),
            _ => None,
        };
        instance(
            &mut state.provider,
            "storage provider",
            P::DESCRIPTOR,
            create,
        )
    }

    fn metadata(state: &mut State) -> PluginResult<&dyn MetadataSource> {
        let create = match P::DESCRIPTOR.instantiate {
            Instantiate::MetadataSource(create) => Some(create),
            _ => None,
        };
        instance(
            &mut state.metadata,
            "metadata source",
            P::DESCRIPTOR,
            create,
        )
    }
}

impl<P: ComponentPlugin> exports::plugin::Guest for Component<P> {
    fn manifest() -> String {
        serde_json::to_string(&(P::DESCRIPTOR.manifest)()).unwrap_or_default()
    }
}

impl<P: ComponentPlugin> exports::decoder::Guest for Component<P> {
    fn probe(head: Vec<u8>, hint: wit::ProbeHint) -> Result<u8, wit::PluginError> {
        with_state(|s| Self::decoder(s)?.probe(&head, &hint.into())).map_err(Into::into)
    }

    fn describe(hint: wit::ProbeHint) -> Result<wit::MediaInfo, wit::PluginError> {
        with_state(|s| {
            Self::decoder(s)?
                .describe(Arc::new(GuestHost), &hint.into())
                .map(Into::into)
        })
        .map_err(Into::into)
    }

    fn open(hint: wit::ProbeHint) -> Result<wit::StreamSpec, wit::PluginError> {
        with_state(|s| {
            let inner = Self::decoder(s)?.open(Arc::new(GuestHost), &hint.into())?;
            let spec = inner.spec();
            let channels = usize::from(spec.channels.max(1));
            s.session = Some(Session {
                inner,
                pending: Vec::new(),
                offset: 0,
                channels,
                ended: false,
            });
            Ok(spec.into())
        })
        .map_err(Into::into)
    }

    fn read(max_samples: u32) -> Result<Vec<f32>, wit::PluginError> {
        with_state(|s| {
            let session = s
                .session
                .as_mut()
                .ok_or_else(|| PluginError::Invalid("no session is open".into()))?;
            let room = max_samples as usize / session.channels * session.channels;
            if room == 0 {
                return Err(PluginError::Invalid(
                    "max-samples is smaller than one frame".into(),
                ));
            }
            // Fill up to `room` from as many chunks as fit: fewer calls across the boundary.
            let mut out = Vec::with_capacity(room);
            while out.len() < room {
                if session.offset >= session.pending.len() {
                    if session.ended {
                        break;
                    }
                    session.offset = 0;
                    match session.inner.read(&mut session.pending) {
                        Ok(0) => {
                            session.pending.clear();
                            session.ended = true;
                            break;
                        }
                        Ok(_) => {}
                        Err(e) if out.is_empty() => return Err(e),
                        // Deliver what was decoded; the error comes again on the next read.
                        Err(_) => break,
                    }
                }
                let take = (room - out.len()).min(session.pending.len() - session.offset);
                out.extend_from_slice(&session.pending[session.offset..session.offset + take]);
                session.offset += take;
            }
            Ok(out)
        })
        .map_err(Into::into)
    }

    fn seek(frame: u64) -> Result<u64, wit::PluginError> {
        with_state(|s| {
            let session = s
                .session
                .as_mut()
                .ok_or_else(|| PluginError::Invalid("no session is open".into()))?;
            session.pending.clear();
            session.offset = 0;
            session.ended = false;
            session.inner.seek(frame)
        })
        .map_err(Into::into)
    }
}

impl<P: ComponentPlugin> exports::storage_provider::Guest for Component<P> {
    fn change_cursor() -> Result<String, wit::PluginError> {
        with_state(|s| Self::provider(s)?.change_cursor()).map_err(Into::into)
    }

    fn list_entries(page_token: Option<String>) -> Result<wit::ListPage, wit::PluginError> {
        with_state(|s| {
            Self::provider(s)?
                .list(page_token.as_deref())
                .map(Into::into)
        })
        .map_err(Into::into)
    }

    fn changes(cursor: String) -> Result<wit::ChangePage, wit::PluginError> {
        with_state(|s| Self::provider(s)?.changes(&cursor).map(Into::into)).map_err(Into::into)
    }

    fn read_range(id: String, range: wit::ByteRange) -> Result<Vec<u8>, wit::PluginError> {
        with_state(|s| Self::provider(s)?.read_range(&id, range.into())).map_err(Into::into)
    }
}

impl<P: ComponentPlugin> exports::metadata_source::Guest for Component<P> {
    fn identify(query_json: String) -> Result<String, wit::PluginError> {
        with_state(|s| {
            let query: TrackQuery = from_json(&query_json, "track query")?;
            let candidates = Self::metadata(s)?.identify(&query)?;
            to_json(&candidates, "candidates")
        })
        .map_err(Into::into)
    }

    fn artwork(
        request_json: String,
    ) -> Result<Option<exports::metadata_source::Image>, wit::PluginError> {
        with_state(|s| {
            let request: ArtworkRequest = from_json(&request_json, "artwork request")?;
            let art = Self::metadata(s)?.artwork(&request)?;
            Ok(art.map(
                |Artwork {
                     mime,
                     max_edge,
                     bytes,
                 }| {
                    exports::metadata_source::Image {
                        mime,
                        max_edge,
                        bytes,
                    }
                },
            ))
        })
        .map_err(Into::into)
    }

    fn lyrics(query_json: String) -> Result<Option<String>, wit::PluginError> {
        with_state(|s| {
            let query: TrackQuery = from_json(&query_json, "track query")?;
            match Self::metadata(s)?.lyrics(&query)? {
                Some(lyrics) => to_json(&lyrics, "lyrics").map(Some),
                None => Ok(None),
            }
        })
        .map_err(Into::into)
    }
}

/// Parses the host's JSON argument `what`.
fn from_json<T: serde::de::DeserializeOwned>(json: &str, what: &str) -> PluginResult<T> {
    serde_json::from_str(json).map_err(|e| PluginError::Invalid(format!("{what}: {e}")))
}

/// Encodes an answer `what` as JSON.
fn to_json<T: serde::Serialize>(value: &T, what: &str) -> PluginResult<String> {
    serde_json::to_string(value).map_err(|e| PluginError::Internal(format!("{what}: {e}")))
}

/// The host's capabilities, reached through the `host` imports.
struct GuestHost;

impl Log for GuestHost {
    fn log(&self, level: LogLevel, message: &str) {
        let level = match level {
            LogLevel::Trace => wit::LogLevel::Trace,
            LogLevel::Debug => wit::LogLevel::Debug,
            LogLevel::Info => wit::LogLevel::Info,
            LogLevel::Warn => wit::LogLevel::Warn,
            LogLevel::Error => wit::LogLevel::Error,
        };
        host::log(level, message);
    }
}

impl Clock for GuestHost {
    fn now_unix_ms(&self) -> i64 {
        host::now_unix_ms()
    }
}

fn len32(len: usize) -> u64 {
    len as u64
}

impl ByteSource for GuestHost {
    fn len(&self) -> PluginResult<u64> {
        host::source_len().map_err(Into::into)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> PluginResult<usize> {
        let bytes = host::source_read_at(offset, len32(buf.len()))?;
        let n = bytes.len().min(buf.len());
        buf[..n].copy_from_slice(&bytes[..n]);
        Ok(n)
    }
}

impl FileSystem for GuestHost {
    fn read_dir(&self, path: &str) -> PluginResult<Vec<DirEntry>> {
        Ok(host::fs_read_dir(path)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    fn stat(&self, path: &str) -> PluginResult<FileStat> {
        Ok(host::fs_stat(path)?.into())
    }

    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> PluginResult<usize> {
        let bytes = host::fs_read_at(path, offset, len32(buf.len()))?;
        let n = bytes.len().min(buf.len());
        buf[..n].copy_from_slice(&bytes[..n]);
        Ok(n)
    }
}

impl KeyValueStore for GuestHost {
    fn get(&self, key: &str) -> PluginResult<Option<Vec<u8>>> {
        host::state_get(key).map_err(Into::into)
    }

    fn put(&self, key: &str, value: &[u8]) -> PluginResult<()> {
        host::state_put(key, value).map_err(Into::into)
    }

    fn delete(&self, key: &str) -> PluginResult<()> {
        host::state_delete(key).map_err(Into::into)
    }

    fn keys(&self, prefix: &str) -> PluginResult<Vec<String>> {
        host::state_keys(prefix).map_err(Into::into)
    }
}

impl HttpClient for GuestHost {
    fn send(&self, request: HttpRequest) -> PluginResult<HttpResponse> {
        Ok(host::http_send(&request.into())?.into())
    }
}
