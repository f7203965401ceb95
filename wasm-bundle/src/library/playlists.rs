//! Playlist edits in IndexedDB: a playlist record holds its track ids in order, and a
//! deleted track leaves every list ([`super::ops::delete_track`]), so a position is an
//! index into that list.

use super::*;

impl IndexedDbStore {
    pub(super) async fn all_playlists(&self) -> StoreResult<Vec<Playlist>> {
        self.read(&[PLAYLISTS], async |tx| {
            let records: Vec<PlaylistRecord> =
                get_all(&os(tx, PLAYLISTS)?, None, &JsValue::UNDEFINED).await?;
            let mut playlists: Vec<Playlist> = records
                .into_iter()
                .filter_map(|r| {
                    Some(Playlist {
                        id: r.id?,
                        name: r.name,
                        tracks: u32::try_from(r.tracks.len()).unwrap_or(u32::MAX),
                    })
                })
                .collect();
            playlists.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(playlists)
        })
        .await
    }

    pub(super) async fn rename_list(&self, playlist_id: i64, name: &str) -> StoreResult<()> {
        self.write(&[PLAYLISTS], async |tx| {
            let store = os(tx, PLAYLISTS)?;
            let mut playlist = playlist_record(&store, playlist_id).await?;
            let get = store
                .index("name")
                .and_then(|i| i.get(&JsValue::from_str(name)));
            let existing: Option<PlaylistRecord> = record(get, "get playlist").await?;
            if existing.is_some_and(|e| e.id != Some(playlist_id)) {
                return Err(StoreError::PlaylistExists(name.to_owned()));
            }
            playlist.name = name.to_owned();
            put(&store, &playlist, "put playlist").await.map(|_| ())
        })
        .await
    }

    pub(super) async fn delete_list(&self, playlist_id: i64) -> StoreResult<()> {
        self.write(&[PLAYLISTS], async |tx| {
            let store = os(tx, PLAYLISTS)?;
            playlist_record(&store, playlist_id).await?;
            request(
                store
                    .delete(&number(playlist_id))
                    .map_err(js_error("delete playlist"))?,
            )
            .await
            .map(|_| ())
        })
        .await
    }

    pub(super) async fn edit_list(&self, playlist_id: i64, edit: PlaylistEdit) -> StoreResult<()> {
        self.write(&[PLAYLISTS], async |tx| {
            let store = os(tx, PLAYLISTS)?;
            let mut playlist = playlist_record(&store, playlist_id).await?;
            edit.apply(playlist_id, &mut playlist.tracks)?;
            put(&store, &playlist, "put playlist").await.map(|_| ())
        })
        .await
    }
}
