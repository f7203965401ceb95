//! The origin-private file system as the cache uses it: a folder, whole files read and
//! written through synchronous access handles, entries removed.

use wasm_bindgen::{JsCast as _, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    FileSystemDirectoryHandle, FileSystemFileHandle, FileSystemGetDirectoryOptions,
    FileSystemGetFileOptions, FileSystemReadWriteOptions, FileSystemSyncAccessHandle,
    WorkerGlobalScope,
};

use crate::library::idb::describe;

/// A failure of the file system, saying what was being done.
pub(crate) fn failed(what: &'static str) -> impl Fn(JsValue) -> String {
    move |e| format!("the offline cache: {what}: {}", describe(&e))
}

/// Whether `e` says the entry does not exist.
pub(crate) fn not_found(e: &JsValue) -> bool {
    e.dyn_ref::<web_sys::DomException>()
        .is_some_and(|e| e.name() == "NotFoundError")
}

/// The folder `name` at the root of the origin-private file system, created if needed.
pub(crate) async fn folder(name: &str) -> Result<FileSystemDirectoryHandle, String> {
    let scope: WorkerGlobalScope = js_sys::global()
        .dyn_into()
        .map_err(|_| "the offline cache needs a worker".to_owned())?;
    let root: FileSystemDirectoryHandle =
        JsFuture::from(scope.navigator().storage().get_directory())
            .await
            .map_err(failed("no origin-private file system"))?
            .unchecked_into();
    let options = FileSystemGetDirectoryOptions::new();
    options.set_create(true);
    Ok(
        JsFuture::from(root.get_directory_handle_with_options(name, &options))
            .await
            .map_err(failed("cannot open its folder"))?
            .unchecked_into(),
    )
}

/// The access handle of `name` in `dir` (created if asked); `None` if it does not exist.
pub(crate) async fn handle(
    dir: &FileSystemDirectoryHandle,
    name: &str,
    create: bool,
) -> Result<Option<FileSystemSyncAccessHandle>, String> {
    let options = FileSystemGetFileOptions::new();
    options.set_create(create);
    let file: FileSystemFileHandle =
        match JsFuture::from(dir.get_file_handle_with_options(name, &options)).await {
            Ok(file) => file.unchecked_into(),
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(failed("cannot open a file")(e)),
        };
    JsFuture::from(file.create_sync_access_handle())
        .await
        .map(|h| Some(h.unchecked_into()))
        .map_err(failed(
            "cannot take a file (another tab may be using the cache)",
        ))
}

/// Everything `handle` holds.
pub(crate) fn read_all(handle: &FileSystemSyncAccessHandle) -> Result<Vec<u8>, String> {
    let size = handle.get_size().map_err(failed("cannot size a file"))?;
    let mut bytes = vec![0u8; size as usize];
    let at = FileSystemReadWriteOptions::new();
    at.set_at(0.0);
    let read = handle
        .read_with_u8_array_and_options(&mut bytes, &at)
        .map_err(failed("cannot read a file"))?;
    bytes.truncate(read as usize);
    Ok(bytes)
}

/// Writes `bytes` at `offset`.
pub(crate) fn write_at(
    handle: &FileSystemSyncAccessHandle,
    offset: u64,
    bytes: &[u8],
) -> Result<(), String> {
    let at = FileSystemReadWriteOptions::new();
    at.set_at(offset as f64);
    let written = handle
        .write_with_u8_array_and_options(bytes, &at)
        .map_err(failed("cannot write a file"))?;
    if written as usize != bytes.len() {
        return Err(format!(
            "the offline cache: wrote {written} of {} bytes (is the storage full?)",
            bytes.len()
        ));
    }
    Ok(())
}

/// Replaces what `handle` holds with `bytes`, flushed when this returns.
pub(crate) fn replace(handle: &FileSystemSyncAccessHandle, bytes: &[u8]) -> Result<(), String> {
    write_at(handle, 0, bytes)?;
    let len = u32::try_from(bytes.len()).map_err(|_| "the offline cache: index too large")?;
    handle
        .truncate_with_u32(len)
        .map_err(failed("cannot cut a file"))?;
    handle.flush().map_err(failed("cannot flush a file"))
}

/// The names of the files in `dir`.
pub(crate) async fn names(dir: &FileSystemDirectoryHandle) -> Result<Vec<String>, String> {
    let keys = dir.keys();
    let mut out = Vec::new();
    loop {
        let next = JsFuture::from(keys.next().map_err(failed("cannot list the folder"))?)
            .await
            .map_err(failed("cannot list the folder"))?;
        let next: js_sys::IteratorNext = next.unchecked_into();
        if next.done() {
            return Ok(out);
        }
        if let Some(name) = next.value().as_string() {
            out.push(name);
        }
    }
}

/// Removes `name` from `dir`; one already gone is fine.
pub(crate) async fn remove(dir: &FileSystemDirectoryHandle, name: &str) -> Result<(), String> {
    match JsFuture::from(dir.remove_entry(name)).await {
        Ok(_) => Ok(()),
        Err(e) if not_found(&e) => Ok(()),
        Err(e) => Err(failed("cannot remove a file")(e)),
    }
}

/// Fills `bytes` from the browser's cryptographic random source.
pub(crate) fn random(bytes: &mut [u8]) -> Result<(), String> {
    let crypto = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))
        .map_err(failed("no crypto"))?;
    let fill: js_sys::Function =
        js_sys::Reflect::get(&crypto, &JsValue::from_str("getRandomValues"))
            .map_err(failed("no crypto"))?
            .dyn_into()
            .map_err(failed("no crypto.getRandomValues"))?;
    let array = js_sys::Uint8Array::new_with_length(bytes.len() as u32);
    fill.call1(&crypto, &array)
        .map_err(failed("no random bytes"))?;
    array.copy_to(bytes);
    Ok(())
}
