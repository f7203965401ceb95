//! The library in IndexedDB: the browser's [`LibraryStore`].
//!
//! Tracks are kept whole, with their album, artists, genres and search words in the record
//! (a track's id is its file's id), so albums, artists and genres exist exactly while a
//! track names them and there are no orphans to remove. Search looks up the first query
//! word in a multi-entry index of word prefixes' owners and ranks the candidates as
//! [`tonearm_core::library::search`] says.

mod enrich;
pub(crate) mod idb;
mod ops;
mod playlists;
mod store;

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
#[cfg(feature = "_oauth")]
use tonearm_core::auth::StoredTokens;
use tonearm_core::library::{
    CursorUpdate, FailedFile, FileWrite, KnownFile, LibraryStats, LibraryStore, Playlist,
    PlaylistEdit, Source, StateChange, StoreError, StoreResult, TrackLocation, TrackRow,
    hash_from_text, hash_text, search,
};
use tonearm_plugin_api::RemoteEntry;
use wasm_bindgen::{JsCast as _, JsValue};
use web_sys::{
    IdbDatabase, IdbIndexParameters, IdbKeyRange, IdbObjectStore, IdbObjectStoreParameters,
    IdbTransaction, IdbTransactionMode,
};

use crate::records::*;
use idb::{all, js_error, key, numeric_key, put, record, request, to_js};
use ops::*;

/// 1: the library; 2: what enrichment writes (values over tags, sources' answers, images,
/// lyrics) and the HTTP cache; 3: metadata sources' state.
const SCHEMA_VERSION: u32 = 3;
const SOURCES: &str = "sources";
const FILES: &str = "files";
const TRACKS: &str = "tracks";
const PLAYLISTS: &str = "playlists";
const STATE: &str = "state";
/// Signed-in sources' tokens, by source name.
const TOKENS: &str = "tokens";
/// Values written over tracks' tags, by track and field.
const OVERRIDES: &str = "overrides";
/// What each metadata source answered, by track, kind and plugin.
const ENRICHMENT: &str = "enrichment";
/// Cover images, once per content, by SHA-256.
const IMAGES: &str = "images";
/// Tracks' lyrics, by track.
const LYRICS: &str = "lyrics";
/// Metadata sources' cacheable HTTP answers, by cache key.
const HTTP_CACHE: &str = "http_cache";
/// Metadata sources' state, by plugin and key.
const METADATA_STATE: &str = "metadata_state";
/// Everything a sync's writes touch: a track's removal takes what enrichment wrote
/// for it along.
const SYNC_STORES: &[&str] = &[
    SOURCES, FILES, TRACKS, PLAYLISTS, STATE, OVERRIDES, ENRICHMENT, IMAGES, LYRICS,
];

/// The library in one IndexedDB database. Cheap to clone: clones share the connection.
#[derive(Debug, Clone)]
pub struct IndexedDbStore {
    db: IdbDatabase,
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

/// Adds what version 2 keeps: enrichment's records and the HTTP cache.
fn create_enrich_schema(db: &IdbDatabase) -> Result<(), JsValue> {
    let keyed = |fields: &[&str]| {
        let params = IdbObjectStoreParameters::new();
        let path: JsValue = match fields {
            [one] => JsValue::from_str(one),
            many => many
                .iter()
                .map(|s| JsValue::from_str(s))
                .collect::<js_sys::Array>()
                .into(),
        };
        params.set_key_path(&path);
        params
    };
    let by_track = |store: IdbObjectStore| {
        store.create_index_with_str_and_optional_parameters(
            "track",
            "track_id",
            &IdbIndexParameters::new(),
        )
    };
    by_track(db.create_object_store_with_optional_parameters(
        OVERRIDES,
        &keyed(&["track_id", "field"]),
    )?)?;
    by_track(db.create_object_store_with_optional_parameters(
        ENRICHMENT,
        &keyed(&["track_id", "kind", "plugin"]),
    )?)?;
    db.create_object_store_with_optional_parameters(IMAGES, &keyed(&["sha256"]))?;
    db.create_object_store_with_optional_parameters(LYRICS, &keyed(&["track_id"]))?;
    db.create_object_store_with_optional_parameters(HTTP_CACHE, &keyed(&["key"]))?;
    Ok(())
}

/// Adds what version 3 keeps: metadata sources' state.
fn create_metadata_state_schema(db: &IdbDatabase) -> Result<(), JsValue> {
    let params = IdbObjectStoreParameters::new();
    let path: js_sys::Array = ["plugin", "key"]
        .iter()
        .map(|s| JsValue::from_str(s))
        .collect();
    params.set_key_path(&path.into());
    db.create_object_store_with_optional_parameters(METADATA_STATE, &params)?
        .create_index_with_str("plugin", "plugin")?;
    Ok(())
}

impl IndexedDbStore {
    /// Opens (creating if needed) the library database `name`.
    pub async fn open(name: &str) -> StoreResult<Self> {
        // Each version adds stores to the one before.
        let db = idb::open(name, SCHEMA_VERSION, |db, old| {
            if old < 1.0 {
                create_schema(db)?;
            }
            if old < 2.0 {
                create_enrich_schema(db)?;
            }
            if old < 3.0 {
                create_metadata_state_schema(db)?;
            }
            Ok(())
        })
        .await?;
        Ok(Self { db })
    }

    /// Deletes the library database `name` (every open connection must be closed).
    pub async fn delete(name: &str) -> StoreResult<()> {
        let deleting = idb::factory()?
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
    async fn the_indexeddb_store_keeps_every_enrichment_promise() {
        let count = Cell::new(0);
        tonearm_core::enrich::conformance::check(|| {
            let name = fresh_name("enrich", count.replace(count.get() + 1));
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
                vec![write],
                vec![],
                CursorUpdate::Cursor("c".into()),
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
