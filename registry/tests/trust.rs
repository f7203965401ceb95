//! An index in a folder, written as a publisher does and read as a host does: what a host
//! accepts, and everything it must refuse, each with its cause and nothing returned.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::collections::BTreeMap;
use std::path::Path;

use semver::{Version, VersionReq};
use tonearm_plugin_api::{Capabilities, PluginKind};
use tonearm_registry::{
    COMPONENT_TARGET, Envelope, FileMeta, FolderIndex, HostProfile, IndexKeys, IndexWriter,
    PluginFile, PluginMeta, Publisher, RegistryError, Release, RoleKeys, Root, SecretKey, Snapshot,
    Timestamp, TrustState, plugin_path, root_path, snapshot_path,
};

const NOW: i64 = 1_800_000_000;
const DAY: i64 = 86_400;

struct Keys {
    root: SecretKey,
    snapshot: SecretKey,
    timestamp: SecretKey,
    acme: SecretKey,
}

impl Keys {
    fn new() -> Self {
        let key = || SecretKey::generate().unwrap();
        Self {
            root: key(),
            snapshot: key(),
            timestamp: key(),
            acme: key(),
        }
    }

    fn index(&self) -> IndexKeys<'_> {
        IndexKeys {
            snapshot: &self.snapshot,
            timestamp: &self.timestamp,
            snapshot_lifetime: 30 * DAY,
            timestamp_lifetime: DAY,
        }
    }

    fn root(&self, version: u64) -> Root {
        let role = |key: &SecretKey| RoleKeys {
            keys: vec![key.public().id()],
            threshold: 1,
        };
        Root {
            version,
            expires: NOW + 365 * DAY,
            keys: [&self.root, &self.snapshot, &self.timestamp, &self.acme]
                .into_iter()
                .map(|k| (k.public().id(), k.public()))
                .collect(),
            root: role(&self.root),
            snapshot: role(&self.snapshot),
            timestamp: role(&self.timestamp),
            publishers: BTreeMap::from([(
                "acme".to_owned(),
                Publisher {
                    signers: role(&self.acme),
                    plugins: vec!["acme-*".into()],
                },
            )]),
        }
    }
}

fn release(id: &str, version: &str) -> Release {
    Release {
        id: id.into(),
        version: Version::parse(version).unwrap(),
        kind: PluginKind::Decoder,
        api: Version::new(0, 3, 0),
        target: COMPONENT_TARGET.into(),
        capabilities: Capabilities::default(),
        publisher: "acme".into(),
    }
}

fn host() -> HostProfile {
    HostProfile {
        api: Version::new(0, 3, 0),
        targets: vec![COMPONENT_TARGET.into()],
    }
}

fn req(text: &str) -> VersionReq {
    VersionReq::parse(text).unwrap()
}

/// An index with `acme-flac` 1.0.0 published, and a host that trusts its first root.
fn setup(dir: &Path, keys: &Keys) -> (IndexWriter, TrustState) {
    let writer = IndexWriter::create(dir, &keys.root(1), &[&keys.root], keys.index(), NOW).unwrap();
    writer
        .publish(
            release("acme-flac", "1.0.0"),
            "flac.wasm",
            b"\0asm one",
            &keys.acme,
            keys.index(),
            NOW,
        )
        .unwrap();
    let root = Envelope::parse("root", &std::fs::read(dir.join(root_path(1))).unwrap()).unwrap();
    (writer, TrustState::new(root).unwrap())
}

/// What a holder of the stolen snapshot and timestamp keys can serve: plugin files
/// (id, file version, text) under their names, a snapshot naming just them, a timestamp.
fn forge(dir: &Path, keys: &Keys, version: u64, files: &[(&str, u64, &str)]) {
    let mut plugins = BTreeMap::new();
    for (id, file_version, text) in files {
        let path = dir.join(plugin_path(id, *file_version));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        plugins.insert(
            id.to_string(),
            PluginMeta {
                version: *file_version,
                file: FileMeta::of(text.as_bytes()),
            },
        );
    }
    let snapshot = Snapshot {
        version,
        expires: NOW + DAY,
        root_version: 1,
        plugins,
    };
    let signed = Envelope::sign("snapshot", &snapshot, &[&keys.snapshot]).unwrap();
    let bytes = serde_json::to_vec(&signed).unwrap();
    std::fs::write(dir.join(snapshot_path(version)), &bytes).unwrap();
    let timestamp = Timestamp {
        version,
        expires: NOW + DAY,
        snapshot_version: version,
        snapshot: FileMeta::of(&bytes),
    };
    let signed = Envelope::sign("timestamp", &timestamp, &[&keys.timestamp]).unwrap();
    std::fs::write(
        dir.join("timestamp.json"),
        serde_json::to_vec(&signed).unwrap(),
    )
    .unwrap();
}

#[test]
fn a_host_resolves_verifies_and_follows_publications_and_yanks() {
    let (dir, keys) = (tempfile::tempdir().unwrap(), Keys::new());
    let (writer, mut trust) = setup(dir.path(), &keys);
    let source = FolderIndex::new(dir.path());

    let index = trust.refresh(&source, NOW).unwrap();
    assert_eq!(index.plugins().collect::<Vec<_>>(), ["acme-flac"]);
    let entry = index
        .resolve(&source, "acme-flac", &req("^1"), &host())
        .unwrap();
    assert_eq!(index.package(&source, &entry).unwrap(), b"\0asm one");

    writer
        .publish(
            release("acme-flac", "1.1.0"),
            "flac.wasm",
            b"\0asm two",
            &keys.acme,
            keys.index(),
            NOW + 10,
        )
        .unwrap();
    let index = trust.refresh(&source, NOW + 20).unwrap();
    let newest = index
        .resolve(&source, "acme-flac", &req("^1"), &host())
        .unwrap();
    assert_eq!(newest.version, Version::new(1, 1, 0));
    assert_eq!(index.package(&source, &newest).unwrap(), b"\0asm two");

    // A yanked version is only had by asking for exactly it.
    writer
        .yank(
            "acme-flac",
            &Version::new(1, 1, 0),
            true,
            &keys.acme,
            keys.index(),
            NOW + 30,
        )
        .unwrap();
    let index = trust.refresh(&source, NOW + 40).unwrap();
    let chosen = index
        .resolve(&source, "acme-flac", &req("^1"), &host())
        .unwrap();
    assert_eq!(chosen.version, Version::new(1, 0, 0));
    let pinned = index
        .resolve(&source, "acme-flac", &req("=1.1.0"), &host())
        .unwrap();
    assert!(pinned.yanked);

    // Versions are published once.
    let again = writer.publish(
        release("acme-flac", "1.0.0"),
        "x.wasm",
        b"other",
        &keys.acme,
        keys.index(),
        NOW,
    );
    assert!(
        matches!(again, Err(RegistryError::AlreadyPublished { .. })),
        "{again:?}"
    );
}

#[test]
fn a_tampered_package_or_index_line_is_refused() {
    let (dir, keys) = (tempfile::tempdir().unwrap(), Keys::new());
    let (writer, mut trust) = setup(dir.path(), &keys);
    let source = FolderIndex::new(dir.path());
    let index = trust.refresh(&source, NOW).unwrap();
    let entry = index
        .resolve(&source, "acme-flac", &req("*"), &host())
        .unwrap();

    std::fs::write(dir.path().join(&entry.file), b"\0asm longer").unwrap();
    let refused = index.package(&source, &entry).unwrap_err();
    assert!(
        matches!(refused, RegistryError::TooLarge { .. }),
        "{refused}"
    );
    std::fs::write(dir.path().join(&entry.file), b"\0asm bad").unwrap();
    let refused = index.package(&source, &entry).unwrap_err();
    assert!(
        matches!(refused, RegistryError::Mismatch { .. }),
        "{refused}"
    );

    // A changed line (unyanking a version, say) no longer matches the snapshot's hash of
    // its file…
    let file = dir.path().join(plugin_path("acme-flac", 1));
    let text = std::fs::read_to_string(&file).unwrap();
    // The same length: only the hash can tell.
    let tampered = text.replace(r#""yanked":false"#, r#""yanked":true "#);
    assert_ne!(tampered, text);
    std::fs::write(&file, &tampered).unwrap();
    let refused = index.versions(&source, "acme-flac").unwrap_err();
    assert!(
        matches!(refused, RegistryError::Mismatch { .. }),
        "{refused}"
    );

    // …and with the snapshot and timestamp keys stolen and a snapshot naming the changed
    // file, its lines are still not the ones its publisher signed.
    forge(dir.path(), &keys, 10, &[("acme-flac", 1, &tampered)]);
    let index = trust.refresh(&source, NOW).unwrap();
    let refused = index.versions(&source, "acme-flac").unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("not the ones its publisher signed"),
        "{refused}"
    );
    drop(writer);
}

#[test]
fn stolen_snapshot_keys_cannot_serve_a_plugins_older_file() {
    let (dir, keys) = (tempfile::tempdir().unwrap(), Keys::new());
    let (writer, mut trust) = setup(dir.path(), &keys);
    let source = FolderIndex::new(dir.path());
    writer
        .publish(
            release("acme-flac", "1.1.0"),
            "flac.wasm",
            b"\0asm 1.1",
            &keys.acme,
            keys.index(),
            NOW,
        )
        .unwrap();
    // 1.1.0 is found broken and yanked: the plugin's file is at version 3.
    writer
        .yank(
            "acme-flac",
            &Version::new(1, 1, 0),
            true,
            &keys.acme,
            keys.index(),
            NOW,
        )
        .unwrap();
    let index = trust.refresh(&source, NOW).unwrap();
    let chosen = index
        .resolve(&source, "acme-flac", &req("^1"), &host())
        .unwrap();
    assert_eq!(chosen.version, Version::new(1, 0, 0));

    // File version 2, still signed by the publisher, lists 1.1.0 unyanked: served under a
    // newer snapshot, it is refused as a rollback of the plugin's file.
    let before_yank =
        std::fs::read_to_string(dir.path().join(plugin_path("acme-flac", 2))).unwrap();
    forge(dir.path(), &keys, 10, &[("acme-flac", 2, &before_yank)]);
    let refused = trust.clone().refresh(&source, NOW).unwrap_err();
    assert!(
        matches!(&refused, RegistryError::Rollback { document, trusted: 3, offered: 2 } if document.contains("acme-flac")),
        "{refused}"
    );
    // Relabelled as version 4, it no longer matches what its publisher signed.
    forge(dir.path(), &keys, 11, &[("acme-flac", 4, &before_yank)]);
    let index = trust.refresh(&source, NOW).unwrap();
    let refused = index.versions(&source, "acme-flac").unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("version 2 where the snapshot names"),
        "{refused}"
    );
}

#[test]
fn expired_rolled_back_and_foreign_signed_indexes_are_refused() {
    let (dir, keys) = (tempfile::tempdir().unwrap(), Keys::new());
    let (writer, mut trust) = setup(dir.path(), &keys);
    let source = FolderIndex::new(dir.path());

    // A frozen index: its timestamp expires in a day.
    let refused = trust.clone().refresh(&source, NOW + 2 * DAY).unwrap_err();
    assert!(
        matches!(&refused, RegistryError::Expired { document, .. } if document == "timestamp"),
        "{refused}"
    );

    // A rollback to files older than ones this host has seen.
    let old: Vec<(String, Vec<u8>)> = ["timestamp.json"]
        .iter()
        .map(|f| (f.to_string(), std::fs::read(dir.path().join(f)).unwrap()))
        .collect();
    writer
        .publish(
            release("acme-flac", "2.0.0"),
            "flac.wasm",
            b"\0asm 2",
            &keys.acme,
            keys.index(),
            NOW,
        )
        .unwrap();
    trust.refresh(&source, NOW).unwrap();
    for (file, bytes) in &old {
        std::fs::write(dir.path().join(file), bytes).unwrap();
    }
    let refused = trust.clone().refresh(&source, NOW).unwrap_err();
    assert!(
        matches!(&refused, RegistryError::Rollback { document, trusted: 3, offered: 2 } if document == "timestamp"),
        "{refused}"
    );

    // A timestamp signed by a key the root does not name.
    let stranger = SecretKey::generate().unwrap();
    let forged = Timestamp {
        version: 99,
        expires: NOW + DAY,
        snapshot_version: 3,
        snapshot: FileMeta::of(b""),
    };
    let signed = Envelope::sign("timestamp", &forged, &[&stranger]).unwrap();
    std::fs::write(
        dir.path().join("timestamp.json"),
        serde_json::to_vec(&signed).unwrap(),
    )
    .unwrap();
    let refused = trust.refresh(&source, NOW).unwrap_err();
    let text = refused.to_string();
    assert!(
        text.contains(&stranger.public().id().to_string()) && text.contains("does not trust"),
        "{text}"
    );
}

#[test]
fn the_root_rotates_keys_and_revokes_publishers() {
    let (dir, keys) = (tempfile::tempdir().unwrap(), Keys::new());
    let (writer, mut trust) = setup(dir.path(), &keys);
    let source = FolderIndex::new(dir.path());
    trust.refresh(&source, NOW).unwrap();

    // Root 2 replaces the root key: signed by the old one and the new one, it is trusted.
    let new_root = SecretKey::generate().unwrap();
    let mut two = keys.root(2);
    two.keys.insert(new_root.public().id(), new_root.public());
    two.root.keys = vec![new_root.public().id()];
    writer.rotate_root(&two, &[&keys.root, &new_root]).unwrap();
    trust.refresh(&source, NOW).unwrap();
    assert_eq!(trust.root().unwrap().version, 2);

    // Root 3 signed only by a key root 2 does not trust for roots: the writer refuses
    // it, and hosts refuse it written by hand.
    let mut three = two.clone();
    three.version = 3;
    let refused = writer.rotate_root(&three, &[&keys.root]).unwrap_err();
    assert!(
        matches!(refused, RegistryError::Signature { .. }),
        "{refused}"
    );
    let forged = Envelope::sign("root", &three, &[&keys.root]).unwrap();
    std::fs::write(
        dir.path().join(root_path(3)),
        serde_json::to_vec(&forged).unwrap(),
    )
    .unwrap();
    let refused = trust.clone().refresh(&source, NOW).unwrap_err();
    assert!(
        matches!(refused, RegistryError::Signature { .. }),
        "{refused}"
    );

    // Signed properly, root 3 revokes the publisher: its versions are refused.
    three.publishers.clear();
    let signed = Envelope::sign("root", &three, &[&new_root]).unwrap();
    std::fs::write(
        dir.path().join(root_path(3)),
        serde_json::to_vec(&signed).unwrap(),
    )
    .unwrap();
    let index = trust.refresh(&source, NOW).unwrap();
    let refused = index.versions(&source, "acme-flac").unwrap_err();
    assert!(
        refused.to_string().contains("unknown or revoked"),
        "{refused}"
    );
}

#[test]
fn versions_a_host_cannot_run_or_a_publisher_may_not_sign_are_passed_over() {
    let (dir, keys) = (tempfile::tempdir().unwrap(), Keys::new());
    let (writer, mut trust) = setup(dir.path(), &keys);
    let source = FolderIndex::new(dir.path());
    let newer_api = Release {
        api: Version::new(0, 4, 0),
        ..release("acme-flac", "1.5.0")
    };
    writer
        .publish(
            newer_api,
            "flac.wasm",
            b"\0asm 1.5",
            &keys.acme,
            keys.index(),
            NOW,
        )
        .unwrap();
    let native = Release {
        target: "aarch64-apple-darwin".into(),
        ..release("acme-flac", "1.6.0")
    };
    writer
        .publish(
            native,
            "libflac.dylib",
            b"native",
            &keys.acme,
            keys.index(),
            NOW,
        )
        .unwrap();
    let index = trust.refresh(&source, NOW).unwrap();
    let chosen = index
        .resolve(&source, "acme-flac", &req("^1"), &host())
        .unwrap();
    assert_eq!(chosen.version, Version::new(1, 0, 0));
    let refused = index
        .resolve(&source, "acme-flac", &req(">=1.5"), &host())
        .unwrap_err();
    let text = refused.to_string();
    assert!(
        text.contains("1.5.0") && text.contains("upgrade Tonearm"),
        "{text}"
    );
    assert!(
        text.contains("1.6.0: built for aarch64-apple-darwin"),
        "{text}"
    );

    // acme may publish acme-*, not another publisher's plugin: the writer refuses, and a
    // line written by hand is refused by hosts.
    let refused = writer
        .publish(
            release("musicbrainz", "9.0.0"),
            "mb.wasm",
            b"\0asm mb",
            &keys.acme,
            keys.index(),
            NOW,
        )
        .unwrap_err();
    assert!(
        refused.to_string().contains("does not let key"),
        "{refused}"
    );
    let entry = tonearm_registry::Entry {
        id: "musicbrainz".into(),
        version: Version::new(9, 0, 0),
        kind: PluginKind::MetadataSource,
        api: Version::new(0, 3, 0),
        target: COMPONENT_TARGET.into(),
        file: "packages/musicbrainz/9.0.0/mb.wasm".into(),
        package: FileMeta::of(b"\0asm mb"),
        capabilities: Capabilities::default(),
        yanked: false,
    };
    let file = PluginFile {
        id: "musicbrainz".into(),
        version: 1,
        publisher: "acme".into(),
        entries: vec![entry],
    };
    let text = file.to_text(&[&keys.acme]).unwrap();
    forge(dir.path(), &keys, 10, &[("musicbrainz", 1, &text)]);
    let index = trust.refresh(&source, NOW).unwrap();
    let refused = index.versions(&source, "musicbrainz").unwrap_err();
    assert!(refused.to_string().contains("may not publish"), "{refused}");
}

#[test]
fn the_writer_refuses_what_hosts_would_refuse() {
    let (dir, keys) = (tempfile::tempdir().unwrap(), Keys::new());
    let (writer, mut trust) = setup(dir.path(), &keys);
    let publish = |version: &str, file_name: &str, key: &SecretKey| {
        writer.publish(
            release("acme-flac", version),
            file_name,
            b"\0asm",
            key,
            keys.index(),
            NOW,
        )
    };
    // A file name that leaves the package's folder, that hosts would refuse, or that
    // would have a component loaded as a native library.
    for name in ["../../../escaped", "sub/a.wasm", ".hidden", "", "flac.so"] {
        let refused = publish("3.0.0", name, &keys.acme).unwrap_err();
        assert!(
            matches!(refused, RegistryError::Corrupt { .. }),
            "{name}: {refused}"
        );
    }
    assert!(!dir.path().join("escaped").exists());
    // Build metadata does not make another version.
    let refused = publish("1.0.0+rebuilt", "flac.wasm", &keys.acme).unwrap_err();
    assert!(
        matches!(refused, RegistryError::AlreadyPublished { .. }),
        "{refused}"
    );
    // A key the root does not delegate the plugin to, publishing or yanking.
    let refused = publish("3.0.0", "flac.wasm", &keys.snapshot).unwrap_err();
    assert!(
        refused.to_string().contains("does not let key"),
        "{refused}"
    );
    let one = Version::new(1, 0, 0);
    let refused = writer
        .yank("acme-flac", &one, true, &keys.snapshot, keys.index(), NOW)
        .unwrap_err();
    assert!(
        refused.to_string().contains("does not let key"),
        "{refused}"
    );
    // Re-signing with a key the root does not name for the snapshot.
    let stolen = IndexKeys {
        snapshot: &keys.timestamp,
        ..keys.index()
    };
    assert!(matches!(
        writer.resign(stolen, NOW),
        Err(RegistryError::Signature { .. })
    ));
    // Everything refused left the index as hosts saw it.
    let index = trust.refresh(&FolderIndex::new(dir.path()), NOW).unwrap();
    assert_eq!(
        index
            .versions(&FolderIndex::new(dir.path()), "acme-flac")
            .unwrap()
            .len(),
        1
    );
    // A timestamp that cannot be read is not restarted at version 1 (hosts would call
    // every later one a rollback).
    let timestamp = dir.path().join("timestamp.json");
    let text = std::fs::read_to_string(&timestamp).unwrap();
    std::fs::write(&timestamp, text.replace("signed", "sig")).unwrap();
    assert!(matches!(
        writer.resign(keys.index(), NOW),
        Err(RegistryError::Corrupt { .. })
    ));
}

#[test]
fn hosts_refuse_a_version_listed_twice_and_roots_that_count_a_key_twice() {
    let (dir, keys) = (tempfile::tempdir().unwrap(), Keys::new());
    let (writer, mut trust) = setup(dir.path(), &keys);
    let source = FolderIndex::new(dir.path());
    // The same version again, with other build metadata, signed by its publisher.
    let index = trust.refresh(&source, NOW).unwrap();
    let mut entries = index.versions(&source, "acme-flac").unwrap();
    let mut twin = entries[0].clone();
    twin.version = Version::parse("1.0.0+other").unwrap();
    twin.file = "packages/acme-flac/1.0.0+other/flac.wasm".into();
    entries.push(twin);
    let file = PluginFile {
        id: "acme-flac".into(),
        version: 2,
        publisher: "acme".into(),
        entries,
    };
    forge(
        dir.path(),
        &keys,
        10,
        &[("acme-flac", 2, &file.to_text(&[&keys.acme]).unwrap())],
    );
    drop(writer);
    let index = trust.refresh(&source, NOW).unwrap();
    let refused = index.versions(&source, "acme-flac").unwrap_err();
    assert!(refused.to_string().contains("listed twice"), "{refused}");

    // One key under two ids would meet a threshold of two alone.
    let mut root = keys.root(1);
    let alias = tonearm_registry::KeyId("0".repeat(32));
    root.keys.insert(alias.clone(), keys.root.public());
    root.root = RoleKeys {
        keys: vec![keys.root.public().id(), alias],
        threshold: 2,
    };
    let signed = Envelope::sign("root", &root, &[&keys.root]).unwrap();
    let refused = TrustState::new(signed).unwrap_err();
    assert!(
        refused.to_string().contains("another key's id"),
        "{refused}"
    );
    let mut root = keys.root(1);
    root.timestamp.threshold = 0;
    let signed = Envelope::sign("root", &root, &[&keys.root]).unwrap();
    let refused = TrustState::new(signed).unwrap_err();
    assert!(refused.to_string().contains("needs 0 of 1"), "{refused}");
}

#[test]
fn a_publisher_with_a_new_key_signs_its_plugins_again() {
    let (dir, keys) = (tempfile::tempdir().unwrap(), Keys::new());
    let (writer, mut trust) = setup(dir.path(), &keys);
    let source = FolderIndex::new(dir.path());
    let new_key = SecretKey::generate().unwrap();
    let mut two = keys.root(2);
    two.keys.insert(new_key.public().id(), new_key.public());
    two.publishers.get_mut("acme").unwrap().signers.keys = vec![new_key.public().id()];
    writer.rotate_root(&two, &[&keys.root]).unwrap();
    let index = trust.refresh(&source, NOW).unwrap();
    let refused = index.versions(&source, "acme-flac").unwrap_err();
    assert!(
        matches!(refused, RegistryError::Signature { .. }),
        "{refused}"
    );

    let refused = writer
        .resign_plugin("acme-flac", "acme", &keys.acme, keys.index(), NOW)
        .unwrap_err();
    assert!(
        refused.to_string().contains("does not let key"),
        "{refused}"
    );
    writer
        .resign_plugin("acme-flac", "acme", &new_key, keys.index(), NOW)
        .unwrap();
    let index = trust.refresh(&source, NOW).unwrap();
    assert_eq!(index.versions(&source, "acme-flac").unwrap().len(), 1);
}

#[test]
fn a_failed_refresh_changes_nothing_and_broken_snapshots_are_refused() {
    let (dir, keys) = (tempfile::tempdir().unwrap(), Keys::new());
    let (_writer, mut trust) = setup(dir.path(), &keys);
    let source = FolderIndex::new(dir.path());
    trust.refresh(&source, NOW).unwrap();
    let good = std::fs::read(dir.path().join("timestamp.json")).unwrap();
    let sign_timestamp = |version: u64, snapshot_version: u64, snapshot: &[u8]| {
        let timestamp = Timestamp {
            version,
            expires: NOW + DAY,
            snapshot_version,
            snapshot: FileMeta::of(snapshot),
        };
        let signed = Envelope::sign("timestamp", &timestamp, &[&keys.timestamp]).unwrap();
        std::fs::write(
            dir.path().join("timestamp.json"),
            serde_json::to_vec(&signed).unwrap(),
        )
        .unwrap();
    };

    // A valid, much newer timestamp naming a snapshot that is not there: refused, and
    // the host has not moved on to version 50 (the good index still reads).
    sign_timestamp(50, 50, b"nothing");
    let refused = trust.refresh(&source, NOW).unwrap_err();
    assert!(matches!(refused, RegistryError::Missing(_)), "{refused}");
    std::fs::write(dir.path().join("timestamp.json"), &good).unwrap();
    trust.refresh(&source, NOW).unwrap();

    // A snapshot changed after the timestamp signed for it, or another snapshot version
    // than the timestamp names.
    let snapshot = std::fs::read(dir.path().join(snapshot_path(2))).unwrap();
    sign_timestamp(60, 2, b"other bytes");
    let refused = trust.refresh(&source, NOW).unwrap_err();
    assert!(
        matches!(
            refused,
            RegistryError::Mismatch { .. } | RegistryError::TooLarge { .. }
        ),
        "{refused}"
    );
    std::fs::write(dir.path().join(snapshot_path(7)), &snapshot).unwrap();
    sign_timestamp(61, 7, &snapshot);
    let refused = trust.refresh(&source, NOW).unwrap_err();
    assert!(
        refused.to_string().contains("where the timestamp names 7"),
        "{refused}"
    );
}

#[test]
fn the_writer_never_writes_over_what_it_signed_or_starts_over() {
    let (dir, keys) = (tempfile::tempdir().unwrap(), Keys::new());
    let (writer, mut trust) = setup(dir.path(), &keys);
    let source = FolderIndex::new(dir.path());
    // A failed publication left plugin file 2 behind: the next one is file 3.
    let leftover = dir.path().join(plugin_path("acme-flac", 2));
    std::fs::write(&leftover, b"left behind").unwrap();
    writer
        .publish(
            release("acme-flac", "1.1.0"),
            "flac.wasm",
            b"\0asm 1.1",
            &keys.acme,
            keys.index(),
            NOW,
        )
        .unwrap();
    assert_eq!(std::fs::read(&leftover).unwrap(), b"left behind");
    let index = trust.refresh(&source, NOW).unwrap();
    assert_eq!(index.versions(&source, "acme-flac").unwrap().len(), 2);
    assert!(dir.path().join(plugin_path("acme-flac", 3)).exists());

    // Without its timestamp the index is not started over (that would write over
    // signed files and set every host's versions back).
    std::fs::remove_file(dir.path().join("timestamp.json")).unwrap();
    let refused = writer.resign(keys.index(), NOW).unwrap_err();
    assert!(refused.to_string().contains("is missing"), "{refused}");
    let refused = writer
        .publish(
            release("acme-flac", "1.2.0"),
            "flac.wasm",
            b"\0asm",
            &keys.acme,
            keys.index(),
            NOW,
        )
        .unwrap_err();
    assert!(refused.to_string().contains("is missing"), "{refused}");
    assert!(!dir.path().join("packages/acme-flac/1.2.0").exists());
}
