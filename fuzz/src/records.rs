//! What the browser's library decodes from IndexedDB: whatever a database holds (records
//! of another version, a record edited by hand in the browser's tools) must decode to a
//! record or a `Corrupt` error, and every view over the records (listing rows, search,
//! statistics, the failed-file report, re-indexing a moved track) must take any record
//! that decodes.

use std::collections::HashMap;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tonearm_core::auth::StoredTokens;
use tonearm_core::library::{Source, search};
use tonearm_web::records::{self, FileRecord, PlaylistRecord, TrackRecord};

/// Decodes `value` as the store decodes a stored object (through its JSON text); a record
/// that decodes must encode to what decodes to the same record.
fn decoded<T: DeserializeOwned + Serialize>(value: &Value) -> Option<T> {
    let record: T = records::decode(&value.to_string()).ok()?;
    let encoded = serde_json::to_string(&record).unwrap_or_else(|e| panic!("encodes: {e}"));
    let again: T = records::decode(&encoded).unwrap_or_else(|e| panic!("{encoded}: {e}"));
    let twice = serde_json::to_string(&again).unwrap_or_else(|e| panic!("encodes: {e}"));
    assert_eq!(encoded, twice, "a record changed through the store");
    Some(record)
}

/// `data` is a JSON array of stored objects, as a `getAll` answers; each is decoded as
/// every kind of record. A string among them is a search query.
pub fn records(data: &[u8]) {
    let Ok(values) = serde_json::from_slice::<Vec<Value>>(data) else {
        return;
    };
    let files: Vec<FileRecord> = values.iter().filter_map(decoded).collect();
    let tracks: Vec<TrackRecord> = values.iter().filter_map(decoded).collect();
    // Playlists have no view beyond their fields: decoding them is the test.
    let _playlists: Vec<PlaylistRecord> = values.iter().filter_map(decoded).collect();
    let sources: Vec<Source> = values.iter().filter_map(decoded).collect();
    let _tokens: Vec<StoredTokens> = values.iter().filter_map(decoded).collect();
    let names: HashMap<i64, String> = sources.iter().map(|s| (s.id, s.name.clone())).collect();

    for track in &tracks {
        let _ = track.row(&names);
        // A track moved to its own path is indexed as it was written.
        let mut moved = track.clone();
        moved.set_path(&track.path);
        let _ = moved.row(&names);
    }
    for query in values.iter().filter_map(Value::as_str) {
        let words = search::words(query, records::fold);
        let _ = records::ranked(&words, tracks.clone(), &names, 50);
    }
    let _ = records::stats(sources.len(), &tracks, &files);
    let _ = records::failed_files(files, tracks, &names, 100);
}
