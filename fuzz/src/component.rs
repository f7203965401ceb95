//! What a sandboxed provider component may answer, as the WIT values wasmtime lifts: each
//! goes through the conversions the loader uses (`__wit_conversions!`) into the contract's
//! types, must come back unchanged, and the provider's answers are then synced into a real
//! library by the engine. A component is outside code: whatever it answers (page tokens
//! that loop, a cursor that never advances, reads longer than asked), a sync must end with
//! a result or an error.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use tonearm_core::events::EventBus;
use tonearm_core::plugin::{LoadedPlugin, Origin, PluginHandle, ProviderFactory};
use tonearm_core::registry::Registry;
use tonearm_core::sources::Capabilities;
use tonearm_core::sync::{RetryPolicy, SyncOptions, Syncer};
use tonearm_plugin_api::{
    ByteRange, ChangePage, DirEntry, FileStat, HostContext, HttpRequest, HttpResponse, ListPage,
    MediaInfo, PluginError, PluginKind, PluginManifest, PluginResult, ProbeHint, StorageProvider,
    StreamSpec, TrackTags, crate_version,
};
use tonearm_store_sqlite::SqliteStore;

/// The host's bindings of the current WIT version, as the loader generates them, with
/// `Arbitrary` so the fuzzer can make their values.
mod bindings {
    #![allow(missing_docs)]
    wasmtime::component::bindgen!({
        path: "../plugin-component/wit/since_v0.3.0",
        world: "plugin-component",
        additional_derives: [arbitrary::Arbitrary, PartialEq],
    });
}

tonearm_plugin_component::__wit_conversions!(self::bindings::tonearm::plugin::types);

use self::bindings::tonearm::plugin::types as wit;

/// A provider component's answers, looked up by what the host asks.
#[derive(Debug, Arbitrary)]
struct Answers {
    cursor: Result<String, wit::PluginError>,
    /// Listing pages by page token (`None`: the first page).
    pages: Vec<(Option<String>, Result<wit::ListPage, wit::PluginError>)>,
    /// Change pages by cursor.
    changes: Vec<(String, Result<wit::ChangePage, wit::PluginError>)>,
    /// Reads, picked by the entry id's length.
    reads: Vec<Result<Vec<u8>, wit::PluginError>>,
}

/// The values that cross the boundary in one direction or the other and that a sync does
/// not use: they are checked for round trips only.
#[derive(Debug, Arbitrary)]
struct Others {
    hint: wit::ProbeHint,
    spec: wit::StreamSpec,
    info: wit::MediaInfo,
    tags: wit::TrackTags,
    range: wit::ByteRange,
    stat: wit::FileStat,
    dir: wit::DirEntry,
    request: wit::HttpRequest,
    response: wit::HttpResponse,
}

/// Asserts that `value` converts into the contract's `C` and back unchanged.
fn round_trip<W, C>(value: &W)
where
    W: Clone + PartialEq + std::fmt::Debug + From<C>,
    C: From<W>,
{
    let back = W::from(C::from(value.clone()));
    assert_eq!(
        &back, value,
        "a WIT value changed through the contract's type"
    );
}

fn answer_round_trips<W, C>(answer: &Result<W, wit::PluginError>)
where
    W: Clone + PartialEq + std::fmt::Debug + From<C>,
    C: From<W>,
{
    match answer {
        Ok(value) => round_trip::<W, C>(value),
        Err(error) => round_trip::<wit::PluginError, PluginError>(error),
    }
}

/// Converts a component's answer as the loader does.
fn lift<W, C: From<W>>(answer: &Result<W, wit::PluginError>) -> PluginResult<C>
where
    W: Clone,
{
    answer.clone().map(C::from).map_err(PluginError::from)
}

struct Scripted(Arc<Answers>);

impl StorageProvider for Scripted {
    fn change_cursor(&self) -> PluginResult<String> {
        self.0.cursor.clone().map_err(PluginError::from)
    }

    fn list(&self, page_token: Option<&str>) -> PluginResult<ListPage> {
        match self
            .0
            .pages
            .iter()
            .find(|(t, _)| t.as_deref() == page_token)
        {
            Some((_, answer)) => lift(answer),
            None => Err(PluginError::Invalid(format!("no page {page_token:?}"))),
        }
    }

    fn changes(&self, cursor: &str) -> PluginResult<ChangePage> {
        match self.0.changes.iter().find(|(c, _)| c == cursor) {
            Some((_, answer)) => lift(answer),
            None => Ok(ChangePage {
                changes: Vec::new(),
                next_cursor: cursor.to_owned(),
                has_more: false,
            }),
        }
    }

    fn read_range(&self, id: &str, _: ByteRange) -> PluginResult<Vec<u8>> {
        match self.0.reads.len() {
            0 => Err(PluginError::NotFound(id.to_owned())),
            n => self.0.reads[id.len() % n]
                .clone()
                .map_err(PluginError::from),
        }
    }
}

/// Makes providers answering the current input's answers.
#[derive(Default)]
struct Factory(Mutex<Option<Arc<Answers>>>);

impl ProviderFactory for Factory {
    fn create(&self, _: &HostContext) -> PluginResult<Arc<dyn StorageProvider>> {
        let answers = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match answers {
            Some(answers) => Ok(Arc::new(Scripted(answers))),
            None => Err(PluginError::Internal("no answers yet".into())),
        }
    }
}

/// Grants nothing beyond the context: the scripted provider needs no folder or network.
struct NoCapabilities;

impl Capabilities for NoCapabilities {
    fn grant(
        &self,
        _: &tonearm_core::library::Source,
        _: &PluginManifest,
        _: &EventBus,
        ctx: HostContext,
    ) -> Result<HostContext, String> {
        Ok(ctx)
    }
}

/// One library, runtime and registry for the whole run; each input syncs a new source.
struct World {
    runtime: tokio::runtime::Runtime,
    syncer: Syncer<SqliteStore, NoCapabilities>,
    full: Syncer<SqliteStore, NoCapabilities>,
    factory: Arc<Factory>,
    sources: AtomicU64,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("a runtime starts: {e}"));
        let shm = PathBuf::from("/dev/shm");
        let dir = if shm.is_dir() {
            shm
        } else {
            std::env::temp_dir()
        };
        let path = dir.join(format!("tonearm-fuzz-{}.db", std::process::id()));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        let store = runtime
            .block_on(SqliteStore::open(&path))
            .unwrap_or_else(|e| panic!("the library opens: {e}"));
        let factory = Arc::new(Factory::default());
        let registry = Registry::new(EventBus::default());
        let mut manifest = PluginManifest::new(
            "scripted",
            "Scripted component",
            crate_version!(),
            PluginKind::StorageProvider,
        );
        manifest.formats.extensions = vec!["mp3".into(), "flac".into()];
        registry
            .register(LoadedPlugin {
                manifest,
                origin: Origin::Builtin,
                handle: PluginHandle::StorageProvider(factory.clone()),
            })
            .unwrap_or_else(|e| panic!("the scripted provider registers: {e}"));
        let registry = Arc::new(registry);
        let options = SyncOptions {
            batch_size: 4,
            // Retries without waiting: the answers do not change with time.
            retry: RetryPolicy {
                attempts: 2,
                min_delay: Duration::ZERO,
                max_delay: Duration::ZERO,
            },
            ..SyncOptions::default()
        };
        let syncer = Syncer::new(store.clone(), registry.clone(), NoCapabilities, options);
        let full = Syncer::new(
            store,
            registry,
            NoCapabilities,
            SyncOptions {
                full: true,
                ..options
            },
        );
        World {
            runtime,
            syncer,
            full,
            factory,
            sources: AtomicU64::new(0),
        }
    })
}

/// Checks the round trips of every value in `data`, then syncs a source whose provider
/// answers what `data` says: a first sync (a full listing), an incremental one, a full one.
pub fn provider_answers(data: &[u8]) {
    let mut input = Unstructured::new(data);
    let (Ok(answers), Ok(others)) = (
        Answers::arbitrary(&mut input),
        Others::arbitrary(&mut input),
    ) else {
        return;
    };
    round_trip::<_, ProbeHint>(&others.hint);
    round_trip::<_, StreamSpec>(&others.spec);
    round_trip::<_, MediaInfo>(&others.info);
    round_trip::<_, TrackTags>(&others.tags);
    round_trip::<_, ByteRange>(&others.range);
    round_trip::<_, FileStat>(&others.stat);
    round_trip::<_, DirEntry>(&others.dir);
    round_trip::<_, HttpRequest>(&others.request);
    round_trip::<_, HttpResponse>(&others.response);
    answer_round_trips::<_, String>(&answers.cursor);
    for (_, page) in &answers.pages {
        answer_round_trips::<_, ListPage>(page);
    }
    for (_, page) in &answers.changes {
        answer_round_trips::<_, ChangePage>(page);
    }

    let world = world();
    *world
        .factory
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(answers));
    let name = format!("s{}", world.sources.fetch_add(1, Ordering::Relaxed));
    world.runtime.block_on(async {
        let store = world.syncer.store();
        if let Err(e) = store.add_source(&name, "scripted", &BTreeMap::new()).await {
            panic!("the source is added: {e}");
        }
        let _ = world.syncer.sync_source(&name).await;
        let _ = world.syncer.sync_source(&name).await;
        let _ = world.full.sync_source(&name).await;
        if let Err(e) = store.remove_source(&name).await {
            panic!("the source is removed: {e}");
        }
    });
}
