//! Playlists through the facade: named, ordered lists of library tracks.

use crate::library::{LibraryStore, Playlist, StoreError, TrackRow};
use crate::sources::Capabilities;

use super::{Tonearm, TonearmError};

impl<S: LibraryStore, C: Capabilities> Tonearm<S, C> {
    /// Every playlist, by name.
    pub async fn playlists(&self) -> Result<Vec<Playlist>, TonearmError> {
        Ok(self.store().playlists().await?)
    }

    /// The playlist named `name`.
    pub async fn playlist(&self, name: &str) -> Result<Playlist, TonearmError> {
        self.playlists()
            .await?
            .into_iter()
            .find(|p| p.name == name)
            .ok_or_else(|| StoreError::NoSuchPlaylistNamed(name.to_owned()).into())
    }

    /// Creates an empty playlist named `name`.
    pub async fn create_playlist(&self, name: &str) -> Result<Playlist, TonearmError> {
        let id = self.store().create_playlist(name).await?;
        Ok(Playlist {
            id,
            name: name.to_owned(),
            tracks: 0,
        })
    }

    /// Appends `tracks` to playlist `id`, in order.
    pub async fn add_to_playlist(&self, id: i64, tracks: &[i64]) -> Result<(), TonearmError> {
        for &track in tracks {
            self.store().append_to_playlist(id, track).await?;
        }
        Ok(())
    }

    /// The tracks of playlist `id`, in order.
    pub async fn playlist_tracks(&self, id: i64) -> Result<Vec<TrackRow>, TonearmError> {
        Ok(self.store().playlist_tracks(id).await?)
    }

    /// Renames playlist `id`.
    pub async fn rename_playlist(&self, id: i64, name: &str) -> Result<(), TonearmError> {
        Ok(self.store().rename_playlist(id, name).await?)
    }

    /// Deletes playlist `id` (its tracks stay in the library).
    pub async fn delete_playlist(&self, id: i64) -> Result<(), TonearmError> {
        Ok(self.store().delete_playlist(id).await?)
    }

    /// Removes the entry at `index` (from 0) of playlist `id`.
    pub async fn remove_from_playlist(&self, id: i64, index: u32) -> Result<(), TonearmError> {
        Ok(self.store().remove_from_playlist(id, index).await?)
    }

    /// Moves the entry at `from` of playlist `id` to position `to`.
    pub async fn move_in_playlist(&self, id: i64, from: u32, to: u32) -> Result<(), TonearmError> {
        Ok(self.store().move_in_playlist(id, from, to).await?)
    }
}
