//! What playing a track needs from the library.

use super::*;

/// What the player reads with a track's place: its gain tags.
pub(super) async fn locations_carry_the_gain_tags<S: LibraryStore>(store: S) {
    let id = add(&store, "s").await;
    let gain = super::super::ReplayGain {
        track_gain: Some(-7.5),
        track_peak: Some(0.99),
        album_gain: Some(-6.25),
        album_peak: Some(1.0),
        r128_track_gain: Some(-512),
        r128_album_gain: None,
    };
    let loud = FileWrite::Scanned {
        entry: entry("1", "1.flac", 1),
        track: Box::new(ScannedTrack {
            tags: tags("Loud", &["A"], None),
            gain: gain.clone(),
            ..ScannedTrack::default()
        }),
        bytes_read: 100,
    };
    write(
        &store,
        id,
        vec![
            loud,
            scanned(entry("2", "2.flac", 1), tags("Plain", &["A"], None)),
        ],
    )
    .await;
    let tracks = all_tracks(&store).await;
    let by_title = |t: &str| {
        tracks
            .iter()
            .find(|r| r.title.as_deref() == Some(t))
            .unwrap()
            .id
    };
    let location = store.track_location(by_title("Loud")).await.unwrap();
    assert_eq!(location.gain, gain);
    // And what the file's version is, for an offline copy of it.
    assert_eq!(location.modified_ms, Some(1_700_000_000_000));
    assert_eq!(location.content_hash, None);
    assert_eq!(location.version(), "size:1:modified:1700000000000");
    let location = store.track_location(by_title("Plain")).await.unwrap();
    assert_eq!(location.gain, super::super::ReplayGain::default());
}
