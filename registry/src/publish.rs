//! Writing an index in a folder: creating it, publishing and yanking versions, rotating
//! its root. Snapshots and plugin files are written once under new names, durably, and
//! the timestamp that leads to them is replaced last: a host reading meanwhile finds
//! either the old index whole or the new one.
//!
//! The writer checks what it signs as hosts will, so a mistake (a key the root does not
//! name, a file name hosts refuse) fails here rather than on every host.

use std::collections::BTreeMap;
use std::path::PathBuf;

use tonearm_plugin_api::{Capabilities, PluginKind};

use crate::RegistryError;
use crate::client::{claimed_root, signers};
use crate::envelope::Envelope;
use crate::fs::io;
use crate::keys::SecretKey;
use crate::metadata::{
    Entry, FileMeta, PluginFile, PluginHeader, PluginMeta, Root, Snapshot, TIMESTAMP_PATH,
    Timestamp, check_file_name, check_id, plugin_path, root_path, snapshot_path, without_build,
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
        let signed = Envelope::sign("root", root, root_keys)?;
        let checked = claimed_root(&signed)?;
        let _: Root = signed.verify("root", signers(&checked, &checked.root))?;
        index_keys_named(&checked, keys)?;
        writer.write_json(&root_path(1), &signed)?;
        writer.sign_snapshot(None, BTreeMap::new(), keys, now)?;
        Ok(writer)
    }

    /// The index in `dir`, to change.
    pub fn open(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Replaces the root by `next` (one version more), signed by `keys`: enough of the
    /// current root's keys and of its own. Removing a publisher or a key revokes it.
    ///
    /// Hosts that take the new root check the current snapshot and timestamp, and each
    /// plugin's file, against it: after new snapshot or timestamp keys, [`resign`] with
    /// them; after a publisher's new key or a plugin given to another publisher,
    /// [`resign_plugin`].
    ///
    /// [`resign`]: Self::resign
    /// [`resign_plugin`]: Self::resign_plugin
    pub fn rotate_root(&self, next: &Root, keys: &[&SecretKey]) -> Result<(), RegistryError> {
        let current = self.latest_root()?;
        if next.version != current.version.saturating_add(1) {
            return Err(RegistryError::corrupt(
                "root",
                format!(
                    "the next root is version {}, not {}",
                    current.version.saturating_add(1),
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

    /// Publishes `package` (its file name `file_name`) as `release`, the plugin's file
    /// signed by the publisher's `publisher_key`, then re-signs the index. A version is
    /// published once.
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
        crate::metadata::check_form(&release.target, file_name)?;
        let root = self.latest_root()?;
        delegated(&root, &release.publisher, &release.id, publisher_key)?;
        index_keys_named(&root, keys)?;
        let timestamp = self.current_timestamp()?;
        let snapshot = self.current_snapshot(&timestamp)?;
        let mut file = self.plugin_file(&snapshot, &release.id)?;
        let same = without_build(&release.version);
        if file
            .entries
            .iter()
            .any(|e| without_build(&e.version) == same)
        {
            return Err(RegistryError::AlreadyPublished {
                id: release.id,
                version: release.version.to_string(),
            });
        }
        let entry = Entry {
            file: format!("packages/{}/{}/{file_name}", release.id, release.version),
            id: release.id,
            version: release.version,
            kind: release.kind,
            api: release.api,
            target: release.target,
            package: FileMeta::of(package),
            capabilities: release.capabilities,
            yanked: false,
        };
        self.write(&entry.file, package)?;
        file.entries.push(entry.clone());
        file.publisher = release.publisher;
        self.update(&root, &timestamp, snapshot, file, publisher_key, keys, now)?;
        Ok(entry)
    }

    /// Marks version `version` of `id` yanked (or not) in the plugin's file, signed by
    /// the publisher's `publisher_key`, then re-signs the index.
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
        index_keys_named(&root, keys)?;
        let timestamp = self.current_timestamp()?;
        let snapshot = self.current_snapshot(&timestamp)?;
        let mut file = self.plugin_file(&snapshot, id)?;
        delegated(&root, &file.publisher, id, publisher_key)?;
        let entry = file
            .entries
            .iter_mut()
            .find(|e| &e.version == version)
            .ok_or_else(|| RegistryError::UnknownPlugin(format!("{id} {version}")))?;
        entry.yanked = yanked;
        self.update(&root, &timestamp, snapshot, file, publisher_key, keys, now)
    }

    /// Signs plugin `id`'s file again with `publisher_key`, unchanged but for its version:
    /// after the root gave its publisher a new key, or gave the plugin to another one.
    pub fn resign_plugin(
        &self,
        id: &str,
        publisher: &str,
        publisher_key: &SecretKey,
        keys: IndexKeys<'_>,
        now: i64,
    ) -> Result<(), RegistryError> {
        check_id(id)?;
        let root = self.latest_root()?;
        delegated(&root, publisher, id, publisher_key)?;
        index_keys_named(&root, keys)?;
        let timestamp = self.current_timestamp()?;
        let snapshot = self.current_snapshot(&timestamp)?;
        let mut file = self.plugin_file(&snapshot, id)?;
        if file.version == 0 {
            return Err(RegistryError::UnknownPlugin(id.to_owned()));
        }
        file.publisher = publisher.to_owned();
        self.update(&root, &timestamp, snapshot, file, publisher_key, keys, now)
    }

    /// Signs a new snapshot of the same plugin files and a new timestamp naming it:
    /// regularly, before the timestamp expires.
    pub fn resign(&self, keys: IndexKeys<'_>, now: i64) -> Result<(), RegistryError> {
        index_keys_named(&self.latest_root()?, keys)?;
        let timestamp = self.current_timestamp()?;
        let plugins = self.current_snapshot(&timestamp)?.plugins;
        self.sign_snapshot(Some(&timestamp), plugins, keys, now)
    }

    /// Writes `file` as the plugin's next version, signed by `publisher_key` (checked as
    /// hosts will check it), then a snapshot and timestamp naming it.
    #[allow(clippy::too_many_arguments)] // One private step of four public operations.
    fn update(
        &self,
        root: &Root,
        timestamp: &Timestamp,
        snapshot: Snapshot,
        mut file: PluginFile,
        publisher_key: &SecretKey,
        keys: IndexKeys<'_>,
        now: i64,
    ) -> Result<(), RegistryError> {
        // A number a failed publication left on disk is skipped, never written over: a
        // plugin file, once signed, is never replaced by another of the same version.
        file.version = self.next_free(file.version, |v| plugin_path(&file.id, v));
        let text = file.to_text(&[publisher_key])?;
        let header = text.split_once('\n').map_or(text.as_str(), |(h, _)| h);
        let publisher = root.publishers.get(&file.publisher).ok_or_else(|| {
            RegistryError::corrupt("plugin", format!("no publisher `{}`", file.publisher))
        })?;
        let _: PluginHeader = Envelope::parse("plugin", header.as_bytes())?
            .verify("plugin", signers(root, &publisher.signers))?;
        self.write(&plugin_path(&file.id, file.version), text.as_bytes())?;
        let mut plugins = snapshot.plugins;
        plugins.insert(
            file.id.clone(),
            PluginMeta {
                version: file.version,
                file: FileMeta::of(text.as_bytes()),
            },
        );
        self.sign_snapshot(Some(timestamp), plugins, keys, now)
    }

    /// The first version after `current` with no file at `path(version)`.
    fn next_free(&self, current: u64, path: impl Fn(u64) -> String) -> u64 {
        let mut version = current.saturating_add(1);
        while self.dir.join(path(version)).exists() {
            version = version.saturating_add(1);
        }
        version
    }

    /// Writes a snapshot of `plugins` under its own name, then the timestamp naming it,
    /// each checked against the root's keys for its role before it is written.
    fn sign_snapshot(
        &self,
        current: Option<&Timestamp>,
        plugins: BTreeMap<String, PluginMeta>,
        keys: IndexKeys<'_>,
        now: i64,
    ) -> Result<(), RegistryError> {
        let root = self.latest_root()?;
        let snapshot = Snapshot {
            version: self.next_free(current.map_or(0, |t| t.snapshot_version), snapshot_path),
            expires: now.saturating_add(keys.snapshot_lifetime),
            root_version: root.version,
            plugins,
        };
        let signed = Envelope::sign("snapshot", &snapshot, &[keys.snapshot])?;
        // A key the root does not name for the role makes an index every host refuses.
        let _: Snapshot = signed.verify("snapshot", signers(&root, &root.snapshot))?;
        let bytes = serde_json::to_vec(&signed)
            .map_err(|e| RegistryError::corrupt("snapshot", e.to_string()))?;
        self.write(&snapshot_path(snapshot.version), &bytes)?;
        let timestamp = Timestamp {
            version: current.map_or(0, |t| t.version).saturating_add(1),
            expires: now.saturating_add(keys.timestamp_lifetime),
            snapshot_version: snapshot.version,
            snapshot: FileMeta::of(&bytes),
        };
        let signed = Envelope::sign("timestamp", &timestamp, &[keys.timestamp])?;
        let _: Timestamp = signed.verify("timestamp", signers(&root, &root.timestamp))?;
        self.write_json(TIMESTAMP_PATH, &signed)
    }

    /// The current timestamp (our own, so not verified). One that is missing or cannot
    /// be read is an error, not a fresh start: versions must only grow, or every host
    /// that saw a later one refuses the index as a rollback; and the index's other files
    /// are never written over.
    fn current_timestamp(&self) -> Result<Timestamp, RegistryError> {
        let full = self.dir.join(TIMESTAMP_PATH);
        let restore = |reason: String| {
            RegistryError::corrupt(
                "timestamp",
                format!("{reason}; restore it from a backup or a mirror (versions must only grow)"),
            )
        };
        let bytes = match std::fs::read(&full) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(restore(format!("{} is missing", full.display())));
            }
            Err(e) => return Err(io(&full, e)),
        };
        let envelope = Envelope::parse("timestamp", &bytes)?;
        serde_json::from_str(&envelope.signed).map_err(|e| restore(e.to_string()))
    }

    /// The snapshot `timestamp` names.
    fn current_snapshot(&self, timestamp: &Timestamp) -> Result<Snapshot, RegistryError> {
        let path = self.dir.join(snapshot_path(timestamp.snapshot_version));
        let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
        let envelope = Envelope::parse("snapshot", &bytes)?;
        serde_json::from_str(&envelope.signed)
            .map_err(|e| RegistryError::corrupt("snapshot", e.to_string()))
    }

    /// Plugin `id`'s file as `snapshot` names it (our own, so not verified); version 0
    /// and no entries for a new plugin.
    fn plugin_file(&self, snapshot: &Snapshot, id: &str) -> Result<PluginFile, RegistryError> {
        let Some(meta) = snapshot.plugins.get(id) else {
            return Ok(PluginFile {
                id: id.to_owned(),
                version: 0,
                publisher: String::new(),
                entries: Vec::new(),
            });
        };
        let path = self.dir.join(plugin_path(id, meta.version));
        let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
        let (header, lines) = text.split_once('\n').unwrap_or((&text, ""));
        let envelope = Envelope::parse("plugin", header.as_bytes())?;
        let header: PluginHeader = serde_json::from_str(&envelope.signed)
            .map_err(|e| RegistryError::corrupt("plugin", e.to_string()))?;
        let entries = lines
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                serde_json::from_str(line)
                    .map_err(|e| RegistryError::corrupt("entry", e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        Ok(PluginFile {
            id: id.to_owned(),
            version: meta.version,
            publisher: header.publisher,
            entries,
        })
    }

    /// The newest root in the folder (trusted: it is our own).
    pub fn latest_root(&self) -> Result<Root, RegistryError> {
        let mut version: u64 = 1;
        while self.dir.join(root_path(version + 1)).exists() {
            version += 1;
        }
        let path = self.dir.join(root_path(version));
        let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
        claimed_root(&Envelope::parse("root", &bytes)?)
    }

    fn write_json(&self, path: &str, envelope: &Envelope) -> Result<(), RegistryError> {
        let bytes = serde_json::to_vec_pretty(envelope)
            .map_err(|e| RegistryError::corrupt(path, e.to_string()))?;
        self.write(path, &bytes)
    }

    /// Replaces `path` in the index with `bytes` atomically and durably.
    fn write(&self, path: &str, bytes: &[u8]) -> Result<(), RegistryError> {
        crate::fs::write_atomic(&self.dir.join(path), bytes)
    }
}

/// Refuses `keys` for the snapshot and timestamp unless `root` names them for those
/// roles (alone): checked before anything is written.
fn index_keys_named(root: &Root, keys: IndexKeys<'_>) -> Result<(), RegistryError> {
    for (role, keys_of_role, key) in [
        ("snapshot", &root.snapshot, keys.snapshot),
        ("timestamp", &root.timestamp, keys.timestamp),
    ] {
        if !keys_of_role.keys.contains(&key.public().id()) || keys_of_role.threshold > 1 {
            return Err(RegistryError::Signature {
                document: role.to_owned(),
                reason: format!(
                    "root {} does not let key {} alone sign the {role}",
                    root.version,
                    key.public().id()
                ),
            });
        }
    }
    Ok(())
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
