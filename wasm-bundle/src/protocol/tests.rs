//! The API's TypeScript declarations are current, and calls parse as the client sends them.
use ts_rs::{Config, TS};

use super::*;

/// The declarations of the whole API, as `js/protocol.d.ts` holds them.
fn declarations() -> String {
    // Ids and counters stay far below 2^53: plain numbers, not bigints.
    let cfg = Config::new().with_large_int("number");
    let mut out = String::from(
        "// Generated from wasm-bundle/src/protocol.rs and the core's types: do not edit.\n\
         // Regenerate with `TONEARM_WRITE_TS=1 cargo test -p tonearm-web protocol`.\n\n",
    );
    let decls = [
        Call::decl(&cfg),
        Request::decl(&cfg),
        Reply::decl(&cfg),
        WorkerMessage::decl(&cfg),
        StreamEvent::decl(&cfg),
        PluginSummary::decl(&cfg),
        SyncResult::decl(&cfg),
        HttpStats::decl(&cfg),
        Cover::decl(&cfg),
        EnrichReport::decl(&cfg),
        tonearm_core::enrich::TrackResult::decl(&cfg),
        tonearm_core::enrich::FieldChange::decl(&cfg),
        FieldSource::decl(&cfg),
        StoredLyrics::decl(&cfg),
        Kind::decl(&cfg),
        tonearm_core::enrich::Outcome::decl(&cfg),
        tonearm_core::enrich::Recommendation::decl(&cfg),
        Field::decl(&cfg),
        Value::decl(&cfg),
        CoreEvent::decl(&cfg),
        tonearm_core::events::SyncEvent::decl(&cfg),
        tonearm_core::events::LibraryEvent::decl(&cfg),
        tonearm_core::events::PlaybackEvent::decl(&cfg),
        tonearm_core::events::PluginEvent::decl(&cfg),
        tonearm_core::events::AuthEvent::decl(&cfg),
        tonearm_core::events::MetadataEvent::decl(&cfg),
        tonearm_core::events::CacheEvent::decl(&cfg),
        SyncCounts::decl(&cfg),
        Source::decl(&cfg),
        TrackRow::decl(&cfg),
        Playlist::decl(&cfg),
        LibraryStats::decl(&cfg),
        FailedFile::decl(&cfg),
        tonearm_core::library::Retry::decl(&cfg),
        PlayerStatus::decl(&cfg),
        QueueEntry::decl(&cfg),
        Repeat::decl(&cfg),
        tonearm_core::player::PlayState::decl(&cfg),
        tonearm_core::player::OutputFormat::decl(&cfg),
        GainSettings::decl(&cfg),
        tonearm_core::player::GainMode::decl(&cfg),
        CacheStatus::decl(&cfg),
    ];
    for decl in decls {
        out.push_str("export ");
        out.push_str(&decl);
        out.push_str("\n\n");
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

#[test]
fn the_typescript_declarations_are_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("js/protocol.d.ts");
    let fresh = declarations();
    if std::env::var_os("TONEARM_WRITE_TS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{} is stale: run `TONEARM_WRITE_TS=1 cargo test -p tonearm-web protocol`",
        path.display()
    );
}

#[test]
fn calls_parse_from_what_the_client_sends() {
    let call: Call =
        serde_json::from_str(r#"{"id":7,"method":"search","params":{"text":"bjork","limit":5}}"#)
            .unwrap();
    assert_eq!(call.id, 7);
    assert!(matches!(call.request, Request::Search { ref text, limit: 5 } if text == "bjork"));
    let call: Call = serde_json::from_str(r#"{"id":1,"method":"stats","params":{}}"#).unwrap();
    assert!(matches!(call.request, Request::Stats {}));
    let call: Call = serde_json::from_str(
        r#"{"id":2,"method":"addFolder","params":{"name":"m","files":[{},{}]}}"#,
    )
    .unwrap();
    assert!(matches!(call.request, Request::AddFolder { ref files, .. } if files.len() == 2));
    assert!(serde_json::from_str::<Call>(r#"{"id":3,"method":"format"}"#).is_err());
    let call: Call = serde_json::from_str(
        r#"{"id":4,"method":"enrich","params":{"only":["tags","lyrics"],"dryRun":true,
            "settings":{"musicbrainz":{"endpoint.api":"http://127.0.0.1:9/ws/2"}}}}"#,
    )
    .unwrap();
    assert!(matches!(
        call.request,
        Request::Enrich { only: Some(ref only), dry_run: true, ref settings, .. }
            if only == &[Kind::Tags, Kind::Lyrics] && settings["musicbrainz"].len() == 1
    ));
    let call: Call = serde_json::from_str(
        r#"{"id":5,"method":"editTags","params":{"track":3,"values":{"title":"T","year":1999,"artists":["A","B"]}}}"#,
    )
    .unwrap();
    assert!(
        matches!(call.request, Request::EditTags { track: 3, ref values } if values.len() == 3)
    );
}
