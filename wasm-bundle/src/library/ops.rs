//! Reads and writes of records inside one IndexedDB transaction: the steps every store
//! operation is made of.

use super::*;

pub(super) fn os(tx: &IdbTransaction, name: &str) -> StoreResult<IdbObjectStore> {
    idb::store(tx, name)
}

pub(super) async fn get_all<T: for<'de> Deserialize<'de>>(
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

pub(super) async fn source_by_name(tx: &IdbTransaction, name: &str) -> StoreResult<Source> {
    let get = os(tx, SOURCES)?
        .index("name")
        .and_then(|i| i.get(&JsValue::from_str(name)));
    record(get, "get source")
        .await?
        .ok_or_else(|| StoreError::NoSuchSource(name.to_owned()))
}

pub(super) async fn source_by_id(tx: &IdbTransaction, id: i64) -> StoreResult<Source> {
    record(os(tx, SOURCES)?.get(&number(id)), "get source")
        .await?
        .ok_or_else(|| StoreError::NoSuchSource(format!("#{id}")))
}

pub(super) async fn put_source(tx: &IdbTransaction, source: &Source) -> StoreResult<()> {
    put(&os(tx, SOURCES)?, source, "put source")
        .await
        .map(|_| ())
}

pub(super) async fn source_names(tx: &IdbTransaction) -> StoreResult<HashMap<i64, String>> {
    let sources: Vec<Source> = get_all(&os(tx, SOURCES)?, None, &JsValue::UNDEFINED).await?;
    Ok(sources.into_iter().map(|s| (s.id, s.name)).collect())
}

pub(super) async fn file_by_remote(
    tx: &IdbTransaction,
    source_id: i64,
    remote_id: &str,
) -> StoreResult<Option<FileRecord>> {
    let get = os(tx, FILES)?
        .index("remote")
        .and_then(|i| i.get(&key(&[number(source_id), JsValue::from_str(remote_id)])));
    record(get, "get file").await
}

pub(super) async fn track_record(tx: &IdbTransaction, id: i64) -> StoreResult<Option<TrackRecord>> {
    record(os(tx, TRACKS)?.get(&number(id)), "get track").await
}

pub(super) async fn playlist_record(
    store: &IdbObjectStore,
    id: i64,
) -> StoreResult<PlaylistRecord> {
    record(store.get(&number(id)), "get playlist")
        .await?
        .ok_or(StoreError::NoSuchPlaylist(id))
}

/// Writes a file record; returns its id.
pub(super) async fn put_file(tx: &IdbTransaction, file: &FileRecord) -> StoreResult<i64> {
    numeric_key(&put(&os(tx, FILES)?, file, "put file").await?, "file")
}

pub(super) async fn put_track(tx: &IdbTransaction, track: &TrackRecord) -> StoreResult<()> {
    put(&os(tx, TRACKS)?, track, "put track").await.map(|_| ())
}

/// Deletes a track with what enrichment wrote for it, and takes it out of every
/// playlist.
pub(super) async fn delete_track(tx: &IdbTransaction, id: i64) -> StoreResult<()> {
    let tracks = os(tx, TRACKS)?;
    request(
        tracks
            .delete(&JsValue::from_f64(id as f64))
            .map_err(js_error("delete track"))?,
    )
    .await?;
    for store in [OVERRIDES, ENRICHMENT] {
        delete_by_track(tx, store, id).await?;
    }
    request(
        os(tx, LYRICS)?
            .delete(&number(id))
            .map_err(js_error("delete lyrics"))?,
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
pub(super) async fn delete_file(tx: &IdbTransaction, file: &FileRecord) -> StoreResult<()> {
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

pub(super) async fn apply_one(
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
            let mut scanned = TrackRecord::new(id, source_id, entry, (**track).clone());
            rescanned(tx, &mut scanned).await?;
            put_track(tx, &scanned).await?;
        }
        FileWrite::Failed {
            entry,
            reason,
            bytes_read,
            retry,
        } => {
            let existing = file_by_remote(tx, source_id, &entry.id).await?;
            let had = existing.as_ref().and_then(|f| f.id);
            let error = Some((reason.as_str(), *retry));
            let record = file_record(source_id, generation, entry, error, *bytes_read, had);
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

/// Carries what enrichment wrote for a track over a new scan of its file: the values
/// written over its tags, and a fetched cover where the file embeds none. What sources
/// answered for the old file is forgotten, so the next run asks about the new one. An
/// embedded cover's image is kept once.
async fn rescanned(tx: &IdbTransaction, track: &mut TrackRecord) -> StoreResult<()> {
    if let Some(art) = &track.track.artwork
        && let Some(bytes) = &art.bytes
    {
        let images = os(tx, IMAGES)?;
        let sha = JsValue::from_str(&art.sha256);
        let kept = request(
            images
                .count_with_key(&sha)
                .map_err(js_error("count image"))?,
        )
        .await?
        .as_f64()
        .unwrap_or(0.0);
        if kept == 0.0 {
            let mime = art.mime.clone().unwrap_or_default();
            request(
                images
                    .put(&image_record(&art.sha256, &mime, bytes)?)
                    .map_err(js_error("put image"))?,
            )
            .await?;
        }
    }
    let Some(old) = track_record(tx, track.id).await? else {
        return Ok(());
    };
    track.fetched_cover = old.fetched_cover;
    let overrides: Vec<OverrideRecord> =
        get_all(&os(tx, OVERRIDES)?, Some("track"), &number(track.id)).await?;
    if !overrides.is_empty() {
        let mut tags = track.track.tags.clone();
        for (field, value) in overrides.iter().filter_map(OverrideRecord::parsed) {
            field.set(&mut tags, &value);
        }
        track.set_tags(tags);
    }
    delete_by_track(tx, ENRICHMENT, track.id).await
}

/// Deletes every record of `store` (indexed by `track`) about track `id`.
pub(super) async fn delete_by_track(tx: &IdbTransaction, store: &str, id: i64) -> StoreResult<()> {
    let store = os(tx, store)?;
    let keys = request(
        store
            .index("track")
            .and_then(|i| i.get_all_keys_with_key(&number(id)))
            .map_err(js_error("list by track"))?,
    )
    .await?;
    for key in js_sys::Array::from(&keys).iter() {
        request(store.delete(&key).map_err(js_error("delete by track"))?).await?;
    }
    Ok(())
}

/// An image as stored: its bytes as a binary field, not a list of numbers.
pub(super) fn image_record(sha256: &str, mime: &str, bytes: &[u8]) -> StoreResult<JsValue> {
    let record = js_sys::Object::new();
    let set =
        |field: &str, v: &JsValue| js_sys::Reflect::set(&record, &JsValue::from_str(field), v);
    set("sha256", &JsValue::from_str(sha256))
        .and_then(|_| set("mime", &JsValue::from_str(mime)))
        .and_then(|_| set("bytes", &js_sys::Uint8Array::from(bytes)))
        .map_err(js_error("encode image"))?;
    Ok(record.into())
}

/// Deletes the images no track names.
pub(super) async fn remove_orphan_images(tx: &IdbTransaction) -> StoreResult<()> {
    let images = os(tx, IMAGES)?;
    let keys = request(images.get_all_keys().map_err(js_error("list images"))?).await?;
    let keys = js_sys::Array::from(&keys);
    if keys.length() == 0 {
        return Ok(());
    }
    let tracks: Vec<TrackRecord> = get_all(&os(tx, TRACKS)?, None, &JsValue::UNDEFINED).await?;
    let named: std::collections::HashSet<&str> = tracks
        .iter()
        .flat_map(|t| {
            [
                t.track.artwork.as_ref().map(|a| a.sha256.as_str()),
                t.fetched_cover.as_deref(),
            ]
        })
        .flatten()
        .collect();
    for key in keys.iter() {
        if key.as_string().is_none_or(|k| !named.contains(k.as_str())) {
            request(images.delete(&key).map_err(js_error("delete image"))?).await?;
        }
    }
    Ok(())
}

/// Applies plugin state changes in `tx` to the records of `store` whose `owner_field`
/// is `owner` (a source's id, a metadata source's plugin id).
pub(super) async fn write_state(
    tx: &IdbTransaction,
    store: &str,
    (owner_field, owner): (&str, &JsValue),
    changes: &[StateChange],
) -> StoreResult<()> {
    let store = os(tx, store)?;
    for (name, value) in changes {
        let req = match value {
            Some(value) => {
                let record = js_sys::Object::new();
                let set = |field: &str, v: &JsValue| {
                    js_sys::Reflect::set(&record, &JsValue::from_str(field), v)
                };
                set(owner_field, owner)
                    .and_then(|_| set("key", &JsValue::from_str(name)))
                    .and_then(|_| set("value", &js_sys::Uint8Array::from(value.as_slice())))
                    .map_err(js_error("encode state"))?;
                store.put(&record)
            }
            None => store.delete(&key(&[owner.clone(), JsValue::from_str(name)])),
        }
        .map_err(js_error("save state"))?;
        request(req).await?;
    }
    Ok(())
}

/// The plugin state in `tx` of `owner` (a source's id, a metadata source's plugin id),
/// from the records of `store` its index `index` finds.
pub(super) async fn read_state(
    tx: &IdbTransaction,
    store: &str,
    index: &str,
    owner: &JsValue,
) -> StoreResult<BTreeMap<String, Vec<u8>>> {
    let req = os(tx, store)?
        .index(index)
        .and_then(|i| i.get_all_with_key(owner))
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
}

pub(super) fn number(id: i64) -> JsValue {
    JsValue::from_f64(id as f64)
}

pub(super) fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}
