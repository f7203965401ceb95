//! The IndexedDB library as the core's `LibraryStore`.

use super::*;

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
        self.write(SYNC_STORES, async |tx| {
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
                            retry: file.retry,
                        },
                    );
                }
            }
            Ok(known)
        })
        .await
    }

    async fn retries_due(&self, source_id: i64, now_ms: i64) -> StoreResult<Vec<RemoteEntry>> {
        self.read(&[FILES], async |tx| {
            let files: Vec<FileRecord> =
                get_all(&os(tx, FILES)?, Some("source"), &number(source_id)).await?;
            Ok(files
                .into_iter()
                .filter(|f| f.retry.is_some_and(|r| r.due(now_ms)))
                .map(|f| RemoteEntry {
                    content_hash: f.content_hash.as_deref().and_then(hash_from_text),
                    id: f.remote_id,
                    path: f.path,
                    size: f.size,
                    modified_ms: f.modified_ms,
                    mime: f.mime,
                })
                .collect())
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
        self.write(SYNC_STORES, async |tx| {
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
        writes: Vec<FileWrite>,
        state: Vec<StateChange>,
        position: CursorUpdate,
    ) -> StoreResult<()> {
        self.write(SYNC_STORES, async |tx| {
            for write in &writes {
                apply_one(tx, source_id, generation, write).await?;
            }
            write_state(tx, STATE, ("source_id", &number(source_id)), &state).await?;
            match &position {
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
        // Albums, artists and genres live inside the tracks that name them; images are
        // kept apart, once, and go when no track names them any more.
        self.write(&[TRACKS, IMAGES], async |tx| remove_orphan_images(tx).await)
            .await
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
            Ok(ranked(&query, candidates, &names, limit))
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
                gain: track.track.gain,
                content_hash: file.content_hash,
                modified_ms: file.modified_ms,
            })
        })
        .await
    }

    async fn failed_files(&self, limit: u32) -> StoreResult<Vec<FailedFile>> {
        self.read(&[SOURCES, FILES, TRACKS], async |tx| {
            let names = source_names(tx).await?;
            let files: Vec<FileRecord> =
                get_all(&os(tx, FILES)?, None, &JsValue::UNDEFINED).await?;
            let tracks: Vec<TrackRecord> =
                get_all(&os(tx, TRACKS)?, None, &JsValue::UNDEFINED).await?;
            Ok(failed_files(files, tracks, &names, limit))
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
            Ok(stats(sources, &tracks, &files))
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

    async fn playlists(&self) -> StoreResult<Vec<Playlist>> {
        self.all_playlists().await
    }

    async fn rename_playlist(&self, playlist_id: i64, name: &str) -> StoreResult<()> {
        self.rename_list(playlist_id, name).await
    }

    async fn delete_playlist(&self, playlist_id: i64) -> StoreResult<()> {
        self.delete_list(playlist_id).await
    }

    async fn remove_from_playlist(&self, playlist_id: i64, index: u32) -> StoreResult<()> {
        self.edit_list(playlist_id, PlaylistEdit::Remove(index))
            .await
    }

    async fn move_in_playlist(&self, playlist_id: i64, from: u32, to: u32) -> StoreResult<()> {
        self.edit_list(playlist_id, PlaylistEdit::Move { from, to })
            .await
    }

    async fn load_state(&self, source_id: i64) -> StoreResult<BTreeMap<String, Vec<u8>>> {
        self.read(&[STATE], async |tx| {
            read_state(tx, STATE, "source", &number(source_id)).await
        })
        .await
    }

    async fn save_state(&self, source_id: i64, changes: &[StateChange]) -> StoreResult<()> {
        self.write(&[STATE], async |tx| {
            write_state(tx, STATE, ("source_id", &number(source_id)), changes).await
        })
        .await
    }
}
