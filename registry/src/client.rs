//! Reading an index as a host does: each file checked against the one that signed for it,
//! from the root of trust down, before anything in it is believed.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::PathBuf;

use semver::{Op, Version, VersionReq};
use serde::{Deserialize, Serialize};
use tonearm_plugin_api::check_api_compatibility;

use crate::RegistryError;
use crate::envelope::{Envelope, Signers};
use crate::metadata::{
    Entry, PluginHeader, RoleKeys, Root, Snapshot, TIMESTAMP_PATH, Timestamp, check_id,
    plugin_path, root_path, snapshot_path,
};

/// The largest root and timestamp files read: neither grows with the index.
const MAX_ROOT: u64 = 1 << 20;
const MAX_TIMESTAMP: u64 = 64 << 10;
/// The largest snapshot read, whatever the timestamp says: about 100,000 plugins.
const MAX_SNAPSHOT: u64 = 16 << 20;

/// Where an index is read from: a folder, or a static web server.
pub trait IndexSource {
    /// The bytes of `path` in the index, or `None` if it has no such file. More than
    /// `limit` bytes is an error: what was signed for says how long a file is.
    fn fetch(&self, path: &str, limit: u64) -> Result<Option<Vec<u8>>, RegistryError>;
}

/// An index in a local folder.
#[derive(Debug, Clone)]
pub struct FolderIndex {
    root: PathBuf,
}

impl FolderIndex {
    /// The index in folder `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
}

impl IndexSource for FolderIndex {
    fn fetch(&self, path: &str, limit: u64) -> Result<Option<Vec<u8>>, RegistryError> {
        let full = self.root.join(path);
        let io = |source| RegistryError::Io {
            path: full.display().to_string(),
            source,
        };
        let file = match std::fs::File::open(&full) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let mut bytes = Vec::new();
        file.take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > limit {
            return Err(RegistryError::TooLarge {
                file: path.to_owned(),
                limit,
            });
        }
        Ok(Some(bytes))
    }
}

/// What a host keeps between reads of an index: the root it trusts, and the newest
/// timestamp and snapshot versions it has seen, so an older index is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustState {
    root: Envelope,
    timestamp_version: u64,
    snapshot_version: u64,
    /// The newest version of each plugin's file seen, by plugin id.
    #[serde(default)]
    plugins: BTreeMap<String, u64>,
}

/// Who may sign a document of `role` under `root`.
pub(crate) fn signers<'a>(root: &'a Root, role: &'a RoleKeys) -> Signers<'a> {
    Signers {
        keys: &root.keys,
        allowed: &role.keys,
        threshold: role.threshold,
    }
}

/// Parses a root without trusting it yet, refusing one that could not be kept: a key
/// listed under another key's id (one key would count twice), a threshold of 0 or above
/// its keys, or a role naming a key the root does not hold.
pub(crate) fn claimed_root(envelope: &Envelope) -> Result<Root, RegistryError> {
    let root: Root = serde_json::from_str(&envelope.signed)
        .map_err(|e| RegistryError::corrupt("root", e.to_string()))?;
    let bad = |reason: String| {
        Err(RegistryError::corrupt(
            "root",
            format!("version {}: {reason}", root.version),
        ))
    };
    if let Some((id, _)) = root.keys.iter().find(|(id, key)| key.id() != **id) {
        return bad(format!("key {id} is listed under another key's id"));
    }
    let roles = [
        ("root", &root.root),
        ("snapshot", &root.snapshot),
        ("timestamp", &root.timestamp),
    ]
    .into_iter()
    .chain(
        root.publishers
            .iter()
            .map(|(name, p)| (name.as_str(), &p.signers)),
    );
    for (name, role) in roles {
        if role.threshold == 0 || role.threshold as usize > role.keys.len() {
            return bad(format!(
                "`{name}` needs {} of {} keys",
                role.threshold,
                role.keys.len()
            ));
        }
        if let Some(id) = role.keys.iter().find(|id| !root.keys.contains_key(*id)) {
            return bad(format!(
                "`{name}` names key {id}, which the root does not hold"
            ));
        }
    }
    Ok(root)
}

impl TrustState {
    /// Trust that starts at `root`, the root a host is built with: it must be signed by
    /// its own root keys.
    pub fn new(root: Envelope) -> Result<Self, RegistryError> {
        let claimed = claimed_root(&root)?;
        let _: Root = root.verify("root", signers(&claimed, &claimed.root))?;
        Ok(Self {
            root,
            timestamp_version: 0,
            snapshot_version: 0,
            plugins: BTreeMap::new(),
        })
    }

    /// The state saved at `path`, if there is one.
    pub fn load(path: &std::path::Path) -> Result<Option<Self>, RegistryError> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(crate::fs::io(path, e)),
        };
        let state: Self = serde_json::from_slice(&bytes)
            .map_err(|e| RegistryError::corrupt(&path.display().to_string(), e.to_string()))?;
        // What this host wrote; checked all the same, as a root it builds on.
        let root = claimed_root(&state.root)?;
        let _: Root = state.root.verify("root", signers(&root, &root.root))?;
        Ok(Some(state))
    }

    /// Saves the state at `path`, atomically: after a refresh, so the versions it saw
    /// are never offered again.
    pub fn save(&self, path: &std::path::Path) -> Result<(), RegistryError> {
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| RegistryError::corrupt("trust state", e.to_string()))?;
        crate::fs::write_atomic(path, &bytes)
    }

    /// The root trusted now.
    pub fn root(&self) -> Result<Root, RegistryError> {
        claimed_root(&self.root)
    }

    /// Reads the index's current state from `source` at `now` (seconds since the Unix
    /// epoch): newer roots, each signed by the one before and by itself; then the
    /// timestamp, and the snapshot it names. Refuses expired documents (a frozen index)
    /// and versions older than ones seen before (a rollback). Save the state after.
    pub fn refresh(&mut self, source: &dyn IndexSource, now: i64) -> Result<Index, RegistryError> {
        let mut root = self.root()?;
        while let Some(bytes) =
            source.fetch(&root_path(root.version.saturating_add(1)), MAX_ROOT)?
        {
            let envelope = Envelope::parse("root", &bytes)?;
            let next = claimed_root(&envelope)?;
            // The old root's keys vouch for the new one, and the new keys for themselves.
            let _: Root = envelope.verify("root", signers(&root, &root.root))?;
            let _: Root = envelope.verify("root", signers(&next, &next.root))?;
            if next.version != root.version.saturating_add(1) {
                return Err(RegistryError::corrupt(
                    "root",
                    format!(
                        "{} says it is version {}",
                        root_path(root.version.saturating_add(1)),
                        next.version
                    ),
                ));
            }
            // New timestamp or snapshot keys start their versions over (recovering from
            // a stolen key that signed a version far ahead).
            if next.timestamp != root.timestamp {
                self.timestamp_version = 0;
            }
            if next.snapshot != root.snapshot {
                self.snapshot_version = 0;
                self.plugins.clear();
            }
            tracing::info!(version = next.version, "trusting a new index root");
            self.root = envelope;
            root = next;
        }
        expires("root", root.expires, now)?;

        let bytes = source
            .fetch(TIMESTAMP_PATH, MAX_TIMESTAMP)?
            .ok_or_else(|| RegistryError::Missing(TIMESTAMP_PATH.into()))?;
        let timestamp: Timestamp = Envelope::parse("timestamp", &bytes)?
            .verify("timestamp", signers(&root, &root.timestamp))?;
        newer("timestamp", self.timestamp_version, timestamp.version)?;
        expires("timestamp", timestamp.expires, now)?;

        let path = snapshot_path(timestamp.snapshot_version);
        let bytes = source
            .fetch(&path, timestamp.snapshot.length.min(MAX_SNAPSHOT))?
            .ok_or_else(|| RegistryError::Missing(path.clone()))?;
        timestamp.snapshot.check(&path, &bytes)?;
        let snapshot: Snapshot = Envelope::parse("snapshot", &bytes)?
            .verify("snapshot", signers(&root, &root.snapshot))?;
        if snapshot.version != timestamp.snapshot_version {
            return Err(RegistryError::corrupt(
                "snapshot",
                format!(
                    "version {} where the timestamp names {}",
                    snapshot.version, timestamp.snapshot_version
                ),
            ));
        }
        newer("snapshot", self.snapshot_version, snapshot.version)?;
        expires("snapshot", snapshot.expires, now)?;
        if snapshot.root_version > root.version {
            return Err(RegistryError::corrupt(
                "snapshot",
                format!(
                    "made under root {}, newer than root {}",
                    snapshot.root_version, root.version
                ),
            ));
        }
        // A plugin's file never goes back to an older version: that would serve versions
        // its publisher has since yanked, or hide newer ones.
        for (id, meta) in &snapshot.plugins {
            check_id(id)?;
            let seen = self.plugins.get(id).copied().unwrap_or(0);
            newer(&format!("file of plugin `{id}`"), seen, meta.version)?;
        }

        self.timestamp_version = timestamp.version;
        self.snapshot_version = snapshot.version;
        for (id, meta) in &snapshot.plugins {
            self.plugins.insert(id.clone(), meta.version);
        }
        Ok(Index { root, snapshot })
    }
}

fn expires(document: &str, expires: i64, now: i64) -> Result<(), RegistryError> {
    if expires <= now {
        return Err(RegistryError::Expired {
            document: document.to_owned(),
            expires,
        });
    }
    Ok(())
}

fn newer(document: &str, trusted: u64, offered: u64) -> Result<(), RegistryError> {
    if offered < trusted {
        return Err(RegistryError::Rollback {
            document: document.to_owned(),
            trusted,
            offered,
        });
    }
    Ok(())
}

/// What a host can run: the plugin API it implements and the targets it loads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostProfile {
    /// The plugin API version it implements.
    pub api: Version,
    /// `wasm32-wasip2` for components, and the native triples it loads libraries for.
    pub targets: Vec<String>,
}

/// An index as verified at one moment.
#[derive(Debug, Clone)]
pub struct Index {
    root: Root,
    snapshot: Snapshot,
}

impl Index {
    /// The ids of every plugin in the index.
    pub fn plugins(&self) -> impl Iterator<Item = &str> {
        self.snapshot.plugins.keys().map(String::as_str)
    }

    /// The snapshot's version.
    pub fn version(&self) -> u64 {
        self.snapshot.version
    }

    /// Every version of plugin `id`: its file as the snapshot names it, signed as a whole
    /// by the publisher the root delegates `id` to.
    pub fn versions(
        &self,
        source: &dyn IndexSource,
        id: &str,
    ) -> Result<Vec<Entry>, RegistryError> {
        check_id(id)?;
        let meta = self
            .snapshot
            .plugins
            .get(id)
            .ok_or_else(|| RegistryError::UnknownPlugin(id.to_owned()))?;
        let path = plugin_path(id, meta.version);
        let bytes = source
            .fetch(&path, meta.file.length)?
            .ok_or_else(|| RegistryError::Missing(path.clone()))?;
        meta.file.check(&path, &bytes)?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|e| RegistryError::corrupt(&path, e.to_string()))?;
        let (header, lines) = text.split_once('\n').unwrap_or((text, ""));
        self.check_header(id, meta.version, header, lines)?;
        let mut entries = Vec::new();
        // Build metadata does not make another version: a file listing one version twice
        // would let either be served for a pin.
        let mut seen = std::collections::BTreeSet::new();
        for line in lines.lines().filter(|line| !line.trim().is_empty()) {
            let entry = check_entry(id, line)?;
            if !seen.insert(crate::metadata::without_build(&entry.version)) {
                return Err(RegistryError::corrupt(
                    &path,
                    format!("version {} is listed twice", entry.version),
                ));
            }
            entries.push(entry);
        }
        Ok(entries)
    }

    /// Checks the header of plugin `id`'s file, version `version`: signed by the
    /// publisher the root delegates `id` to, for exactly these `lines`.
    fn check_header(
        &self,
        id: &str,
        version: u64,
        header: &str,
        lines: &str,
    ) -> Result<(), RegistryError> {
        let envelope = Envelope::parse("plugin", header.as_bytes())?;
        let claimed: PluginHeader = serde_json::from_str(&envelope.signed)
            .map_err(|e| RegistryError::corrupt("plugin", e.to_string()))?;
        let refuse = |reason: String| RegistryError::Signature {
            document: format!("file of plugin `{id}`"),
            reason,
        };
        let publisher = self
            .root
            .publishers
            .get(&claimed.publisher)
            .ok_or_else(|| {
                refuse(format!(
                    "publisher `{}` is not in the index's root (unknown or revoked)",
                    claimed.publisher
                ))
            })?;
        if !publisher.may_publish(id) {
            return Err(refuse(format!(
                "publisher `{}` may not publish `{id}`",
                claimed.publisher
            )));
        }
        let header: PluginHeader = envelope
            .verify("plugin", signers(&self.root, &publisher.signers))
            .map_err(|e| refuse(e.to_string()))?;
        if header.id != id || header.version != version {
            return Err(RegistryError::corrupt(
                "plugin",
                format!(
                    "the file of `{}` version {} where the snapshot names `{id}` version {version}",
                    header.id, header.version
                ),
            ));
        }
        let sha256 = crate::metadata::sha256_hex(lines.as_bytes());
        if sha256 != header.lines_sha256 {
            return Err(RegistryError::Mismatch {
                file: plugin_path(id, version),
                reason: "its lines are not the ones its publisher signed".into(),
            });
        }
        Ok(())
    }

    /// The newest version of plugin `id` that `requirement` accepts and `host` can run.
    /// A yanked version is chosen only by an exact requirement (`=1.2.3`); the error
    /// says why each version was passed over.
    pub fn resolve(
        &self,
        source: &dyn IndexSource,
        id: &str,
        requirement: &VersionReq,
        host: &HostProfile,
    ) -> Result<Entry, RegistryError> {
        let exact = requirement.comparators.len() == 1
            && requirement.comparators[0].op == Op::Exact
            && requirement.comparators[0].patch.is_some();
        let mut passed_over = Vec::new();
        let mut best: Option<Entry> = None;
        for entry in self.versions(source, id)? {
            let why_not = if !requirement.matches(&entry.version) {
                continue;
            } else if entry.yanked && !exact {
                Some("yanked".to_owned())
            } else if !host.targets.contains(&entry.target) {
                Some(format!("built for {}", entry.target))
            } else {
                check_api_compatibility(id, &entry.api, &host.api)
                    .err()
                    .map(|e| e.to_string())
            };
            match why_not {
                Some(reason) => passed_over.push(format!("{}: {reason}", entry.version)),
                None if best.as_ref().is_none_or(|b| b.version < entry.version) => {
                    best = Some(entry);
                }
                None => {}
            }
        }
        best.ok_or_else(|| RegistryError::NoMatch {
            id: id.to_owned(),
            requirement: requirement.to_string(),
            passed_over,
        })
    }

    /// Fetches `entry`'s package and checks it is exactly what was signed for, before
    /// anything is written or opened.
    pub fn package(
        &self,
        source: &dyn IndexSource,
        entry: &Entry,
    ) -> Result<Vec<u8>, RegistryError> {
        let bytes = source
            .fetch(&entry.file, entry.package.length)?
            .ok_or_else(|| RegistryError::Missing(entry.file.clone()))?;
        entry.package.check(&entry.file, &bytes)?;
        Ok(bytes)
    }
}

/// One line of plugin `id`'s file (its header already checked): an entry of `id` whose
/// package lies in its own folder.
fn check_entry(id: &str, line: &str) -> Result<Entry, RegistryError> {
    let entry: Entry =
        serde_json::from_str(line).map_err(|e| RegistryError::corrupt("entry", e.to_string()))?;
    let expected = format!("packages/{id}/{}/", entry.version);
    let file_ok = entry.file.strip_prefix(&expected).is_some_and(|name| {
        crate::metadata::check_file_name(name).is_ok()
            && crate::metadata::check_form(&entry.target, name).is_ok()
    });
    if entry.id != id || !file_ok {
        return Err(RegistryError::corrupt(
            "entry",
            format!(
                "`{}` {} at {} in the file of `{id}`",
                entry.id, entry.version, entry.file
            ),
        ));
    }
    Ok(entry)
}
