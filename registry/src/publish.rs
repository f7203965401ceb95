//! Writing an index in a folder: creating it, publishing and yanking versions, rotating
//! its root. Each file is replaced atomically and durably, the timestamp last; a host
//! reading during a publication may still pair the old timestamp with the new snapshot,
//! which it refuses as changed: it reads again.
//!
//! The writer checks what it signs as hosts will, so a mistake (a key the root does not
//! name, a file name hosts refuse) fails here rather than on every host.

use std::path::{Path, PathBuf};

use tonearm_plugin_api::{Capabilities, PluginKind};

use crate::RegistryError;
use crate::client::{claimed_root, signers};
use crate::envelope::Envelope;
use crate::keys::SecretKey;
use crate::metadata::{
    Entry, FileMeta, Root, SNAPSHOT_PATH, Snapshot, TIMESTAMP_PATH, Timestamp, check_file_name,
    check_id, plugin_path, root_path, without_build,
};

/// The keys that re-sign an index after a change, and how long what they sign lasts.
#[derive(Debug, Clone, Copy)]
pub struct IndexKeys<'a> {
    /// Signs the snapshot.
    pub snapshot: &'a SecretKey,
    /// Signs the timestamp.
    pub timestamp: &'a SecretKey,
    /// Seconds a snapshot stays trusted.
    pub snapshot_lifetime: i64,
    /// Seconds a timestamp stays trusted: re-sign (`IndexWriter::resign`) within it, or
    /// hosts take the index for frozen.
    pub timestamp_lifetime: i64,
}

/// One version of a plugin to publish: what its manifest says, and who publishes it.
#[derive(Debug, Clone)]
pub struct Release {
    /// The plugin id.
    pub id: String,
    /// Its version.
    pub version: semver::Version,
    /// Its kind.
    pub kind: PluginKind,
    /// The plugin API it was built against.
    pub api: semver::Version,
    /// `wasm32-wasip2`, or a native target triple.
    pub target: String,
    /// What it asks of the host.
    pub capabilities: Capabilities,
    /// The publisher, as the root names it.
    pub publisher: String,
}

/// An index in a folder, being written.
#[derive(Debug, Clone)]
pub struct IndexWriter {
    dir: PathBuf,
}

impl IndexWriter {
    /// Starts an index in `dir` with `root` (version 1), signed by `root_keys`, and an
    /// empty snapshot.
    pub fn create(
        dir: impl Into<PathBuf>,
        root: &Root,
        root_keys: &[&SecretKey],
        keys: IndexKeys<'_>,
        now: i64,
    ) -> Result<Self, RegistryError> {
        let writer = Self { dir: dir.into() };
        if root.version != 1 {
            return Err(RegistryError::corrupt(
                "root",
                "a new index starts at root version 1",
            ));
        }
        if writer.dir.join(root_path(1)).exists() {
            return Err(RegistryError::corrupt(
                "root",
                format!("{} already holds an index", writer.dir.display()),
            ));
        }
        writer.write_json(&root_path(1), &Envelope::sign("root", root, root_keys)?)?;
        writer.resign(keys, now)?;
        Ok(writer)
    }

    /// The index in `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Replaces the root by `next` (one version more), signed by `keys`: enough of the
    /// current root's keys and of its own. Removing a publisher or a key revokes it.
    pub fn rotate_root(&self, next: &Root, keys: &[&SecretKey]) -> Result<(), RegistryError> {
        let current = self.latest_root()?;
        if next.version != current.version + 1 {
            return Err(RegistryError::corrupt(
                "root",
                format!(
                    "the next root is version {}, not {}",
                    current.version + 1,
                    next.version
                ),
            ));
        }
        // Hosts take the new root only with enough of the old root's keys and its own.
        let signed = Envelope::sign("root", next, keys)?;
        let checked = claimed_root(&signed)?;
        let _: Root = signed.verify("root", signers(&current, &current.root))?;
        let _: Root = signed.verify("root", signers(&checked, &checked.root))?;
        self.write_json(&root_path(next.version), &signed)
    }

    /// Publishes `package` (its file name `file_name`) as `release`, signed by the
    /// publisher's `publisher_key`, then re-signs the index. A version is published once.
    pub fn publish(
        &self,
        release: Release,
        file_name: &str,
        package: &[u8],
        publisher_key: &SecretKey,
        keys: IndexKeys<'_>,
        now: i64,
    ) -> Result<Entry, RegistryError> {
        check_id(&release.id)?;
        check_file_name(file_name)?;
        let root = self.latest_root()?;
        delegated(&root, &release.publisher, &release.id, publisher_key)?;
        let file = format!("packages/{}/{}/{file_name}", release.id, release.version);
        let mut lines = self.lines(&release.id)?;
        let same = without_build(&release.version);
        if lines.iter().any(|(e, _)| without_build(&e.version) == same) {
            return Err(RegistryError::AlreadyPublished {
                id: release.id,
                version: release.version.to_string(),
            });
        }
        let entry = Entry {
            id: release.id,
            version: release.version,
            kind: release.kind,
            api: release.api,
            target: release.target,
            file,
            package: FileMeta::of(package),
            capabilities: release.capabilities,
            publisher: release.publisher,
            yanked: false,
        };
        self.write(&entry.file, package)?;
        let line = Envelope::sign("entry", &entry, &[publisher_key])?;
        lines.push((entry.clone(), line));
        self.write_lines(&entry.id, &lines)?;
        self.resign(keys, now)?;
        Ok(entry)
    }

    /// Marks version `version` of `id` yanked (or not), re-signed by the publisher's
    /// `publisher_key`, then re-signs the index.
    pub fn yank(
        &self,
        id: &str,
        version: &semver::Version,
        yanked: bool,
        publisher_key: &SecretKey,
        keys: IndexKeys<'_>,
        now: i64,
    ) -> Result<(), RegistryError> {
        check_id(id)?;
        let root = self.latest_root()?;
        let mut lines = self.lines(id)?;
        let (entry, line) = lines
            .iter_mut()
            .find(|(e, _)| &e.version == version)
            .ok_or_else(|| RegistryError::UnknownPlugin(format!("{id} {version}")))?;
        delegated(&root, &entry.publisher, id, publisher_key)?;
        entry.yanked = yanked;
        *line = Envelope::sign("entry", &*entry, &[publisher_key])?;
        self.write_lines(id, &lines)?;
        self.resign(keys, now)
    }

    /// Signs a new snapshot of every plugin file and a new timestamp naming it: after a
    /// change, and regularly, before the timestamp expires.
    pub fn resign(&self, keys: IndexKeys<'_>, now: i64) -> Result<(), RegistryError> {
        let root = self.latest_root()?;
        let mut plugins = std::collections::BTreeMap::new();
        let folder = self.dir.join("plugins");
        if folder.is_dir() {
            for item in std::fs::read_dir(&folder).map_err(|e| io(&folder, e))? {
                let item = item.map_err(|e| io(&folder, e))?;
                let Some(id) = item.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                if check_id(&id).is_err() {
                    continue;
                }
                let bytes = std::fs::read(item.path()).map_err(|e| io(&item.path(), e))?;
                plugins.insert(id, FileMeta::of(&bytes));
            }
        }
        let snapshot = Snapshot {
            version: self.current_version(SNAPSHOT_PATH)?.saturating_add(1),
            expires: now.saturating_add(keys.snapshot_lifetime),
            root_version: root.version,
            plugins,
        };
        let signed = Envelope::sign("snapshot", &snapshot, &[keys.snapshot])?;
        // A key the root does not name for the role makes an index every host refuses.
        let _: Snapshot = signed.verify("snapshot", signers(&root, &root.snapshot))?;
        let bytes = serde_json::to_vec(&signed)
            .map_err(|e| RegistryError::corrupt("snapshot", e.to_string()))?;
        self.write(SNAPSHOT_PATH, &bytes)?;
        let timestamp = Timestamp {
            version: self.current_version(TIMESTAMP_PATH)?.saturating_add(1),
            expires: now.saturating_add(keys.timestamp_lifetime),
            snapshot_version: snapshot.version,
            snapshot: FileMeta::of(&bytes),
        };
        let signed = Envelope::sign("timestamp", &timestamp, &[keys.timestamp])?;
        let _: Timestamp = signed.verify("timestamp", signers(&root, &root.timestamp))?;
        self.write_json(TIMESTAMP_PATH, &signed)
    }

    /// The version of the index's `path` (the snapshot or the timestamp), 0 before the
    /// first. One that cannot be read is an error, not 0: versions must only grow, or
    /// every host that saw a later one refuses the index as a rollback.
    fn current_version(&self, path: &str) -> Result<u64, RegistryError> {
        let full = self.dir.join(path);
        let bytes = match std::fs::read(&full) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(io(&full, e)),
        };
        let envelope = Envelope::parse(path, &bytes)?;
        let value: serde_json::Value = serde_json::from_str(&envelope.signed)
            .map_err(|e| RegistryError::corrupt(path, e.to_string()))?;
        value
            .get("version")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| {
                RegistryError::corrupt(
                    path,
                    "no version: restore the file, versions must only grow",
                )
            })
    }

    /// The newest root in the folder (trusted: it is our own).
    fn latest_root(&self) -> Result<Root, RegistryError> {
        let mut version = 1;
        while self.dir.join(root_path(version + 1)).exists() {
            version += 1;
        }
        let path = self.dir.join(root_path(version));
        let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
        let envelope = Envelope::parse("root", &bytes)?;
        serde_json::from_str(&envelope.signed)
            .map_err(|e| RegistryError::corrupt("root", e.to_string()))
    }

    /// The signed lines of plugin `id`'s file, with what each says.
    fn lines(&self, id: &str) -> Result<Vec<(Entry, Envelope)>, RegistryError> {
        let path = self.dir.join(plugin_path(id));
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&path, e)),
        };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let envelope = Envelope::parse("entry", line.as_bytes())?;
                let entry = serde_json::from_str(&envelope.signed)
                    .map_err(|e| RegistryError::corrupt("entry", e.to_string()))?;
                Ok((entry, envelope))
            })
            .collect()
    }

    fn write_lines(&self, id: &str, lines: &[(Entry, Envelope)]) -> Result<(), RegistryError> {
        let mut text = String::new();
        for (_, line) in lines {
            let json = serde_json::to_string(line)
                .map_err(|e| RegistryError::corrupt("entry", e.to_string()))?;
            text.push_str(&json);
            text.push('\n');
        }
        self.write(&plugin_path(id), text.as_bytes())
    }

    fn write_json(&self, path: &str, envelope: &Envelope) -> Result<(), RegistryError> {
        let bytes = serde_json::to_vec_pretty(envelope)
            .map_err(|e| RegistryError::corrupt(path, e.to_string()))?;
        self.write(path, &bytes)
    }

    /// Replaces `path` in the index with `bytes` atomically.
    fn write(&self, path: &str, bytes: &[u8]) -> Result<(), RegistryError> {
        let full = self.dir.join(path);
        let (Some(parent), Some(name)) = (full.parent(), full.file_name()) else {
            return Err(RegistryError::corrupt(path, "not a file's path"));
        };
        std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        // A leading dot: never taken for a plugin's file (ids cannot start with one).
        let temporary = parent.join(format!(".{}.partial", name.to_string_lossy()));
        // Durable before it is named: a crash leaves the old file or the new one.
        let mut file = std::fs::File::create(&temporary).map_err(|e| io(&temporary, e))?;
        std::io::Write::write_all(&mut file, bytes).map_err(|e| io(&temporary, e))?;
        file.sync_all().map_err(|e| io(&temporary, e))?;
        std::fs::rename(&temporary, &full).map_err(|e| io(&full, e))?;
        // The rename itself is durable once the folder is (Unix; elsewhere a no-op).
        if let Ok(folder) = std::fs::File::open(parent) {
            let _ = folder.sync_all();
        }
        Ok(())
    }
}

/// Refuses `key` signing for `publisher`'s plugin `id` unless the root delegates it: hosts
/// would refuse the line, so say so before anything is written.
fn delegated(root: &Root, publisher: &str, id: &str, key: &SecretKey) -> Result<(), RegistryError> {
    let allowed = root
        .publishers
        .get(publisher)
        .filter(|p| p.may_publish(id))
        .filter(|p| p.signers.keys.contains(&key.public().id()) && p.signers.threshold <= 1);
    if allowed.is_some() {
        return Ok(());
    }
    Err(RegistryError::Signature {
        document: id.to_owned(),
        reason: format!(
            "the root does not let key {} of publisher `{publisher}` alone sign `{id}`",
            key.public().id()
        ),
    })
}

fn io(path: &Path, source: std::io::Error) -> RegistryError {
    RegistryError::Io {
        path: path.display().to_string(),
        source,
    }
}
