//! The documents of an index, and where each lives in it.
//!
//! ```text
//! root/1.json, root/2.json, …   the root of trust, every version kept (rotation)
//! timestamp.json                 the current snapshot's version and hash; expires soon
//! snapshots/N.json               every plugin file's version, hash and length
//! plugins/ID/N                   plugin ID's file, version N: a header its publisher
//!                                signs, then one line per version of the plugin
//! packages/ID/VERSION/FILE       the packages themselves
//! ```
//!
//! Only `timestamp.json` changes in place. Every other file is written once under a new
//! name (TUF's consistent snapshots), so a host reading during a publication still finds
//! every file the timestamp it read leads to.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tonearm_plugin_api::{Capabilities, PluginKind};

use crate::RegistryError;
use crate::keys::{KeyId, PublicKey};

/// Which keys sign one role's documents, and how many must.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleKeys {
    /// The keys.
    pub keys: Vec<KeyId>,
    /// How many distinct ones must sign.
    pub threshold: u32,
}

/// A publisher the root delegates plugins to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publisher {
    /// The keys that sign its plugins' versions, and how many must.
    #[serde(flatten)]
    pub signers: RoleKeys,
    /// The plugin ids it may publish: exact ids, or a prefix ending in `*`.
    pub plugins: Vec<String>,
}

impl Publisher {
    /// Whether it may publish plugin `id`.
    pub fn may_publish(&self, id: &str) -> bool {
        self.plugins.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => id.starts_with(prefix),
            None => p == id,
        })
    }
}

/// The root of trust: every key, who signs what, and which publishers may publish
/// which plugins. A new version must be signed by the old root's keys and its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Root {
    /// Starts at 1, one more at each rotation.
    pub version: u64,
    /// When it stops being trusted, in seconds since the Unix epoch.
    pub expires: i64,
    /// Every key of the index, by id.
    pub keys: BTreeMap<KeyId, PublicKey>,
    /// Who signs the next root.
    pub root: RoleKeys,
    /// Who signs snapshots.
    pub snapshot: RoleKeys,
    /// Who signs timestamps.
    pub timestamp: RoleKeys,
    /// The publishers, by name.
    pub publishers: BTreeMap<String, Publisher>,
}

/// A file's length and SHA-256 (hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMeta {
    /// Its length in bytes.
    pub length: u64,
    /// Its SHA-256, hex.
    pub sha256: String,
}

impl FileMeta {
    /// The length and hash of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self {
            length: bytes.len() as u64,
            sha256: sha256_hex(bytes),
        }
    }

    /// Whether `bytes` are the file this describes; `Err` says how they differ.
    pub fn check(&self, file: &str, bytes: &[u8]) -> Result<(), RegistryError> {
        let mismatch = |reason: String| RegistryError::Mismatch {
            file: file.to_owned(),
            reason,
        };
        if bytes.len() as u64 != self.length {
            return Err(mismatch(format!(
                "{} bytes where {} were signed for",
                bytes.len(),
                self.length
            )));
        }
        let sha256 = sha256_hex(bytes);
        if sha256 != self.sha256 {
            return Err(mismatch(format!(
                "SHA-256 {sha256} where {} was signed for",
                self.sha256
            )));
        }
        Ok(())
    }
}

/// The hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The current snapshot, as the timestamp names it. It expires soonest, so a mirror that
/// stops updating (a freeze) is noticed within its lifetime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timestamp {
    /// One more at every signing.
    pub version: u64,
    /// When it stops being trusted, in seconds since the Unix epoch.
    pub expires: i64,
    /// The snapshot's version.
    pub snapshot_version: u64,
    /// The snapshot file's length and hash.
    pub snapshot: FileMeta,
}

/// A plugin file's version, length and hash, as the snapshot names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginMeta {
    /// The file's version: one more at every change; hosts never let it go down.
    pub version: u64,
    /// Its length and hash.
    #[serde(flatten)]
    pub file: FileMeta,
}

/// Every plugin file of the index at one moment, so files of different moments cannot be
/// mixed, nor an older one served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// One more at every publication.
    pub version: u64,
    /// When it stops being trusted, in seconds since the Unix epoch.
    pub expires: i64,
    /// The root version it was made under.
    pub root_version: u64,
    /// Each plugin file's version, length and hash, by plugin id.
    pub plugins: BTreeMap<String, PluginMeta>,
}

/// One version of a plugin: one line of its file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The plugin id.
    pub id: String,
    /// The plugin's version.
    pub version: semver::Version,
    /// Its kind.
    pub kind: PluginKind,
    /// The plugin API version it was built against.
    pub api: semver::Version,
    /// What it runs on: `wasm32-wasip2` for a component, else a native target triple.
    pub target: String,
    /// The package's path in the index (`packages/ID/VERSION/FILE`).
    pub file: String,
    /// The package's length and hash.
    pub package: FileMeta,
    /// What it asks of the host.
    pub capabilities: Capabilities,
    /// Withdrawn: never chosen by a version range, only by an exact pin.
    #[serde(default)]
    pub yanked: bool,
}

/// The target of a sandboxed plugin.
pub const COMPONENT_TARGET: &str = "wasm32-wasip2";

impl Entry {
    /// Whether it is a sandboxed component (else a native library, which runs
    /// unsandboxed).
    pub fn is_component(&self) -> bool {
        self.target == COMPONENT_TARGET
    }
}

/// `version` without its build metadata, which does not make another version.
pub(crate) fn without_build(version: &semver::Version) -> semver::Version {
    semver::Version {
        build: semver::BuildMetadata::EMPTY,
        ..version.clone()
    }
}

/// Refuses a package file name that is not ASCII letters, digits, `-`, `_` and `.` (not
/// first): it names a file in the index.
pub fn check_file_name(name: &str) -> Result<(), RegistryError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(RegistryError::corrupt(
            "entry",
            format!(
                "{name:?} is not a package file name: letters, digits, `-`, `_` and `.`, not first"
            ),
        ))
    }
}

/// Refuses a package whose file name says another form than its target: hosts load a
/// `.wasm` file as a sandboxed component and anything else as a native library, so a
/// component's name ends in `.wasm` and a native library's does not.
pub fn check_form(target: &str, name: &str) -> Result<(), RegistryError> {
    let wasm = name.ends_with(".wasm");
    if wasm == (target == COMPONENT_TARGET) {
        Ok(())
    } else {
        Err(RegistryError::corrupt(
            "entry",
            format!("{name:?} is not named as a package for {target} is"),
        ))
    }
}

/// Refuses a plugin id that is not lowercase ASCII letters, digits, `-`, `_` and `.`
/// (not first): ids name files in the index.
pub fn check_id(id: &str) -> Result<(), RegistryError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(RegistryError::BadId(id.to_owned()))
    }
}

/// Where root version `version` lives.
pub fn root_path(version: u64) -> String {
    format!("root/{version}.json")
}

/// Where the timestamp lives.
pub const TIMESTAMP_PATH: &str = "timestamp.json";

/// Where snapshot `version` lives.
pub fn snapshot_path(version: u64) -> String {
    format!("snapshots/{version}.json")
}

/// Where version `version` of plugin `id`'s file lives.
pub fn plugin_path(id: &str, version: u64) -> String {
    format!("plugins/{id}/{version}")
}

/// The header of a plugin's file: its publisher signs the whole file through it, so the
/// versions it lists can only be served together, and only as new as hosts have seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginHeader {
    /// The plugin.
    pub id: String,
    /// The file's version, as the snapshot names it.
    pub version: u64,
    /// The publisher whose keys sign it.
    pub publisher: String,
    /// The SHA-256 (hex) of the lines after the header.
    pub lines_sha256: String,
}

/// A plugin's file: its versions, one per line, under a header its publisher signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginFile {
    /// The plugin.
    pub id: String,
    /// The file's version.
    pub version: u64,
    /// Its publisher.
    pub publisher: String,
    /// Its versions.
    pub entries: Vec<Entry>,
}

impl PluginFile {
    /// The file's text, signed by `keys` (the publisher's).
    pub fn to_text(&self, keys: &[&crate::SecretKey]) -> Result<String, RegistryError> {
        let mut lines = String::new();
        for entry in &self.entries {
            let line = serde_json::to_string(entry)
                .map_err(|e| RegistryError::corrupt("entry", e.to_string()))?;
            lines.push_str(&line);
            lines.push('\n');
        }
        let header = PluginHeader {
            id: self.id.clone(),
            version: self.version,
            publisher: self.publisher.clone(),
            lines_sha256: sha256_hex(lines.as_bytes()),
        };
        let header = crate::Envelope::sign("plugin", &header, keys)?;
        let header = serde_json::to_string(&header)
            .map_err(|e| RegistryError::corrupt("plugin", e.to_string()))?;
        Ok(format!("{header}\n{lines}"))
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_package_is_named_for_the_form_its_target_is() {
        assert!(check_form(COMPONENT_TARGET, "x.wasm").is_ok());
        assert!(check_form("x86_64-unknown-linux-gnu", "libx.so").is_ok());
        assert!(check_form(COMPONENT_TARGET, "libx.so").is_err());
        assert!(check_form("x86_64-unknown-linux-gnu", "x.wasm").is_err());
    }

    use super::*;

    #[test]
    fn ids_that_would_leave_the_index_are_refused() {
        for good in ["musicbrainz", "my-flac_decoder.v2", "a1"] {
            assert!(check_id(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "../x",
            "a/b",
            ".hidden",
            "Upper",
            "sp ace",
            &"x".repeat(65),
        ] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn publishers_are_held_to_their_plugins() {
        let publisher = Publisher {
            signers: RoleKeys {
                keys: vec![],
                threshold: 1,
            },
            plugins: vec!["acme-*".into(), "flac".into()],
        };
        assert!(publisher.may_publish("acme-drive"));
        assert!(publisher.may_publish("flac"));
        assert!(!publisher.may_publish("flac2"));
        assert!(!publisher.may_publish("musicbrainz"));
    }
}
