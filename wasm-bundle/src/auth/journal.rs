//! Every source's tokens, written synchronously to a file in the origin-private file
//! system the moment they change.
//!
//! A refresh happens inside a plugin call, which runs synchronously in the worker, and a
//! rotating service (Microsoft's) invalidates the old refresh token as it answers.
//! IndexedDB can only be written once that call returns; a worker that dies before (the
//! tab closes mid-sync) would lose the only refresh token that still works, and the user
//! would have to sign in again. A `FileSystemSyncAccessHandle` writes and flushes before
//! the call goes on. IndexedDB stays the library's record; where the two differ, the
//! journal is newer, because it is written first.

use std::cell::RefCell;
use std::collections::BTreeMap;

use tonearm_core::auth::StoredTokens;
use wasm_bindgen::{JsCast as _, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    FileSystemDirectoryHandle, FileSystemFileHandle, FileSystemGetFileOptions,
    FileSystemReadWriteOptions, FileSystemSyncAccessHandle, WorkerGlobalScope,
};

use crate::library::idb::describe;

/// The journal's file in the origin-private file system.
const FILE: &str = "tonearm-tokens.json";

/// The tokens of every signed-in source, mirrored to a file on each change.
pub struct TokenJournal {
    handle: FileSystemSyncAccessHandle,
    tokens: RefCell<BTreeMap<String, StoredTokens>>,
}

impl std::fmt::Debug for TokenJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenJournal").finish_non_exhaustive()
    }
}

fn failed(what: &str) -> impl Fn(JsValue) -> String + '_ {
    move |e| format!("the token journal: {what}: {}", describe(&e))
}

/// The file's access handle. A worker that was just terminated (a reloaded page) may
/// still hold it for a moment: wait for it, up to two seconds.
async fn take(file: &FileSystemFileHandle) -> Result<FileSystemSyncAccessHandle, String> {
    let mut tries = 0;
    loop {
        match JsFuture::from(file.create_sync_access_handle()).await {
            Ok(handle) => return Ok(handle.unchecked_into()),
            Err(e)
                if tries < 40
                    && e.dyn_ref::<web_sys::DomException>()
                        .is_some_and(|e| e.name() == "NoModificationAllowedError") =>
            {
                tries += 1;
                tonearm_core::sync::rt::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => return Err(failed("cannot take its file")(e)),
        }
    }
}

impl TokenJournal {
    /// Opens the journal and reads what it holds. Fails where the browser has no
    /// origin-private file system, or another worker of this origin holds the file.
    pub async fn open() -> Result<Self, String> {
        let scope: WorkerGlobalScope = js_sys::global()
            .dyn_into()
            .map_err(|_| "the token journal needs a worker".to_owned())?;
        let root: FileSystemDirectoryHandle =
            JsFuture::from(scope.navigator().storage().get_directory())
                .await
                .map_err(failed("no origin-private file system"))?
                .unchecked_into();
        let options = FileSystemGetFileOptions::new();
        options.set_create(true);
        let file: FileSystemFileHandle =
            JsFuture::from(root.get_file_handle_with_options(FILE, &options))
                .await
                .map_err(failed("cannot open its file"))?
                .unchecked_into();
        let handle = take(&file).await?;
        let size = handle.get_size().map_err(failed("cannot size it"))?;
        let mut bytes = vec![0u8; size as usize];
        let at = FileSystemReadWriteOptions::new();
        at.set_at(0.0);
        handle
            .read_with_u8_array_and_options(&mut bytes, &at)
            .map_err(failed("cannot read it"))?;
        // An empty or damaged journal holds nothing: IndexedDB still has the tokens it
        // had before the journal was last written.
        let tokens = if bytes.is_empty() {
            BTreeMap::new()
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the token journal is unreadable; starting it anew");
                BTreeMap::new()
            })
        };
        Ok(Self {
            handle,
            tokens: RefCell::new(tokens),
        })
    }

    /// The tokens of `source`, if the journal has them.
    pub fn get(&self, source: &str) -> Option<StoredTokens> {
        self.tokens.borrow().get(source).cloned()
    }

    /// Every source the journal holds tokens of.
    pub fn all(&self) -> BTreeMap<String, StoredTokens> {
        self.tokens.borrow().clone()
    }

    /// Keeps `tokens` for `source`: on disk when this returns.
    pub fn put(&self, source: &str, tokens: &StoredTokens) -> Result<(), String> {
        self.tokens
            .borrow_mut()
            .insert(source.to_owned(), tokens.clone());
        self.write()
    }

    /// Forgets `source`'s tokens: on disk when this returns.
    pub fn remove(&self, source: &str) -> Result<(), String> {
        if self.tokens.borrow_mut().remove(source).is_none() {
            return Ok(());
        }
        self.write()
    }

    fn write(&self) -> Result<(), String> {
        let bytes = serde_json::to_vec(&*self.tokens.borrow())
            .map_err(|e| format!("the token journal: {e}"))?;
        let at = FileSystemReadWriteOptions::new();
        at.set_at(0.0);
        // Written over the old contents, then cut to length: a shorter journal never ends
        // in a tail of the longer one.
        self.handle
            .write_with_u8_array_and_options(&bytes, &at)
            .map_err(failed("cannot write it"))?;
        let len = u32::try_from(bytes.len()).map_err(|_| "the token journal: too large")?;
        self.handle
            .truncate_with_u32(len)
            .map_err(failed("cannot cut it"))?;
        self.handle.flush().map_err(failed("cannot flush it"))
    }
}
