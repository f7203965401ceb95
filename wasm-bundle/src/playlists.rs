//! The worker's playlist calls: the facade's, one to one.

use tonearm_core::Tonearm;
use tonearm_core::library::LibraryStore;
use tonearm_core::sources::Capabilities;

use crate::protocol::{Reply, Request};

/// Answers a playlist request.
pub(crate) async fn handle<S: LibraryStore, C: Capabilities>(
    tonearm: &Tonearm<S, C>,
    request: Request,
) -> Result<Reply, String> {
    let text = |e: tonearm_core::TonearmError| e.to_string();
    match request {
        Request::Playlists {} => Ok(Reply::Playlists {
            playlists: tonearm.playlists().await.map_err(text)?,
        }),
        Request::CreatePlaylist { name } => Ok(Reply::Playlist {
            playlist: tonearm.create_playlist(&name).await.map_err(text)?,
        }),
        Request::AddToPlaylist { playlist, tracks } => {
            tonearm
                .add_to_playlist(playlist, &tracks)
                .await
                .map_err(text)?;
            Ok(Reply::Done)
        }
        Request::PlaylistTracks { playlist } => Ok(Reply::Tracks {
            tracks: tonearm.playlist_tracks(playlist).await.map_err(text)?,
        }),
        Request::RemoveFromPlaylist { playlist, index } => {
            tonearm
                .remove_from_playlist(playlist, index)
                .await
                .map_err(text)?;
            Ok(Reply::Done)
        }
        Request::MoveInPlaylist { playlist, from, to } => {
            tonearm
                .move_in_playlist(playlist, from, to)
                .await
                .map_err(text)?;
            Ok(Reply::Done)
        }
        Request::RenamePlaylist { playlist, name } => {
            tonearm
                .rename_playlist(playlist, &name)
                .await
                .map_err(text)?;
            Ok(Reply::Done)
        }
        Request::DeletePlaylist { playlist } => {
            tonearm.delete_playlist(playlist).await.map_err(text)?;
            Ok(Reply::Done)
        }
        other => Err(format!("not a playlist call: {other:?}")),
    }
}
