//! The core of one worker: requests in ([`crate::protocol::Call`]), replies and events
//! out. The library lives in IndexedDB, sources sync through the same engine as natively,
//! and tracks play from wherever their source keeps them.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use tonearm_core::enrich::{EnrichOptions, Kind, Recommendation};
use tonearm_core::events::EventBus;
use tonearm_core::library::{LibraryStore, StoreError};
use tonearm_core::player::{GainSettings, OutputFormat};
#[cfg(feature = "_oauth")]
use tonearm_core::sources::Capabilities;
use tonearm_core::{Received, Registry, SyncRequest, Tonearm};
use tonearm_plugin_api::PluginKind;
use wasm_bindgen::prelude::*;

#[cfg(feature = "_oauth")]
use crate::auth::{self, TokenJournal};
use crate::cache::OpfsCache;
#[cfg(feature = "_http")]
use crate::capabilities::WorkerNet;
use crate::capabilities::{PickedFolder, WorkerCapabilities};
use crate::library::IndexedDbStore;
use crate::playback::Stream;
use crate::player::WorkerPlayer;
use crate::protocol::{Call, Cover, PluginSummary, Reply, Request, SyncResult, WorkerMessage};

/// The facade as the worker runs it: the IndexedDB library, picked folders, worker HTTP.
type WorkerTonearm = Tonearm<IndexedDbStore, WorkerCapabilities>;

/// The offline cache's size limit when the page names none, in MiB.
const DEFAULT_CACHE_MB: u64 = 1024;

struct Inner {
    registry: Arc<Registry>,
    /// Made by `init`, which opens the library.
    tonearm: RefCell<Option<WorkerTonearm>>,
    capabilities: WorkerCapabilities,
    streams: RefCell<HashMap<u32, Stream>>,
    next_stream: Cell<u32>,
    /// Started by `playerStart`.
    player: RefCell<Option<WorkerPlayer>>,
    /// Where the player's audio goes: the worker script's `postMessage`.
    audio_sink: Rc<RefCell<Option<js_sys::Function>>>,
    /// Whether the HTTP cache kept in the library was read into memory.
    #[cfg(feature = "_http")]
    cache_loaded: Cell<bool>,
}

/// The Tonearm core of one worker.
#[wasm_bindgen]
pub struct Core {
    inner: Rc<Inner>,
}

fn error_text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

#[wasm_bindgen]
impl Core {
    /// A core with every plugin this bundle links in; `init` opens its library.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Result<Core, JsError> {
        let (registry, errors) = Registry::with_builtins(EventBus::default());
        if let Some(error) = errors.into_iter().next() {
            return Err(JsError::new(&format!(
                "a builtin plugin failed to load: {error}"
            )));
        }
        let capabilities = WorkerCapabilities {
            folders: Rc::default(),
            #[cfg(feature = "_oauth")]
            sessions: Rc::default(),
            #[cfg(feature = "_oauth")]
            library: Rc::default(),
            #[cfg(feature = "_oauth")]
            journal: Rc::default(),
            #[cfg(feature = "_oauth")]
            bus: registry.bus().clone(),
            #[cfg(feature = "_http")]
            net: Arc::new(WorkerNet::new()),
        };
        Ok(Core {
            inner: Rc::new(Inner {
                registry: Arc::new(registry),
                tonearm: RefCell::new(None),
                capabilities,
                streams: RefCell::default(),
                next_stream: Cell::new(1),
                player: RefCell::default(),
                audio_sink: Rc::default(),
                #[cfg(feature = "_http")]
                cache_loaded: Cell::new(false),
            }),
        })
    }

    /// The ids of the plugins, sorted.
    #[wasm_bindgen(js_name = pluginIds)]
    pub fn plugin_ids(&self) -> Vec<String> {
        self.inner
            .registry
            .list()
            .into_iter()
            .map(|p| p.manifest.id)
            .collect()
    }

    /// Handles one call (the JSON of a `Call`; `files` are the `File`s of an `addFolder`).
    /// Resolves to the JSON of a `WorkerMessage`: its reply, or its error.
    pub fn handle(&self, call: String, files: Vec<web_sys::File>) -> js_sys::Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let message = match serde_json::from_str::<Call>(&call) {
                Err(e) => WorkerMessage::Error {
                    id: id_of(&call),
                    error: format!("not a request this worker knows: {e}"),
                },
                Ok(Call { id, request }) => match inner.handle(request, files).await {
                    Ok(result) => WorkerMessage::Reply {
                        id,
                        result: Box::new(result),
                    },
                    Err(error) => WorkerMessage::Error { id, error },
                },
            };
            serde_json::to_string(&message)
                .map(JsValue::from)
                .map_err(|e| JsValue::from_str(&e.to_string()))
        })
    }

    /// Calls `listener` with the JSON of a `WorkerMessage` for every event of the core.
    #[wasm_bindgen(js_name = onEvent)]
    pub fn on_event(&self, listener: js_sys::Function) {
        let mut events = self.inner.registry.bus().subscribe();
        wasm_bindgen_futures::spawn_local(async move {
            while let Some(received) = events.recv().await {
                let event = match received {
                    Received::Event(event) => event,
                    Received::Missed(n) => {
                        tracing::warn!(missed = n, "the page fell behind the event bus");
                        continue;
                    }
                };
                if let Ok(json) = serde_json::to_string(&WorkerMessage::Event { event }) {
                    let _ = listener.call1(&JsValue::NULL, &JsValue::from(json));
                }
            }
        });
    }

    /// Calls `listener` with each chunk of the player's audio: a `WorkerMessage` of kind
    /// `audio` whose `buffer` the listener should transfer (`postMessage(m, [m.buffer])`).
    #[wasm_bindgen(js_name = onAudio)]
    pub fn on_audio(&self, listener: js_sys::Function) {
        self.inner.audio_sink.replace(Some(listener));
    }

    /// Up to `frames` frames of a stream's interleaved PCM in a new `Float32Array` (whose
    /// buffer is the caller's, to transfer); `undefined` at the end.
    #[wasm_bindgen(js_name = nextChunk)]
    pub fn next_chunk(
        &self,
        stream: u32,
        frames: u32,
    ) -> Result<Option<js_sys::Float32Array>, JsError> {
        let mut streams = self.inner.streams.borrow_mut();
        streams
            .get_mut(&stream)
            .ok_or_else(|| JsError::new(&format!("no stream {stream}")))?
            .next_chunk(frames)
    }

    /// Opens `bytes` (a whole file; `name` gives its extension) with the best decoder,
    /// outside the library.
    #[wasm_bindgen(js_name = openBytes)]
    pub fn open_bytes(&self, bytes: Vec<u8>, name: &str) -> Result<Stream, JsError> {
        Stream::open(&self.inner.registry, bytes, name).map_err(|e| JsError::new(&e))
    }
}

/// The id of a call that did not parse, so its caller still hears back.
fn id_of(call: &str) -> u32 {
    serde_json::from_str::<serde_json::Value>(call)
        .ok()
        .and_then(|v| v.get("id")?.as_u64())
        .and_then(|id| u32::try_from(id).ok())
        .unwrap_or(0)
}

impl Inner {
    fn tonearm(&self) -> Result<WorkerTonearm, String> {
        self.tonearm
            .borrow()
            .clone()
            .ok_or_else(|| "the library is not open: call `init` first".to_owned())
    }

    fn store(&self) -> Result<IndexedDbStore, String> {
        Ok(self.tonearm()?.store().clone())
    }

    async fn handle(&self, request: Request, files: Vec<web_sys::File>) -> Result<Reply, String> {
        match request {
            Request::Init {
                database,
                cache_limit_mb,
            } => self.init(database.as_deref(), cache_limit_mb).await,
            Request::AddFolder { name, paths, .. } => self.add_folder(&name, files, paths).await,
            #[cfg(feature = "_oauth")]
            Request::BeginSignIn {
                name,
                provider,
                settings,
                redirect_uri,
            } => {
                self.begin_sign_in(&name, provider.as_deref(), settings, &redirect_uri)
                    .await
            }
            #[cfg(feature = "_oauth")]
            Request::CompleteSignIn { state, code } => Ok(Reply::Source {
                source: self
                    .tonearm()?
                    .complete_sign_in(&state, &code)
                    .await
                    .map_err(error_text)?,
            }),
            #[cfg(feature = "_oauth")]
            Request::CancelSignIn { state } => {
                self.tonearm()?.cancel_sign_in(&state);
                Ok(Reply::Done)
            }
            #[cfg(not(feature = "_oauth"))]
            Request::BeginSignIn { .. }
            | Request::CompleteSignIn { .. }
            | Request::CancelSignIn { .. } => Err(
                "this bundle has no provider that signs in (build it with `gdrive` or `onedrive`)"
                    .into(),
            ),
            Request::RemoveSource { name } => {
                self.tonearm()?
                    .remove_source(&name)
                    .await
                    .map_err(error_text)?;
                self.capabilities.folders.borrow_mut().remove(&name);
                Ok(Reply::Done)
            }
            Request::Sources {} => Ok(Reply::Sources {
                sources: self.tonearm()?.sources().await.map_err(error_text)?,
            }),
            Request::Sync { source, full } => {
                let outcomes = self
                    .tonearm()?
                    .sync(SyncRequest { source, full })
                    .await
                    .map_err(error_text)?;
                let results = outcomes
                    .into_iter()
                    .map(|outcome| (outcome.source, outcome.result))
                    .map(|(source, outcome)| match outcome {
                        Ok(counts) => SyncResult {
                            source,
                            counts: Some(counts),
                            error: None,
                        },
                        Err(e) => SyncResult {
                            source,
                            counts: None,
                            error: Some(e.to_string()),
                        },
                    })
                    .collect();
                Ok(Reply::Synced { results })
            }
            Request::Tracks { limit, offset } => Ok(Reply::Tracks {
                tracks: self
                    .tonearm()?
                    .tracks(limit, offset)
                    .await
                    .map_err(error_text)?,
            }),
            Request::Search { text, limit } => Ok(Reply::Tracks {
                tracks: self
                    .tonearm()?
                    .search(&text, limit)
                    .await
                    .map_err(error_text)?,
            }),
            Request::Stats {} => Ok(Reply::Stats {
                stats: self.tonearm()?.stats().await.map_err(error_text)?,
            }),
            Request::FailedFiles { limit } => Ok(Reply::FailedFiles {
                files: self
                    .tonearm()?
                    .failed_files(limit)
                    .await
                    .map_err(error_text)?,
            }),
            request @ (Request::Playlists {}
            | Request::CreatePlaylist { .. }
            | Request::AddToPlaylist { .. }
            | Request::PlaylistTracks { .. }
            | Request::RemoveFromPlaylist { .. }
            | Request::MoveInPlaylist { .. }
            | Request::RenamePlaylist { .. }
            | Request::DeletePlaylist { .. }) => {
                crate::playlists::handle(&self.tonearm()?, request).await
            }
            Request::Open { track } => self.open(track).await,
            // Pacing is the worker script's: it sends chunks while a stream plays and has
            // credit, and tells the core nothing about it.
            Request::Play { stream }
            | Request::Pause { stream }
            | Request::Credit { stream, .. } => self
                .streams
                .borrow()
                .contains_key(&stream)
                .then_some(Reply::Done)
                .ok_or_else(|| format!("no stream {stream}")),
            Request::Seek { stream, frame } => {
                let mut streams = self.streams.borrow_mut();
                let frame = streams
                    .get_mut(&stream)
                    .ok_or_else(|| format!("no stream {stream}"))?
                    .seek_to(frame)?;
                Ok(Reply::Seeked { frame })
            }
            Request::Stop { stream } => {
                self.streams.borrow_mut().remove(&stream);
                Ok(Reply::Done)
            }
            Request::PlayerStart {
                sample_rate,
                channels,
                ring_seconds,
                gain,
            } => self.start_player(sample_rate, channels, ring_seconds, gain),
            request @ (Request::Enqueue { .. }
            | Request::Dequeue { .. }
            | Request::MoveInQueue { .. }
            | Request::ClearQueue {}
            | Request::PlayerPlay {}
            | Request::PlayerPause {}
            | Request::PlayerToggle {}
            | Request::PlayerStop {}
            | Request::PlayerNext {}
            | Request::PlayerPrevious {}
            | Request::PlayerSeek { .. }
            | Request::PlayerJump { .. }
            | Request::PlayerVolume { .. }
            | Request::PlayerRepeat { .. }
            | Request::PlayerShuffle { .. }
            | Request::PlayerGain { .. }
            | Request::PlayerStatus {}
            | Request::PlayerCredit { .. }) => self
                .player
                .borrow()
                .as_ref()
                .ok_or("the player is not started: call `playerStart` first")?
                .handle(request),
            Request::Pin { tracks } => {
                let tonearm = self.tonearm()?;
                for track in tracks {
                    tonearm.pin(track).await.map_err(error_text)?;
                }
                self.cache_status()
            }
            Request::Unpin { tracks } => {
                let tonearm = self.tonearm()?;
                for track in tracks {
                    tonearm.unpin(track).map_err(error_text)?;
                }
                self.cache_status()
            }
            Request::ClearCache { pinned_too } => {
                self.tonearm()?
                    .clear_cache(pinned_too)
                    .map_err(error_text)?;
                self.cache_status()
            }
            Request::CacheStatus {} => self.cache_status(),
            Request::Enrich {
                source,
                only,
                dry_run,
                refresh,
                accept_medium,
                plugins,
                settings,
            } => {
                let options = EnrichOptions {
                    dry_run,
                    refresh,
                    accept: if accept_medium {
                        Recommendation::Medium
                    } else {
                        Recommendation::Strong
                    },
                    sources: plugins,
                    settings,
                    ..EnrichOptions::default()
                };
                let kinds = only.unwrap_or_else(|| self.offered_kinds());
                self.enrich(source.as_deref(), &kinds, options).await
            }
            Request::Artwork { track, album } => {
                let tonearm = self.tonearm()?;
                let image = if album {
                    tonearm.album_artwork(track).await
                } else {
                    tonearm.track_artwork(track).await
                }
                .map_err(error_text)?;
                Ok(Reply::Artwork {
                    image: image.map(|i| Cover {
                        data_url: format!("data:{};base64,{}", i.mime, BASE64.encode(&i.bytes)),
                        mime: i.mime,
                        sha256: i.sha256,
                    }),
                })
            }
            Request::Lyrics { track } => Ok(Reply::Lyrics {
                lyrics: self.tonearm()?.lyrics(track).await.map_err(error_text)?,
            }),
            Request::EditTags { track, values } => {
                self.tonearm()?
                    .edit_tags(track, values.into_iter().collect())
                    .await
                    .map_err(error_text)?;
                Ok(Reply::Done)
            }
            Request::Provenance { track } => Ok(Reply::Provenance {
                fields: self
                    .tonearm()?
                    .tag_provenance(track)
                    .await
                    .map_err(error_text)?,
            }),
        }
    }

    fn start_player(
        &self,
        sample_rate: u32,
        channels: u16,
        ring_seconds: Option<f32>,
        gain: Option<GainSettings>,
    ) -> Result<Reply, String> {
        let format = OutputFormat {
            sample_rate,
            channels,
        };
        if sample_rate == 0 || channels == 0 {
            return Err(format!(
                "the player cannot play {sample_rate} Hz × {channels} channels"
            ));
        }
        let mut player = self.player.borrow_mut();
        match player.as_ref() {
            Some(running) if running.format() == format => {}
            Some(running) => {
                let playing = running.format();
                return Err(format!(
                    "the player plays {} Hz × {} already (one player per worker)",
                    playing.sample_rate, playing.channels
                ));
            }
            None => {
                *player = Some(WorkerPlayer::start(
                    self.tonearm()?,
                    format,
                    crate::player::settings(ring_seconds, gain),
                    self.registry.bus().clone(),
                    self.audio_sink.clone(),
                ));
            }
        }
        player
            .as_ref()
            .ok_or("the player did not start")?
            .handle(Request::PlayerStatus {})
    }

    fn cache_status(&self) -> Result<Reply, String> {
        Ok(Reply::Cache {
            status: self.tonearm()?.cache_status().map_err(error_text)?,
        })
    }

    /// What the loaded metadata sources offer between them.
    fn offered_kinds(&self) -> Vec<Kind> {
        let plugins = self.registry.list();
        Kind::ALL
            .into_iter()
            .filter(|kind| {
                plugins.iter().any(|p| {
                    p.manifest.kind == PluginKind::MetadataSource
                        && p.failure.is_none()
                        && kind.offered_by(&p.manifest.metadata)
                })
            })
            .collect()
    }

    /// Runs enrichment with the worker's HTTP cache loaded from the library before and
    /// what the run added kept there after, even when the run failed part way.
    async fn enrich(
        &self,
        source: Option<&str>,
        kinds: &[Kind],
        options: EnrichOptions,
    ) -> Result<Reply, String> {
        let tonearm = self.tonearm()?;
        #[cfg(feature = "_http")]
        if !self.cache_loaded.replace(true) {
            let kept = tonearm.store().http_cache().await.map_err(error_text)?;
            self.capabilities.net.load(kept);
        }
        let run = tonearm.enrich(source, kinds, options, |_| {}).await;
        #[cfg(feature = "_http")]
        {
            let changed = self.capabilities.net.take_changed();
            if !changed.is_empty()
                && let Err(e) = tonearm.store().keep_http_answers(changed).await
            {
                tracing::warn!(error = %e, "cannot keep the HTTP cache");
            }
        }
        Ok(Reply::Enriched {
            reports: run.map_err(error_text)?,
            #[cfg(feature = "_http")]
            http: self.capabilities.net.stats(),
            #[cfg(not(feature = "_http"))]
            http: crate::protocol::HttpStats::default(),
        })
    }

    async fn init(
        &self,
        database: Option<&str>,
        cache_limit_mb: Option<u64>,
    ) -> Result<Reply, String> {
        if self.tonearm.borrow().is_none() {
            let store = IndexedDbStore::open(database.unwrap_or("tonearm"))
                .await
                .map_err(error_text)?;
            #[cfg(feature = "_oauth")]
            let saver = store.clone();
            #[cfg(feature = "_oauth")]
            self.capabilities.library.replace(Some(store.clone()));
            // Refreshed tokens go to the journal before the refreshing call goes on, and to
            // IndexedDB as soon as the worker is free to write them.
            #[cfg(feature = "_oauth")]
            let journal = match TokenJournal::open().await {
                Ok(journal) => Some(Rc::new(journal)),
                Err(e) => {
                    tracing::warn!(error = %e, "refreshed tokens are kept in IndexedDB only");
                    None
                }
            };
            // What a worker that died wrote only to the journal reaches IndexedDB now, in
            // case the next worker cannot take the journal (another tab holds it).
            #[cfg(feature = "_oauth")]
            if let Some(journal) = &journal {
                for (source, tokens) in journal.all() {
                    store
                        .save_tokens(&source, &tokens)
                        .await
                        .map_err(error_text)?;
                }
            }
            #[cfg(feature = "_oauth")]
            self.capabilities.journal.replace(journal.clone());
            #[cfg(feature = "_oauth")]
            auth::set_saver(move |source, tokens| {
                if let Some(journal) = &journal
                    && let Err(e) = journal.put(source, tokens)
                {
                    tracing::error!(%source, error = %e, "cannot journal refreshed tokens");
                }
                let (store, source, tokens) = (saver.clone(), source.to_owned(), tokens.clone());
                wasm_bindgen_futures::spawn_local(async move {
                    if let Err(e) = store.save_tokens(&source, &tokens).await {
                        tracing::error!(%source, error = %e, "cannot keep refreshed tokens");
                    }
                });
            });
            let mut tonearm = Tonearm::new(self.registry.clone(), store, self.capabilities.clone());
            let database = database.unwrap_or("tonearm");
            match cache_limit_mb.unwrap_or(DEFAULT_CACHE_MB) {
                0 => {}
                limit_mb => match OpfsCache::open(
                    database,
                    limit_mb.saturating_mul(1 << 20),
                    self.registry.bus().clone(),
                )
                .await
                {
                    // The facade keeps its cache in an `Arc` on every platform; in the
                    // worker, one thread uses it.
                    #[allow(clippy::arc_with_non_send_sync)]
                    Ok(cache) => tonearm = tonearm.with_cache(Arc::new(cache)),
                    // Playback does not need the cache: tracks play from their sources.
                    Err(e) => tracing::warn!(error = %e, "playing without an offline cache"),
                },
            }
            *self.tonearm.borrow_mut() = Some(tonearm);
        }
        let store = self.store()?;
        let sources = store.sources().await.map_err(error_text)?;
        #[cfg(feature = "_oauth")]
        for source in &sources {
            if let Some(tokens) = self.capabilities.tokens(&source.name).await? {
                self.capabilities.start_session(&source.name, tokens);
            }
        }
        let plugins = self
            .registry
            .list()
            .into_iter()
            .map(|p| PluginSummary {
                id: p.manifest.id,
                name: p.manifest.name,
                version: p.manifest.version.to_string(),
                kind: serde_json::to_value(p.manifest.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                origin: p.origin.to_string(),
                failure: p.failure,
            })
            .collect();
        Ok(Reply::Ready { plugins, sources })
    }

    async fn add_folder(
        &self,
        name: &str,
        files: Vec<web_sys::File>,
        paths: Option<Vec<String>>,
    ) -> Result<Reply, String> {
        let tonearm = self.tonearm()?;
        let from_picker = paths.is_none() && files.iter().any(|f| !relative_path(f).is_empty());
        let paths = match paths {
            Some(paths) if paths.len() == files.len() => paths,
            Some(_) => return Err("addFolder: give one path per file".into()),
            None => files
                .iter()
                .map(|f| match relative_path(f) {
                    path if path.is_empty() => f.name(),
                    path => path,
                })
                .collect(),
        };
        let folder = PickedFolder::new(paths.into_iter().zip(files).collect(), from_picker);
        let source = match tonearm.store().source(name).await {
            Ok(source) if source.provider == "local" => source,
            Ok(source) => {
                return Err(format!(
                    "source `{name}` is a `{}` source, not a folder",
                    source.provider
                ));
            }
            Err(StoreError::NoSuchSource(_)) => tonearm
                .add_source(name, "local", BTreeMap::new())
                .await
                .map_err(error_text)?,
            Err(e) => return Err(e.to_string()),
        };
        self.capabilities
            .folders
            .borrow_mut()
            .insert(name.to_owned(), Arc::new(folder));
        Ok(Reply::Source { source })
    }

    #[cfg(feature = "_oauth")]
    async fn begin_sign_in(
        &self,
        name: &str,
        provider: Option<&str>,
        mut settings: BTreeMap<String, String>,
        redirect: &str,
    ) -> Result<Reply, String> {
        use tonearm_core::{OAuthClient, SignIn};

        // The client id is the page's registration, kept with the tokens, not a setting.
        let client = settings
            .remove("client_id")
            .map(|id| OAuthClient { id, secret: None });
        let request = match provider {
            Some(provider) => SignIn::new_source(name, provider, settings, redirect),
            None if settings.is_empty() => SignIn::again(name, redirect),
            None => {
                return Err(format!(
                    "signing `{name}` in again takes only `client_id`: the source keeps its settings"
                ));
            }
        };
        let request = match client {
            Some(client) => request.client(client),
            None => request,
        };
        let start = self
            .tonearm()?
            .begin_sign_in(request)
            .await
            .map_err(error_text)?;
        Ok(Reply::SignIn {
            url: start.url,
            state: start.state,
        })
    }

    async fn open(&self, track: i64) -> Result<Reply, String> {
        let tonearm = self.tonearm()?;
        let row = tonearm.track(track).await.map_err(error_text)?;
        let stream = Stream::from(tonearm.open_track(track, None).await.map_err(error_text)?);
        let id = self.next_stream.get();
        self.next_stream.set(id + 1);
        let reply = Reply::Opened {
            stream: id,
            decoder: stream.decoder(),
            sample_rate: stream.sample_rate(),
            channels: u16::try_from(stream.channels()).unwrap_or(u16::MAX),
            total_frames: stream.total_frames().map(|f| f as u64),
            track: row,
        };
        self.streams.borrow_mut().insert(id, stream);
        Ok(reply)
    }
}

/// A picked file's path inside the picked folder (`webkitRelativePath`), or `""`.
fn relative_path(file: &web_sys::File) -> String {
    js_sys::Reflect::get(file, &JsValue::from_str("webkitRelativePath"))
        .ok()
        .and_then(|p| p.as_string())
        .unwrap_or_default()
}
