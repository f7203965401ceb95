//! Two cloud sources, each with its own service and sign-in, synced at once into one
//! library.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::sync::Arc;

use tonearm_conformance::fixtures::FixtureSet;
use tonearm_e2e::cloud::{DriveCloud, GraphCloud, SOURCE};
use tonearm_host::sync::{HostCapabilities, SyncOptions, Syncer};
use tonearm_host::{Registry, SqliteStore};
use tonearm_loader::load_builtin;
use tonearm_net::Network;

#[test]
fn a_drive_and_a_onedrive_sync_side_by_side() {
    let drive = DriveCloud::start();
    let graph = GraphCloud::start();
    let fixtures = FixtureSet::bundled();
    for f in &fixtures.audio {
        drive
            .service
            .add_file_at(&format!("D/{}", f.file), &f.bytes);
        graph
            .service
            .add_file_at(&format!("G/{}", f.file), &f.bytes);
    }
    // One token store for the host, as in use: the OneDrive source's sign-in moves in.
    let graph_tokens = graph.tokens.get(SOURCE).unwrap().unwrap();
    drive.tokens.put("onedrive", &graph_tokens).unwrap();
    drive.runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let library = SqliteStore::open(&dir.path().join("library.db"))
            .await
            .unwrap();
        library
            .add_source(SOURCE, "gdrive", &drive.settings())
            .await
            .unwrap();
        library
            .add_source("onedrive", "onedrive", &graph.settings())
            .await
            .unwrap();
        let registry = Registry::new(drive.bus.clone());
        for d in [
            &tonearm_plugin_gdrive::DESCRIPTOR,
            &tonearm_plugin_onedrive::DESCRIPTOR,
            &tonearm_plugin_symphonia::DESCRIPTOR,
        ] {
            registry.register(load_builtin(d).unwrap()).unwrap();
        }
        let network = Network {
            http: drive.http.clone(),
            tokens: drive.tokens.clone(),
        };
        let syncer = Syncer::new(
            library.clone(),
            Arc::new(registry),
            HostCapabilities::with_network(network),
            SyncOptions {
                parallel_sources: 2,
                ..SyncOptions::default()
            },
        );
        let results = syncer.sync_all().await.unwrap();
        assert_eq!(results.len(), 2);
        for (name, result) in results {
            let counts = result.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(counts.added, fixtures.audio.len() as u64, "{name}");
        }
        let tracks = library.tracks(100, 0).await.unwrap();
        assert_eq!(
            tracks.iter().filter(|t| t.path.starts_with("D/")).count(),
            fixtures.audio.len()
        );
        assert_eq!(
            tracks.iter().filter(|t| t.path.starts_with("G/")).count(),
            fixtures.audio.len()
        );
    });
}
