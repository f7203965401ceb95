//! The library in IndexedDB: the browser's [`LibraryStore`].
//!
//! Tracks are kept whole, with their album, artists, genres and search words in the record
//! (a track's id is its file's id), so albums, artists and genres exist exactly while a
//! track names them and there are no orphans to remove. Search looks up the first query
//! word in a multi-entry index of word prefixes' owners and ranks the candidates as
//! [`tonearm_core::library::search`] says.

mod idb;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
#[cfg(feature = "_oauth")]
use tonearm_core::auth::StoredTokens;
use tonearm_core::library::{
    ArtworkRef, CursorUpdate, FailedFile, FileWrite, KnownFile, LibraryStats, LibraryStore,
    ScannedTrack, Source, StateChange, StoreError, StoreResult, TrackLocation, TrackRow,
    display_names, hash_text, search,
};
use tonearm_plugin_api::RemoteEntry;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast as _, JsValue};
use web_sys::{
    IdbDatabase, IdbFactory, IdbIndexParameters, IdbKeyRange, IdbObjectStore,
    IdbObjectStoreParameters, IdbOpenDbRequest, IdbTransaction, IdbTransactionMode,
};

use idb::{all, js_error, key, numeric_key, put, record, request, to_js};

const SCHEMA_VERSION: u32 = 1;
const SOURCES: &str = "sources";
const FILES: &str = "files";
const TRACKS: &str = "tracks";
const PLAYLISTS: &str = "playlists";
const STATE: &str = "state";
/// Signed-in sources' tokens, by source name.
const TOKENS: &str = "tokens";

/// A file as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct FileRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<i64>,
    source_id: i64,
    remote_id: String,
    path: String,
    size: u64,
    modified_ms: Option<i64>,
    content_hash: Option<String>,
    mime: Option<String>,
    error: Option<String>,
    bytes_read: u64,
    seen_generation: i64,
}

/// A track as stored: its file's id, tags, and what listing and search need.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TrackRecord {
    id: i64,
    source_id: i64,
    path: String,
    size: u64,
    track: ScannedTrack,
    /// The album artists it is listed under (its artists when the tags name none).
    album_artists: Vec<String>,
    /// Sort key: album artists, album, disc, track number, path (`""`/`-1` when absent).
    order: (String, String, i64, i64, String),
    /// Every search word of every field, for the multi-entry index.
    words: Vec<String>,
    /// The search words of each field, in [`search::FIELD_WEIGHTS`] order.
    fields: [Vec<String>; 6],
}

/// A playlist as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PlaylistRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<i64>,
    name: String,
    tracks: Vec<i64>,
}

/// Strips accents the way the SQLite store's tokenizer does: decompose, drop the marks.
fn fold(text: &str) -> String {
    let decomposed: String = js_sys::JsString::from(text).normalize("NFD").into();
    decomposed
        .chars()
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .collect()
}

impl TrackRecord {
    fn new(file_id: i64, source_id: i64, entry: &RemoteEntry, track: ScannedTrack) -> Self {
        let tags = &track.tags;
        let album_artists = match &tags.album {
            None => Vec::new(),
            Some(_) if tags.album_artists.is_empty() => tags.artists.clone(),
            Some(_) => tags.album_artists.clone(),
        };
        let mut record = Self {
            id: file_id,
            source_id,
            path: String::new(),
            size: entry.size,
            order: Default::default(),
            words: Vec::new(),
            fields: Default::default(),
            album_artists,
            track,
        };
        record.set_path(&entry.path);
        record
    }

    /// Moves the track to `path`, with its sort key and search words.
    fn set_path(&mut self, path: &str) {
        let tags = &self.track.tags;
        self.path = path.to_owned();
        self.order = (
            display_names(&self.album_artists),
            tags.album.clone().unwrap_or_default(),
            tags.disc_number.map_or(-1, i64::from),
            tags.track_number.map_or(-1, i64::from),
            path.to_owned(),
        );
        let words = |text: &str| search::words(text, fold);
        self.fields = [
            words(tags.title.as_deref().unwrap_or_default()),
            words(&tags.artists.join(" ")),
            words(tags.album.as_deref().unwrap_or_default()),
            words(&self.album_artists.join(" ")),
            words(&tags.genres.join(" ")),
            words(path),
        ];
        let unique: BTreeSet<&String> = self.fields.iter().flatten().collect();
        self.words = unique.into_iter().cloned().collect();
    }

    fn row(&self, sources: &HashMap<i64, String>) -> TrackRow {
        let tags = &self.track.tags;
        let audio = &self.track.audio;
        TrackRow {
            id: self.id,
            title: tags.title.clone(),
            artists: display_names(&tags.artists),
            album: tags.album.clone(),
            album_artists: tags
                .album
                .as_ref()
                .map(|_| display_names(&self.album_artists)),
            disc_number: tags.disc_number.map(i64::from),
            track_number: tags.track_number.map(i64::from),
            year: tags.year.map(i64::from),
            duration_ms: audio
                .duration_ms
                .map(|d| i64::try_from(d).unwrap_or(i64::MAX)),
            file_type: audio.file_type.clone(),
            sample_rate: audio.sample_rate.map(i64::from),
            channels: audio.channels.map(i64::from),
            path: self.path.clone(),
            source: sources.get(&self.source_id).cloned().unwrap_or_default(),
        }
    }
}

/// The library in one IndexedDB database. Cheap to clone: clones share the connection.
#[derive(Debug, Clone)]
pub struct IndexedDbStore {
    db: IdbDatabase,
}

fn factory() -> StoreResult<IdbFactory> {
    js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("indexedDB"))
        .ok()
        .and_then(|f| f.dyn_into::<IdbFactory>().ok())
        .ok_or_else(|| StoreError::storage("this browser context has no IndexedDB"))
}

/// Creates the object stores and indexes of an empty database.
fn create_schema(db: &IdbDatabase) -> Result<(), JsValue> {
    let keyed = |path: &JsValue, auto: bool| {
        let params = IdbObjectStoreParameters::new();
        params.set_key_path(path);
        params.set_auto_increment(auto);
        params
    };
    let index = |unique: bool, multi: bool| {
        let params = IdbIndexParameters::new();
        params.set_unique(unique);
        params.set_multi_entry(multi);
        params
    };
    let id = JsValue::from_str("id");
    let sources = db.create_object_store_with_optional_parameters(SOURCES, &keyed(&id, true))?;
    sources.create_index_with_str_and_optional_parameters("name", "name", &index(true, false))?;
    let files = db.create_object_store_with_optional_parameters(FILES, &keyed(&id, true))?;
    let pair = |a: &str, b: &str| -> js_sys::Array {
        [a, b].iter().map(|s| JsValue::from_str(s)).collect()
    };
    files.create_index_with_str_sequence_and_optional_parameters(
        "remote",
        &pair("source_id", "remote_id").into(),
        &index(true, false),
    )?;
    files.create_index_with_str_and_optional_parameters(
        "source",
        "source_id",
        &index(false, false),
    )?;
    let tracks = db.create_object_store_with_optional_parameters(TRACKS, &keyed(&id, false))?;
    tracks.create_index_with_str_and_optional_parameters("order", "order", &index(false, false))?;
    tracks.create_index_with_str_and_optional_parameters("words", "words", &index(false, true))?;
    tracks.create_index_with_str_and_optional_parameters(
        "source",
        "source_id",
        &index(false, false),
    )?;
    let playlists =
        db.create_object_store_with_optional_parameters(PLAYLISTS, &keyed(&id, true))?;
    playlists.create_index_with_str_and_optional_parameters("name", "name", &index(true, false))?;
    let state = db.create_object_store_with_optional_parameters(
        STATE,
        &keyed(&pair("source_id", "key").into(), false),
    )?;
    state.create_index_with_str_and_optional_parameters(
        "source",
        "source_id",
        &index(false, false),
    )?;
    db.create_object_store(TOKENS)?;
    Ok(())
}

impl IndexedDbStore {
    /// Opens (creating if needed) the library database `name`.
    pub async fn open(name: &str) -> StoreResult<Self> {
        let open = factory()?
            .open_with_u32(name, SCHEMA_VERSION)
            .map_err(js_error("open"))?;
        let upgrade = Closure::<dyn FnMut(web_sys::IdbVersionChangeEvent)>::new(
            move |event: web_sys::IdbVersionChangeEvent| {
                let db = event
                    .target()
                    .and_then(|t| t.dyn_into::<IdbOpenDbRequest>().ok())
                    .and_then(|r| r.result().ok())
                    .and_then(|r| r.dyn_into::<IdbDatabase>().ok());
                // Version 1 is the only schema: an upgrade means an empty database.
                if let Some(db) = db
                    && event.old_version() < 1.0
                    && let Err(e) = create_schema(&db)
                {
                    tracing::error!(error = %idb::describe(&e), "cannot create the library schema");
                }
            },
        );
        open.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
        let db = request(open.clone().into()).await;
        open.set_onupgradeneeded(None);
        drop(upgrade);
        let db: IdbDatabase = db?
            .dyn_into()
            .map_err(|_| StoreError::storage("IndexedDB open did not answer a database"))?;
        Ok(Self { db })
    }

    /// Deletes the library database `name` (every open connection must be closed).
    pub async fn delete(name: &str) -> StoreResult<()> {
        let deleting = factory()?
            .delete_database(name)
            .map_err(js_error("delete"))?;
        request(deleting.into()).await.map(|_| ())
    }

    /// Closes the connection.
    pub fn close(&self) {
        self.db.close();
    }

    /// The tokens `source` signed in with, if it did.
    #[cfg(feature = "_oauth")]
    pub async fn load_tokens(&self, source: &str) -> StoreResult<Option<StoredTokens>> {
        self.read(&[TOKENS], async |tx| {
            record(
                os(tx, TOKENS)?.get(&JsValue::from_str(source)),
                "get tokens",
            )
            .await
        })
        .await
    }

    /// Keeps the tokens of `source`.
    #[cfg(feature = "_oauth")]
    pub async fn save_tokens(&self, source: &str, tokens: &StoredTokens) -> StoreResult<()> {
        self.write(&[TOKENS], async |tx| {
            request(
                os(tx, TOKENS)?
                    .put_with_key(&to_js(tokens)?, &JsValue::from_str(source))
                    .map_err(js_error("put tokens"))?,
            )
            .await
            .map(|_| ())
        })
        .await
    }

    /// Forgets the tokens of `source`.
    pub async fn delete_tokens(&self, source: &str) -> StoreResult<()> {
        self.write(&[TOKENS], async |tx| {
            request(
                os(tx, TOKENS)?
                    .delete(&JsValue::from_str(source))
                    .map_err(js_error("delete tokens"))?,
            )
            .await
            .map(|_| ())
        })
        .await
    }

    /// Runs `body` in one transaction over `stores`; commits when it succeeds, aborts
    /// when it fails.
    async fn in_tx<T>(
        &self,
        stores: &[&str],
        mode: IdbTransactionMode,
        body: impl AsyncFnOnce(&IdbTransaction) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let tx = idb::transaction(&self.db, stores, mode)?;
        match body(&tx).await {
            Ok(value) => {
                if mode == IdbTransactionMode::Readwrite {
                    idb::committed(&tx).await?;
                }
                Ok(value)
            }
            Err(e) => {
                // Already finished (it failed by itself) is fine: nothing was kept.
                let _ = tx.abort();
                Err(e)
            }
        }
    }

    async fn read<T>(
        &self,
        stores: &[&str],
        body: impl AsyncFnOnce(&IdbTransaction) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.in_tx(stores, IdbTransactionMode::Readonly, body).await
    }

    async fn write<T>(
        &self,
        stores: &[&str],
        body: impl AsyncFnOnce(&IdbTransaction) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.in_tx(stores, IdbTransactionMode::Readwrite, body)
            .await
    }
}

fn os(tx: &IdbTransaction, name: &str) -> StoreResult<IdbObjectStore> {
    idb::store(tx, name)
}

async fn get_all<T: for<'de> Deserialize<'de>>(
    store: &IdbObjectStore,
    index: Option<&str>,
    query: &JsValue,
) -> StoreResult<Vec<T>> {
    let req = match index {
        None => store.get_all_with_key(query),
        Some(name) => store.index(name).and_then(|i| i.get_all_with_key(query)),
    }
    .map_err(js_error("getAll"))?;
    all(&request(req).await?)
}

async fn source_by_name(tx: &IdbTransaction, name: &str) -> StoreResult<Source> {
    let get = os(tx, SOURCES)?
        .index("name")
        .and_then(|i| i.get(&JsValue::from_str(name)));
    record(get, "get source")
        .await?
        .ok_or_else(|| StoreError::NoSuchSource(name.to_owned()))
}

async fn source_by_id(tx: &IdbTransaction, id: i64) -> StoreResult<Source> {
    record(os(tx, SOURCES)?.get(&number(id)), "get source")
        .await?
        .ok_or_else(|| StoreError::NoSuchSource(format!("#{id}")))
}

async fn put_source(tx: &IdbTransaction, source: &Source) -> StoreResult<()> {
    put(&os(tx, SOURCES)?, source, "put source")
        .await
        .map(|_| ())
}

async fn source_names(tx: &IdbTransaction) -> StoreResult<HashMap<i64, String>> {
    let sources: Vec<Source> = get_all(&os(tx, SOURCES)?, None, &JsValue::UNDEFINED).await?;
    Ok(sources.into_iter().map(|s| (s.id, s.name)).collect())
}

async fn file_by_remote(
    tx: &IdbTransaction,
    source_id: i64,
    remote_id: &str,
) -> StoreResult<Option<FileRecord>> {
    let get = os(tx, FILES)?
        .index("remote")
        .and_then(|i| i.get(&key(&[number(source_id), JsValue::from_str(remote_id)])));
    record(get, "get file").await
}

async fn track_record(tx: &IdbTransaction, id: i64) -> StoreResult<Option<TrackRecord>> {
    record(os(tx, TRACKS)?.get(&number(id)), "get track").await
}

async fn playlist_record(store: &IdbObjectStore, id: i64) -> StoreResult<PlaylistRecord> {
    record(store.get(&number(id)), "get playlist")
        .await?
        .ok_or(StoreError::NoSuchPlaylist(id))
}

/// Writes a file record; returns its id.
async fn put_file(tx: &IdbTransaction, file: &FileRecord) -> StoreResult<i64> {
    numeric_key(&put(&os(tx, FILES)?, file, "put file").await?, "file")
}

async fn put_track(tx: &IdbTransaction, track: &TrackRecord) -> StoreResult<()> {
    put(&os(tx, TRACKS)?, track, "put track").await.map(|_| ())
}

/// Deletes a track and takes it out of every playlist.
async fn delete_track(tx: &IdbTransaction, id: i64) -> StoreResult<()> {
    let tracks = os(tx, TRACKS)?;
    request(
        tracks
            .delete(&JsValue::from_f64(id as f64))
            .map_err(js_error("delete track"))?,
    )
    .await?;
    let store = os(tx, PLAYLISTS)?;
    let playlists: Vec<PlaylistRecord> = get_all(&store, None, &JsValue::UNDEFINED).await?;
    for mut playlist in playlists {
        if playlist.tracks.contains(&id) {
            playlist.tracks.retain(|t| *t != id);
            put(&store, &playlist, "put playlist").await?;
        }
    }
    Ok(())
}

/// Deletes a file with its track.
async fn delete_file(tx: &IdbTransaction, file: &FileRecord) -> StoreResult<()> {
    let Some(id) = file.id else {
        return Ok(());
    };
    request(
        os(tx, FILES)?
            .delete(&JsValue::from_f64(id as f64))
            .map_err(js_error("delete file"))?,
    )
    .await?;
    delete_track(tx, id).await
}

fn file_record(
    source_id: i64,
    generation: i64,
    entry: &RemoteEntry,
    error: Option<&str>,
    bytes_read: u64,
    id: Option<i64>,
) -> FileRecord {
    FileRecord {
        id,
        source_id,
        remote_id: entry.id.clone(),
        path: entry.path.clone(),
        size: entry.size,
        modified_ms: entry.modified_ms,
        content_hash: hash_text(entry),
        mime: entry.mime.clone(),
        error: error.map(str::to_owned),
        bytes_read,
        seen_generation: generation,
    }
}

async fn apply_one(
    tx: &IdbTransaction,
    source_id: i64,
    generation: i64,
    write: &FileWrite,
) -> StoreResult<()> {
    match write {
        FileWrite::Scanned {
            entry,
            track,
            bytes_read,
        } => {
            let existing = file_by_remote(tx, source_id, &entry.id).await?;
            let record = file_record(
                source_id,
                generation,
                entry,
                None,
                *bytes_read,
                existing.and_then(|f| f.id),
            );
            let id = put_file(tx, &record).await?;
            put_track(
                tx,
                &TrackRecord::new(id, source_id, entry, (**track).clone()),
            )
            .await?;
        }
        FileWrite::Failed {
            entry,
            reason,
            bytes_read,
        } => {
            let existing = file_by_remote(tx, source_id, &entry.id).await?;
            let had = existing.as_ref().and_then(|f| f.id);
            let record = file_record(source_id, generation, entry, Some(reason), *bytes_read, had);
            let id = put_file(tx, &record).await?;
            if had.is_some() {
                delete_track(tx, id).await?;
            }
        }
        FileWrite::Unchanged { entry } => {
            let Some(mut file) = file_by_remote(tx, source_id, &entry.id).await? else {
                return Ok(());
            };
            let moved = file.path != entry.path;
            file.path = entry.path.clone();
            file.modified_ms = entry.modified_ms;
            file.content_hash = hash_text(entry).or(file.content_hash);
            file.seen_generation = generation;
            let id = put_file(tx, &file).await?;
            if moved && let Some(mut track) = track_record(tx, id).await? {
                track.set_path(&entry.path);
                put_track(tx, &track).await?;
            }
        }
        FileWrite::Moved { from_id, entry } => {
            // Already applied (a replayed page): nothing to move.
            let Some(mut file) = file_by_remote(tx, source_id, from_id).await? else {
                return Ok(());
            };
            // A file moved over another one replaces it.
            if from_id != &entry.id
                && let Some(replaced) = file_by_remote(tx, source_id, &entry.id).await?
            {
                delete_file(tx, &replaced).await?;
            }
            file.remote_id = entry.id.clone();
            file.path = entry.path.clone();
            file.size = entry.size;
            file.modified_ms = entry.modified_ms;
            file.content_hash = hash_text(entry);
            file.seen_generation = generation;
            let id = put_file(tx, &file).await?;
            if let Some(mut track) = track_record(tx, id).await? {
                track.size = entry.size;
                track.set_path(&entry.path);
                put_track(tx, &track).await?;
            }
        }
        FileWrite::Removed { remote_id } => {
            if let Some(file) = file_by_remote(tx, source_id, remote_id).await? {
                delete_file(tx, &file).await?;
            }
        }
    }
    Ok(())
}

/// Applies plugin state changes of `source_id` inside `tx` (which must cover `STATE`).
async fn write_state(
    tx: &IdbTransaction,
    source_id: i64,
    changes: &[StateChange],
) -> StoreResult<()> {
    let store = os(tx, STATE)?;
    for (name, value) in changes {
        let req = match value {
            Some(value) => {
                let record = js_sys::Object::new();
                let set = |field: &str, v: &JsValue| {
                    js_sys::Reflect::set(&record, &JsValue::from_str(field), v)
                };
                set("source_id", &number(source_id))
                    .and_then(|_| set("key", &JsValue::from_str(name)))
                    .and_then(|_| set("value", &js_sys::Uint8Array::from(value.as_slice())))
                    .map_err(js_error("encode state"))?;
                store.put(&record)
            }
            None => store.delete(&key(&[number(source_id), JsValue::from_str(name)])),
        }
        .map_err(js_error("save state"))?;
        request(req).await?;
    }
    Ok(())
}

fn number(id: i64) -> JsValue {
    JsValue::from_f64(id as f64)
}

fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

impl LibraryStore for IndexedDbStore {
    async fn add_source(
        &self,
        name: &str,
        provider: &str,
        settings: &BTreeMap<String, String>,
    ) -> StoreResult<Source> {
        self.write(&[SOURCES], async |tx| {
            match source_by_name(tx, name).await {
                Ok(_) => return Err(StoreError::SourceExists(name.to_owned())),
                Err(StoreError::NoSuchSource(_)) => {}
                Err(e) => return Err(e),
            }
            let mut source = Source {
                id: 0,
                name: name.to_owned(),
                provider: provider.to_owned(),
                settings: settings.clone(),
                cursor: None,
                pending_cursor: None,
                pending_page: None,
                generation: 0,
                last_sync_at: None,
                last_error: None,
            };
            let record = to_js(&source)?;
            // Without an id the store assigns the next one.
            js_sys::Reflect::delete_property(
                record.unchecked_ref::<js_sys::Object>(),
                &JsValue::from_str("id"),
            )
            .map_err(js_error("encode source"))?;
            let id = request(
                os(tx, SOURCES)?
                    .add(&record)
                    .map_err(js_error("add source"))?,
            )
            .await?;
            source.id = numeric_key(&id, "source")?;
            Ok(source)
        })
        .await
    }

    async fn sources(&self) -> StoreResult<Vec<Source>> {
        self.read(&[SOURCES], async |tx| {
            let req = os(tx, SOURCES)?
                .index("name")
                .and_then(|i| i.get_all())
                .map_err(js_error("list sources"))?;
            all(&request(req).await?)
        })
        .await
    }

    async fn source(&self, name: &str) -> StoreResult<Source> {
        self.read(&[SOURCES], async |tx| source_by_name(tx, name).await)
            .await
    }

    async fn remove_source(&self, name: &str) -> StoreResult<()> {
        self.write(&[SOURCES, FILES, TRACKS, PLAYLISTS, STATE], async |tx| {
            let source = source_by_name(tx, name).await?;
            let id = number(source.id);
            let files: Vec<FileRecord> = get_all(&os(tx, FILES)?, Some("source"), &id).await?;
            for file in &files {
                delete_file(tx, file).await?;
            }
            let state = os(tx, STATE)?;
            let keys = request(
                state
                    .index("source")
                    .and_then(|i| i.get_all_keys_with_key(&id))
                    .map_err(js_error("list state"))?,
            )
            .await?;
            for key in js_sys::Array::from(&keys).iter() {
                request(state.delete(&key).map_err(js_error("delete state"))?).await?;
            }
            request(
                os(tx, SOURCES)?
                    .delete(&id)
                    .map_err(js_error("delete source"))?,
            )
            .await?;
            Ok(())
        })
        .await
    }

    async fn known_files(
        &self,
        source_id: i64,
        remote_ids: &[&str],
    ) -> StoreResult<HashMap<String, KnownFile>> {
        self.read(&[FILES], async |tx| {
            let mut known = HashMap::with_capacity(remote_ids.len());
            for remote_id in remote_ids {
                if let Some(file) = file_by_remote(tx, source_id, remote_id).await?
                    && let Some(id) = file.id
                {
                    known.insert(
                        file.remote_id.clone(),
                        KnownFile {
                            id,
                            remote_id: file.remote_id,
                            path: file.path,
                            size: file.size,
                            modified_ms: file.modified_ms,
                            content_hash: file.content_hash,
                            ok: file.error.is_none(),
                        },
                    );
                }
            }
            Ok(known)
        })
        .await
    }

    async fn begin_listing(&self, source_id: i64, cursor: &str) -> StoreResult<i64> {
        self.write(&[SOURCES], async |tx| {
            let mut source = source_by_id(tx, source_id).await?;
            source.pending_cursor = Some(cursor.to_owned());
            source.pending_page = None;
            source.generation += 1;
            put_source(tx, &source).await?;
            Ok(source.generation)
        })
        .await
    }

    async fn finish_listing(&self, source_id: i64, generation: i64) -> StoreResult<u64> {
        self.write(&[SOURCES, FILES, TRACKS, PLAYLISTS], async |tx| {
            let files: Vec<FileRecord> =
                get_all(&os(tx, FILES)?, Some("source"), &number(source_id)).await?;
            let mut removed = 0;
            for file in files.iter().filter(|f| f.seen_generation != generation) {
                delete_file(tx, file).await?;
                removed += 1;
            }
            let mut source = source_by_id(tx, source_id).await?;
            source.cursor = source.pending_cursor.take();
            source.pending_page = None;
            source.last_sync_at = Some(now_ms());
            source.last_error = None;
            put_source(tx, &source).await?;
            Ok(removed)
        })
        .await
    }

    async fn reset_cursor(&self, source_id: i64) -> StoreResult<()> {
        self.write(&[SOURCES], async |tx| {
            let mut source = source_by_id(tx, source_id).await?;
            source.cursor = None;
            source.pending_cursor = None;
            source.pending_page = None;
            put_source(tx, &source).await
        })
        .await
    }

    async fn record_sync_result(&self, source_id: i64, error: Option<&str>) -> StoreResult<()> {
        self.write(&[SOURCES], async |tx| {
            let mut source = source_by_id(tx, source_id).await?;
            match error {
                None => {
                    source.last_error = None;
                    source.last_sync_at = Some(now_ms());
                }
                Some(e) => source.last_error = Some(e.to_owned()),
            }
            put_source(tx, &source).await
        })
        .await
    }

    async fn apply_batch(
        &self,
        source_id: i64,
        generation: i64,
        writes: &[FileWrite],
        state: &[StateChange],
        position: &CursorUpdate,
    ) -> StoreResult<()> {
        self.write(&[SOURCES, FILES, TRACKS, PLAYLISTS, STATE], async |tx| {
            for write in writes {
                apply_one(tx, source_id, generation, write).await?;
            }
            write_state(tx, source_id, state).await?;
            match position {
                CursorUpdate::None => {}
                CursorUpdate::ListingPage(page) => {
                    let mut source = source_by_id(tx, source_id).await?;
                    source.pending_page = page.clone();
                    put_source(tx, &source).await?;
                }
                CursorUpdate::Cursor(cursor) => {
                    let mut source = source_by_id(tx, source_id).await?;
                    source.cursor = Some(cursor.clone());
                    put_source(tx, &source).await?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn remove_orphans(&self) -> StoreResult<()> {
        // Albums, artists, genres and artwork live inside the tracks that name them.
        Ok(())
    }

    async fn tracks(&self, limit: u32, offset: u32) -> StoreResult<Vec<TrackRow>> {
        // IndexedDB reads a count of 0 as "no limit".
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.read(&[SOURCES, TRACKS], async |tx| {
            let names = source_names(tx).await?;
            let req = os(tx, TRACKS)?
                .index("order")
                .and_then(|i| {
                    i.get_all_with_key_and_limit(&JsValue::UNDEFINED, limit.saturating_add(offset))
                })
                .map_err(js_error("list tracks"))?;
            let records: Vec<TrackRecord> = all(&request(req).await?)?;
            Ok(records
                .iter()
                .skip(offset as usize)
                .map(|t| t.row(&names))
                .collect())
        })
        .await
    }

    async fn search(&self, text: &str, limit: u32) -> StoreResult<Vec<TrackRow>> {
        let query = search::words(text, fold);
        // The longest word narrows the candidates most.
        let Some(probe) = query.iter().max_by_key(|w| w.len()).cloned() else {
            return Ok(Vec::new());
        };
        self.read(&[SOURCES, TRACKS], async |tx| {
            let names = source_names(tx).await?;
            let range = IdbKeyRange::bound(
                &JsValue::from_str(&probe),
                &JsValue::from_str(&format!("{probe}\u{ffff}")),
            )
            .map_err(js_error("key range"))?;
            let candidates: Vec<TrackRecord> =
                get_all(&os(tx, TRACKS)?, Some("words"), &range.into()).await?;
            let mut seen = BTreeSet::new();
            let mut scored: Vec<(f64, TrackRecord)> = candidates
                .into_iter()
                .filter(|t| seen.insert(t.id))
                .filter_map(|t| search::score(&query, &t.fields).map(|s| (s, t)))
                .collect();
            scored.sort_by(|(a, x), (b, y)| b.total_cmp(a).then_with(|| x.order.cmp(&y.order)));
            Ok(scored
                .iter()
                .take(limit as usize)
                .map(|(_, t)| t.row(&names))
                .collect())
        })
        .await
    }

    async fn track(&self, id: i64) -> StoreResult<TrackRow> {
        self.read(&[SOURCES, TRACKS], async |tx| {
            let names = source_names(tx).await?;
            track_record(tx, id)
                .await?
                .map(|t| t.row(&names))
                .ok_or(StoreError::NoSuchTrack(id))
        })
        .await
    }

    async fn track_location(&self, id: i64) -> StoreResult<TrackLocation> {
        self.read(&[SOURCES, FILES, TRACKS], async |tx| {
            let track = track_record(tx, id)
                .await?
                .ok_or(StoreError::NoSuchTrack(id))?;
            let file: FileRecord = record(os(tx, FILES)?.get(&number(id)), "get file")
                .await?
                .ok_or(StoreError::NoSuchTrack(id))?;
            Ok(TrackLocation {
                track_id: id,
                source: source_by_id(tx, track.source_id).await?,
                remote_id: file.remote_id,
                path: file.path,
                size: file.size,
            })
        })
        .await
    }

    async fn failed_files(&self, limit: u32) -> StoreResult<Vec<FailedFile>> {
        self.read(&[SOURCES, FILES, TRACKS], async |tx| {
            let names = source_names(tx).await?;
            let source = |id: i64| names.get(&id).cloned().unwrap_or_default();
            let files: Vec<FileRecord> =
                get_all(&os(tx, FILES)?, None, &JsValue::UNDEFINED).await?;
            let tracks: Vec<TrackRecord> =
                get_all(&os(tx, TRACKS)?, None, &JsValue::UNDEFINED).await?;
            let unreadable = files.into_iter().filter_map(|f| {
                Some(FailedFile {
                    source: source(f.source_id),
                    path: f.path,
                    reason: f.error?,
                    playable: false,
                })
            });
            let damaged_tags = tracks.into_iter().filter_map(|t| {
                Some(FailedFile {
                    source: source(t.source_id),
                    reason: t.track.tag_problem?,
                    path: t.path,
                    playable: true,
                })
            });
            let mut failed: Vec<FailedFile> = unreadable.chain(damaged_tags).collect();
            failed.sort_by(|a, b| (&a.source, &a.path).cmp(&(&b.source, &b.path)));
            failed.truncate(limit as usize);
            Ok(failed)
        })
        .await
    }

    async fn stats(&self) -> StoreResult<LibraryStats> {
        self.read(&[SOURCES, FILES, TRACKS], async |tx| {
            let sources = source_names(tx).await?.len();
            let tracks: Vec<TrackRecord> =
                get_all(&os(tx, TRACKS)?, None, &JsValue::UNDEFINED).await?;
            let files: Vec<FileRecord> =
                get_all(&os(tx, FILES)?, None, &JsValue::UNDEFINED).await?;
            let (mut albums, mut artists, mut genres, mut artwork) = (
                BTreeSet::new(),
                BTreeSet::new(),
                BTreeSet::new(),
                BTreeSet::new(),
            );
            let (mut duration, mut bytes) = (0i64, 0i64);
            for t in &tracks {
                let tags = &t.track.tags;
                if let Some(album) = &tags.album {
                    albums.insert((album.clone(), display_names(&t.album_artists)));
                    artists.extend(t.album_artists.iter().cloned());
                }
                artists.extend(tags.artists.iter().cloned());
                genres.extend(tags.genres.iter().cloned());
                artwork.extend(
                    t.track
                        .artwork
                        .as_ref()
                        .map(|a: &ArtworkRef| a.sha256.clone()),
                );
                duration += t.track.audio.duration_ms.map_or(0, |d| d as i64);
                bytes += t.size as i64;
            }
            let count = |n: usize| n as i64;
            Ok(LibraryStats {
                sources: count(sources),
                tracks: count(tracks.len()),
                albums: count(albums.len()),
                artists: count(artists.len()),
                genres: count(genres.len()),
                failed_files: count(files.iter().filter(|f| f.error.is_some()).count()),
                total_duration_ms: duration,
                total_bytes: bytes,
                artwork: count(artwork.len()),
            })
        })
        .await
    }

    async fn create_playlist(&self, name: &str) -> StoreResult<i64> {
        self.write(&[PLAYLISTS], async |tx| {
            let store = os(tx, PLAYLISTS)?;
            let get = store
                .index("name")
                .and_then(|i| i.get(&JsValue::from_str(name)));
            let existing: Option<PlaylistRecord> = record(get, "get playlist").await?;
            if existing.is_some() {
                return Err(StoreError::PlaylistExists(name.to_owned()));
            }
            let record = PlaylistRecord {
                id: None,
                name: name.to_owned(),
                tracks: Vec::new(),
            };
            let id = request(
                store
                    .add(&to_js(&record)?)
                    .map_err(js_error("add playlist"))?,
            )
            .await?;
            numeric_key(&id, "playlist")
        })
        .await
    }

    async fn append_to_playlist(&self, playlist_id: i64, track_id: i64) -> StoreResult<()> {
        self.write(&[PLAYLISTS, TRACKS], async |tx| {
            let store = os(tx, PLAYLISTS)?;
            let mut playlist = playlist_record(&store, playlist_id).await?;
            if track_record(tx, track_id).await?.is_none() {
                return Err(StoreError::NoSuchTrack(track_id));
            }
            playlist.tracks.push(track_id);
            put(&store, &playlist, "put playlist").await.map(|_| ())
        })
        .await
    }

    async fn playlist_tracks(&self, playlist_id: i64) -> StoreResult<Vec<TrackRow>> {
        self.read(&[SOURCES, PLAYLISTS, TRACKS], async |tx| {
            let playlist = playlist_record(&os(tx, PLAYLISTS)?, playlist_id).await?;
            let names = source_names(tx).await?;
            let mut rows = Vec::with_capacity(playlist.tracks.len());
            for id in playlist.tracks {
                if let Some(track) = track_record(tx, id).await? {
                    rows.push(track.row(&names));
                }
            }
            Ok(rows)
        })
        .await
    }

    async fn load_state(&self, source_id: i64) -> StoreResult<BTreeMap<String, Vec<u8>>> {
        self.read(&[STATE], async |tx| {
            let req = os(tx, STATE)?
                .index("source")
                .and_then(|i| i.get_all_with_key(&number(source_id)))
                .map_err(js_error("load state"))?;
            let records = js_sys::Array::from(&request(req).await?);
            let mut state = BTreeMap::new();
            for record in records.iter() {
                let get = |field: &str| js_sys::Reflect::get(&record, &JsValue::from_str(field));
                let key = get("key").ok().and_then(|k| k.as_string());
                let value = get("value")
                    .ok()
                    .and_then(|v| v.dyn_into::<js_sys::Uint8Array>().ok());
                match (key, value) {
                    (Some(key), Some(value)) => {
                        state.insert(key, value.to_vec());
                    }
                    _ => return Err(StoreError::Corrupt("a plugin state record".into())),
                }
            }
            Ok(state)
        })
        .await
    }

    async fn save_state(&self, source_id: i64, changes: &[StateChange]) -> StoreResult<()> {
        self.write(&[STATE], async |tx| {
            write_state(tx, source_id, changes).await
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use tonearm_core::library::conformance;
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    /// A database name no earlier run left behind.
    fn fresh_name(label: &str, n: u32) -> String {
        format!("tonearm-test-{label}-{}-{n}", js_sys::Date::now())
    }

    #[wasm_bindgen_test]
    async fn the_indexeddb_store_keeps_every_library_promise() {
        let count = Cell::new(0);
        conformance::check(|| {
            let name = fresh_name("conformance", count.replace(count.get() + 1));
            async move { IndexedDbStore::open(&name).await.unwrap() }
        })
        .await;
    }

    #[wasm_bindgen_test]
    async fn the_library_survives_closing_and_reopening() {
        let name = fresh_name("reopen", 0);
        let store = IndexedDbStore::open(&name).await.unwrap();
        let source = store
            .add_source("music", "local", &BTreeMap::new())
            .await
            .unwrap();
        let entry = RemoteEntry {
            id: "1".into(),
            path: "a/b.flac".into(),
            size: 3,
            modified_ms: None,
            content_hash: None,
            mime: None,
        };
        let write = FileWrite::Scanned {
            entry,
            track: Box::default(),
            bytes_read: 3,
        };
        store
            .apply_batch(
                source.id,
                0,
                &[write],
                &[],
                &CursorUpdate::Cursor("c".into()),
            )
            .await
            .unwrap();
        store.close();

        let again = IndexedDbStore::open(&name).await.unwrap();
        assert_eq!(
            again.source("music").await.unwrap().cursor.as_deref(),
            Some("c")
        );
        assert_eq!(again.tracks(10, 0).await.unwrap()[0].path, "a/b.flac");
        again.close();
        IndexedDbStore::delete(&name).await.unwrap();
        let empty = IndexedDbStore::open(&name).await.unwrap();
        assert!(
            empty.sources().await.unwrap().is_empty(),
            "deleted means gone"
        );
    }
}
