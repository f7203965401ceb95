//! The plugin index as a host reads it: envelopes of any kind from raw bytes, and a
//! plugin's version lines that pass their publisher's signature (the harness signs the
//! file the fuzzer writes, since it cannot forge one) through parsing, checks and
//! resolution.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use tonearm_registry::{
    Envelope, FileMeta, HostProfile, IndexSource, PluginHeader, PluginMeta, Publisher,
    RegistryError, RoleKeys, Root, SecretKey, Snapshot, TIMESTAMP_PATH, Timestamp, TrustState,
    plugin_path, snapshot_path,
};

/// The plugin id the fuzzed lines are published under.
const ID: &str = "fuzz";
const NOW: i64 = 1_800_000_000;

struct Fixture {
    root: Envelope,
    key: SecretKey,
}

/// One key for every role (the roles' separation is not what is fuzzed here).
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key = SecretKey::from_seed([7; 32]);
        let role = RoleKeys {
            keys: vec![key.public().id()],
            threshold: 1,
        };
        let root = Root {
            version: 1,
            expires: NOW + 1000,
            keys: BTreeMap::from([(key.public().id(), key.public())]),
            root: role.clone(),
            snapshot: role.clone(),
            timestamp: role.clone(),
            publishers: BTreeMap::from([(
                "p".to_owned(),
                Publisher {
                    signers: role,
                    plugins: vec![ID.into()],
                },
            )]),
        };
        let root = match Envelope::sign("root", &root, &[&key]) {
            Ok(root) => root,
            Err(e) => panic!("the fixture's root does not sign: {e}"),
        };
        Fixture { root, key }
    })
}

struct Memory(BTreeMap<String, Vec<u8>>);

impl IndexSource for Memory {
    fn fetch(&self, path: &str, limit: u64) -> Result<Option<Vec<u8>>, RegistryError> {
        match self.0.get(path) {
            Some(bytes) if bytes.len() as u64 > limit => Err(RegistryError::TooLarge {
                file: path.into(),
                limit,
            }),
            found => Ok(found.cloned()),
        }
    }
}

/// `data`: a version requirement, then version lines' JSON, separated by `0xFF` bytes; the
/// whole of it is also read as an envelope of every kind.
pub fn registry(data: &[u8]) {
    let fixture = fixture();
    for kind in ["root", "timestamp", "snapshot", "plugin"] {
        if let Ok(envelope) = Envelope::parse(kind, data) {
            let _ = TrustState::new(envelope);
        }
    }
    let mut parts = data.split(|&b| b == 0xFF);
    let requirement = parts
        .next()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    // The publisher signs the file as a whole: its header covers the fuzzed lines.
    let mut lines = String::new();
    for part in parts.take(64) {
        lines.push_str(&String::from_utf8_lossy(part));
        lines.push('\n');
    }
    let header = PluginHeader {
        id: ID.into(),
        version: 1,
        publisher: "p".into(),
        lines_sha256: FileMeta::of(lines.as_bytes()).sha256,
    };
    let Ok(header) = serde_json::to_string(&Envelope::sign_text(
        "plugin",
        serde_json::to_string(&header).unwrap_or_default(),
        &[&fixture.key],
    )) else {
        return;
    };
    let file = format!("{header}\n{lines}");
    let snapshot = Snapshot {
        version: 1,
        expires: NOW + 1000,
        root_version: 1,
        plugins: BTreeMap::from([(
            ID.to_owned(),
            PluginMeta {
                version: 1,
                file: FileMeta::of(file.as_bytes()),
            },
        )]),
    };
    let Ok(snapshot) = Envelope::sign("snapshot", &snapshot, &[&fixture.key])
        .and_then(|e| serde_json::to_vec(&e).map_err(|e| RegistryError::BadKey(e.to_string())))
    else {
        return;
    };
    let timestamp = Timestamp {
        version: 1,
        expires: NOW + 1000,
        snapshot_version: 1,
        snapshot: FileMeta::of(&snapshot),
    };
    let Ok(timestamp) = Envelope::sign("timestamp", &timestamp, &[&fixture.key])
        .and_then(|e| serde_json::to_vec(&e).map_err(|e| RegistryError::BadKey(e.to_string())))
    else {
        return;
    };
    let source = Memory(BTreeMap::from([
        (TIMESTAMP_PATH.to_owned(), timestamp),
        (snapshot_path(1), snapshot),
        (plugin_path(ID, 1), file.into_bytes()),
    ]));
    let Ok(mut trust) = TrustState::new(fixture.root.clone()) else {
        return;
    };
    let index = match trust.refresh(&source, NOW) {
        Ok(index) => index,
        Err(e) => panic!("the fixture's own index was refused: {e}"),
    };
    let host = HostProfile {
        api: semver::Version::new(0, 3, 0),
        targets: vec![tonearm_registry::COMPONENT_TARGET.into()],
    };
    if let Ok(entries) = index.versions(&source, ID) {
        for entry in entries {
            // What passed the checks names this plugin and a package inside its folder.
            assert_eq!(entry.id, ID);
            assert!(entry.file.starts_with(&format!("packages/{ID}/")));
            assert!(
                entry
                    .file
                    .split('/')
                    .all(|c| !c.is_empty() && c != "." && c != ".."),
                "{}",
                entry.file
            );
        }
    }
    if let Ok(requirement) = semver::VersionReq::parse(&requirement) {
        let _ = index.resolve(&source, ID, &requirement, &host);
    }
}
