//! Playlists: order, repeats, edits, and tracks leaving them.

use super::*;

pub(super) async fn keep_order_and_lose_removed_tracks<S: LibraryStore>(store: S) {
    let id = add(&store, "s").await;
    write(
        &store,
        id,
        vec![
            scanned(entry("1", "1.flac", 1), tags("One", &["A"], None)),
            scanned(entry("2", "2.flac", 1), tags("Two", &["A"], None)),
            scanned(entry("3", "3.flac", 1), tags("Three", &["A"], None)),
        ],
    )
    .await;
    let ids: Vec<i64> = all_tracks(&store).await.iter().map(|t| t.id).collect();
    let mix = store.create_playlist("mix").await.unwrap();
    assert!(matches!(
        store.create_playlist("mix").await,
        Err(StoreError::PlaylistExists(name)) if name == "mix"
    ));
    for track in [ids[2], ids[0], ids[2]] {
        store.append_to_playlist(mix, track).await.unwrap();
    }
    let listed = playlist_ids(&store, mix).await;
    assert_eq!(
        listed,
        [ids[2], ids[0], ids[2]],
        "order and repeats are kept"
    );
    assert!(matches!(
        store.append_to_playlist(mix, -1).await,
        Err(StoreError::NoSuchTrack(-1))
    ));
    assert!(matches!(
        store.append_to_playlist(-7, ids[0]).await,
        Err(StoreError::NoSuchPlaylist(-7))
    ));
    assert!(matches!(
        store.playlist_tracks(-7).await,
        Err(StoreError::NoSuchPlaylist(-7))
    ));

    let gone = store.track(ids[2]).await.unwrap();
    let remote = store.track_location(gone.id).await.unwrap().remote_id;
    write(&store, id, vec![FileWrite::Removed { remote_id: remote }]).await;
    let listed = playlist_ids(&store, mix).await;
    assert_eq!(listed, [ids[0]], "a removed track leaves every playlist");
}

pub(super) async fn are_listed_renamed_edited_and_deleted<S: LibraryStore>(store: S) {
    let id = add(&store, "s").await;
    write(
        &store,
        id,
        vec![
            scanned(entry("1", "1.flac", 1), tags("One", &["A"], None)),
            scanned(entry("2", "2.flac", 1), tags("Two", &["A"], None)),
            scanned(entry("3", "3.flac", 1), tags("Three", &["A"], None)),
        ],
    )
    .await;
    let ids: Vec<i64> = all_tracks(&store).await.iter().map(|t| t.id).collect();
    let road = store.create_playlist("road").await.unwrap();
    let gym = store.create_playlist("gym").await.unwrap();
    for track in [ids[0], ids[1], ids[2], ids[0]] {
        store.append_to_playlist(road, track).await.unwrap();
    }
    let listed = store.playlists().await.unwrap();
    let summary: Vec<(i64, &str, u32)> = listed
        .iter()
        .map(|p| (p.id, p.name.as_str(), p.tracks))
        .collect();
    assert_eq!(
        summary,
        [(gym, "gym", 0), (road, "road", 4)],
        "listed by name"
    );

    store.move_in_playlist(road, 3, 0).await.unwrap();
    assert_eq!(
        playlist_ids(&store, road).await,
        [ids[0], ids[0], ids[1], ids[2]]
    );
    store.move_in_playlist(road, 1, 3).await.unwrap();
    assert_eq!(
        playlist_ids(&store, road).await,
        [ids[0], ids[1], ids[2], ids[0]]
    );
    store.remove_from_playlist(road, 1).await.unwrap();
    assert_eq!(playlist_ids(&store, road).await, [ids[0], ids[2], ids[0]]);
    assert!(matches!(
        store.remove_from_playlist(road, 3).await,
        Err(StoreError::NoSuchPlaylistEntry {
            index: 3,
            len: 3,
            ..
        })
    ));
    assert!(matches!(
        store.move_in_playlist(road, 0, 9).await,
        Err(StoreError::NoSuchPlaylistEntry { index: 9, .. })
    ));
    assert_eq!(
        playlist_ids(&store, road).await,
        [ids[0], ids[2], ids[0]],
        "a refused edit changes nothing"
    );
    // Removing after a track left the playlist counts positions in what is listed.
    let gone = store.track_location(ids[0]).await.unwrap().remote_id;
    write(&store, id, vec![FileWrite::Removed { remote_id: gone }]).await;
    assert_eq!(playlist_ids(&store, road).await, [ids[2]]);
    store.remove_from_playlist(road, 0).await.unwrap();
    assert!(playlist_ids(&store, road).await.is_empty());

    assert!(matches!(
        store.rename_playlist(road, "gym").await,
        Err(StoreError::PlaylistExists(name)) if name == "gym"
    ));
    store.rename_playlist(road, "road trip").await.unwrap();
    store.rename_playlist(gym, "gym").await.unwrap();
    let names: Vec<String> = store
        .playlists()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["gym", "road trip"]);
    store.delete_playlist(gym).await.unwrap();
    assert!(matches!(
        store.delete_playlist(gym).await,
        Err(StoreError::NoSuchPlaylist(p)) if p == gym
    ));
    assert!(matches!(
        store.rename_playlist(gym, "x").await,
        Err(StoreError::NoSuchPlaylist(_))
    ));
    assert!(matches!(
        store.playlist_tracks(gym).await,
        Err(StoreError::NoSuchPlaylist(_))
    ));
    assert_eq!(store.playlists().await.unwrap().len(), 1);
}
