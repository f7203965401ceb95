//! The cache's key, kept in an IndexedDB database of its own: never in the library's
//! database, and never beside the files it encrypts.

use wasm_bindgen::{JsCast as _, JsValue};
use web_sys::{IdbDatabase, IdbTransactionMode};

use crate::library::idb::{self, describe};

/// The store, and the record in it.
const STORE: &str = "keys";
const RECORD: &str = "cache";

fn failed(what: &'static str) -> impl Fn(tonearm_core::library::StoreError) -> String {
    move |e| format!("the offline cache's key: {what}: {e}")
}

/// The key of the cache in `database`, made (32 random bytes) the first time.
pub(crate) async fn load_or_make(database: &str) -> Result<[u8; 32], String> {
    let db = open(database).await?;
    let tx = idb::transaction(&db, &[STORE], IdbTransactionMode::Readwrite)
        .map_err(failed("transaction"))?;
    let store = idb::store(&tx, STORE).map_err(failed("store"))?;
    let found = idb::request(
        store
            .get(&JsValue::from_str(RECORD))
            .map_err(|e| format!("the offline cache's key: {}", describe(&e)))?,
    )
    .await
    .map_err(failed("read"))?;
    let key = if let Some(bytes) = found.dyn_ref::<js_sys::Uint8Array>() {
        let bytes = bytes.to_vec();
        <[u8; 32]>::try_from(bytes.as_slice())
            .map_err(|_| "the offline cache's key is not 32 bytes".to_owned())?
    } else {
        let mut key = [0u8; 32];
        super::opfs::random(&mut key)?;
        let value = js_sys::Uint8Array::from(&key[..]);
        idb::request(
            store
                .put_with_key(&value, &JsValue::from_str(RECORD))
                .map_err(|e| format!("the offline cache's key: {}", describe(&e)))?,
        )
        .await
        .map_err(failed("write"))?;
        key
    };
    idb::committed(&tx).await.map_err(failed("commit"))?;
    db.close();
    Ok(key)
}

async fn open(database: &str) -> Result<IdbDatabase, String> {
    idb::open(database, 1, |db, _| {
        db.create_object_store(STORE).map(|_| ())
    })
    .await
    .map_err(failed("open"))
}
