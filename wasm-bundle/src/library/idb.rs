//! IndexedDB as futures: requests, transactions, and records as JSON-shaped objects.
//!
//! A transaction stays active only while its requests' callbacks (and the microtasks they
//! queue) run. Awaiting a request here resumes in a microtask, so a transaction can be
//! driven by `await`s as long as nothing else (a timer, a fetch) is awaited inside it.

use js_sys::{Array, Function, Promise};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonearm_core::library::{StoreError, StoreResult};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast as _, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    IdbDatabase, IdbFactory, IdbObjectStore, IdbOpenDbRequest, IdbRequest, IdbTransaction,
    IdbTransactionMode, IdbVersionChangeEvent,
};

/// Describes a JavaScript error (a `DOMException` from IndexedDB, usually).
pub fn describe(value: &JsValue) -> String {
    if let Some(e) = value.dyn_ref::<web_sys::DomException>() {
        return format!("{}: {}", e.name(), e.message());
    }
    if let Some(e) = value.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    value.as_string().unwrap_or_else(|| format!("{value:?}"))
}

/// A storage failure from a JavaScript error, saying what was being done.
pub fn js_error(what: &'static str) -> impl Fn(JsValue) -> StoreError {
    move |e| StoreError::storage(format!("IndexedDB {what}: {}", describe(&e)))
}

/// Waits for `request` to succeed and returns its result.
pub async fn request(request: IdbRequest) -> StoreResult<JsValue> {
    let promise = Promise::new(&mut |resolve: Function, reject: Function| {
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
    });
    let outcome = JsFuture::from(promise).await;
    request.set_onsuccess(None);
    request.set_onerror(None);
    match outcome {
        Ok(_) => request.result().map_err(js_error("result")),
        Err(_) => Err(StoreError::storage(format!(
            "IndexedDB request failed: {}",
            request.error().ok().flatten().map_or_else(
                || "no reason given".into(),
                |e| format!("{}: {}", e.name(), e.message())
            )
        ))),
    }
}

/// This context's IndexedDB.
pub fn factory() -> StoreResult<IdbFactory> {
    js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("indexedDB"))
        .ok()
        .and_then(|f| f.dyn_into::<IdbFactory>().ok())
        .ok_or_else(|| StoreError::storage("this browser context has no IndexedDB"))
}

/// Opens database `name` at `version`, letting `upgrade` create what versions after the
/// old one (0 for a new database) add; a failed upgrade fails the open.
pub async fn open(
    name: &str,
    version: u32,
    upgrade: impl Fn(&IdbDatabase, f64) -> Result<(), JsValue> + 'static,
) -> StoreResult<IdbDatabase> {
    let open = factory()?
        .open_with_u32(name, version)
        .map_err(js_error("open"))?;
    let on_upgrade =
        Closure::<dyn FnMut(IdbVersionChangeEvent)>::new(move |event: IdbVersionChangeEvent| {
            let db = event
                .target()
                .and_then(|t| t.dyn_into::<IdbOpenDbRequest>().ok())
                .and_then(|r| r.result().ok())
                .and_then(|r| r.dyn_into::<IdbDatabase>().ok());
            let Some(db) = db else { return };
            if let Err(e) = upgrade(&db, event.old_version()) {
                // Aborting the version change fails the open, which says why.
                tracing::error!(error = %describe(&e), "cannot create the database's schema");
                if let Some(tx) = event
                    .target()
                    .and_then(|t| t.dyn_into::<IdbOpenDbRequest>().ok())
                    .and_then(|r| r.transaction())
                {
                    let _ = tx.abort();
                }
            }
        });
    open.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
    let db = request(open.clone().into()).await;
    open.set_onupgradeneeded(None);
    drop(on_upgrade);
    db?.dyn_into()
        .map_err(|_| StoreError::storage("IndexedDB open did not answer a database"))
}

/// Waits for `tx` to commit.
pub async fn committed(tx: &IdbTransaction) -> StoreResult<()> {
    let promise = Promise::new(&mut |resolve: Function, reject: Function| {
        tx.set_oncomplete(Some(&resolve));
        tx.set_onerror(Some(&reject));
        tx.set_onabort(Some(&reject));
    });
    let outcome = JsFuture::from(promise).await;
    match outcome {
        Ok(_) => Ok(()),
        Err(_) => Err(StoreError::storage(format!(
            "IndexedDB transaction did not commit: {}",
            tx.error().map_or_else(
                || "aborted".into(),
                |e| format!("{}: {}", e.name(), e.message())
            )
        ))),
    }
}

/// A transaction over `stores`.
pub fn transaction(
    db: &web_sys::IdbDatabase,
    stores: &[&str],
    mode: IdbTransactionMode,
) -> StoreResult<IdbTransaction> {
    let names: Array = stores.iter().map(|s| JsValue::from_str(s)).collect();
    db.transaction_with_str_sequence_and_mode(&names, mode)
        .map_err(js_error("transaction"))
}

/// One object store of a transaction.
pub fn store(tx: &IdbTransaction, name: &str) -> StoreResult<IdbObjectStore> {
    tx.object_store(name).map_err(js_error("object store"))
}

/// A record as a JavaScript object, through its JSON form.
pub fn to_js<T: Serialize>(value: &T) -> StoreResult<JsValue> {
    let text =
        serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("encode: {e}")))?;
    js_sys::JSON::parse(&text).map_err(js_error("encode"))
}

/// A record from its JavaScript object.
pub fn from_js<T: DeserializeOwned>(value: &JsValue) -> StoreResult<T> {
    let text: String = js_sys::JSON::stringify(value)
        .map_err(js_error("decode"))?
        .into();
    crate::records::decode(&text)
}

/// The records of a `getAll` result.
pub fn all<T: DeserializeOwned>(value: &JsValue) -> StoreResult<Vec<T>> {
    let array: &Array = value
        .dyn_ref()
        .ok_or_else(|| StoreError::Corrupt("getAll did not answer a list".into()))?;
    array.iter().map(|v| from_js(&v)).collect()
}

/// The record a `get` request (on a store or an index) finds, if any.
pub async fn record<T: DeserializeOwned>(
    get: Result<IdbRequest, JsValue>,
    what: &'static str,
) -> StoreResult<Option<T>> {
    let found = request(get.map_err(js_error(what))?).await?;
    if found.is_undefined() {
        return Ok(None);
    }
    from_js(&found).map(Some)
}

/// Stores `value` (replacing the record with its key); returns the key.
pub async fn put<T: Serialize>(
    store: &IdbObjectStore,
    value: &T,
    what: &'static str,
) -> StoreResult<JsValue> {
    request(store.put(&to_js(value)?).map_err(js_error(what))?).await
}

/// A key the store generated, as the number it is.
pub fn numeric_key(key: &JsValue, what: &str) -> StoreResult<i64> {
    key.as_f64()
        .map(|k| k as i64)
        .ok_or_else(|| StoreError::Corrupt(format!("a {what} key that is not a number")))
}

/// A compound key.
pub fn key(parts: &[JsValue]) -> JsValue {
    parts.iter().collect::<Array>().into()
}
