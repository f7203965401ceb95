//! The source against the fake service: what it finds, and what it does not.

use std::sync::Arc;

use tonearm_conformance::host::test_context;
use tonearm_conformance::http::TestHttp;
use tonearm_plugin_api::{HttpClient, HttpRequest, MetadataSource, TrackQuery, TrackTags};

#[test]
fn finds_the_lyrics_the_service_has_and_only_those() {
    let fake = {{crate_ident}}_fake::start().expect("the fake service starts");
    let http = Arc::new(TestHttp::new().expect("an HTTP client"));
    let record = r#"{"plain": "la la", "synced": "[00:01.00] la la"}"#;
    let put = http
        .send(HttpRequest {
            method: "PUT".into(),
            url: format!("{}/_harness/lyrics?artist=Band&title=Song", fake.url()),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: record.as_bytes().to_vec(),
        })
        .expect("the fake answers");
    assert_eq!(put.status, 204);

    let ctx = test_context({{crate_ident}}::ID)
        .with_http(http)
        .with_setting("endpoint.api", fake.url());
    let source = {{crate_ident}}::LyricsSource::new(&ctx).expect("the source starts");
    let query = |artist: &str, title: &str| TrackQuery {
        tags: TrackTags {
            title: Some(title.into()),
            artists: vec![artist.into()],
            ..TrackTags::default()
        },
        duration_ms: Some(180_000),
        fingerprint: None,
    };
    let found = source.lyrics(&query("Band", "Song")).expect("an answer");
    let found = found.expect("lyrics");
    assert_eq!(found.plain.as_deref(), Some("la la"));
    assert_eq!(found.synced_lrc.as_deref(), Some("[00:01.00] la la"));
    assert_eq!(
        source.lyrics(&query("Band", "Other")).expect("an answer"),
        None
    );
}
