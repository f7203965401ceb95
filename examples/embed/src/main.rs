//! Tonearm embedded in a native app: add a folder, sync it, search, decode a track, and
//! print the events on the way. `cargo run -p tonearm-example-embed -- FOLDER [WORDS]`

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use tonearm_host::{
    EventBus, HostCapabilities, Received, Registry, SqliteStore, SyncRequest, Tonearm,
};

// The plugins this app links in: a folder provider and a decoder.
tonearm_plugin_api::register_builtin!(
    tonearm_plugin_local::DESCRIPTOR,
    tonearm_plugin_symphonia::DESCRIPTOR
);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let folder = args.next().context("usage: embed FOLDER [WORDS]")?;
    let words = args.next().unwrap_or_default();

    let (registry, failed) = Registry::with_builtins(EventBus::default());
    anyhow::ensure!(failed.is_empty(), "plugins failed to load: {failed:?}");
    let data = std::env::temp_dir().join(format!("tonearm-embed-{}", std::process::id()));
    let library = SqliteStore::open(&data.join("library.db")).await?;
    let tonearm = Tonearm::new(Arc::new(registry), library, HostCapabilities::offline());

    let mut events = tonearm.events();
    let printer = tokio::spawn(async move {
        while let Some(Received::Event(event)) = events.recv().await {
            println!("event: {event:?}");
        }
    });
    let root = std::fs::canonicalize(&folder)?.display().to_string();
    let settings = BTreeMap::from([("root".to_owned(), root)]);
    tonearm.add_source("music", "local", settings).await?;
    for outcome in tonearm.sync(SyncRequest::all()).await? {
        println!("synced {}: {:?}", outcome.source, outcome.result?);
    }

    let found = match words.as_str() {
        "" => tonearm.tracks(1, 0).await?,
        words => tonearm.search(words, 1).await?,
    };
    let track = found.first().context("no track matches")?;
    let mut stream = tonearm.open_track(track.id, None).await?;
    // Decoding blocks: off the async threads.
    let frames = tokio::task::spawn_blocking(move || {
        let (mut pcm, mut frames) = (Vec::new(), 0);
        while let n @ 1.. = stream.session.read(&mut pcm)? {
            frames += n;
        }
        anyhow::Ok(frames)
    })
    .await??;
    println!("decoded {:?}: {frames} frames", track.title);
    printer.abort();
    Ok(std::fs::remove_dir_all(&data)?)
}
