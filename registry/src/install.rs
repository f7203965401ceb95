//! Plugins installed from an index (or, for components, from a file), kept in a folder
//! so that switching versions is one rename: a killed install leaves the old version.
//!
//! ```text
//! DIR/ID/installed.json      which version is active, from where, pinned or not
//! DIR/ID/VERSION/FILE        the package, checked against its signed hash
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tonearm_plugin_api::Capabilities;

use crate::RegistryError;
use crate::fs::{io, sync_dir, write_atomic};
use crate::metadata::{Entry, check_file_name, check_form, check_id};

/// The file in each plugin's folder that names its active version.
const RECORD: &str = "installed.json";

/// One installed plugin: the index entry it was installed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installation {
    /// What the index said about it (for a file, what its manifest says).
    pub entry: Entry,
    /// Where it came from: the index's address, or the file's path.
    pub from: String,
    /// Which index signed it (the start of its first root's SHA-256): updates come only
    /// from that one.
    #[serde(default)]
    pub index_root: Option<String>,
    /// Whether a publisher the index's root trusts signed it; unsigned ones are
    /// components installed from a file.
    pub signed: bool,
    /// Held at this version: `update` passes it over.
    #[serde(default)]
    pub pinned: bool,
}

impl Installation {
    /// The package's file name.
    pub fn file_name(&self) -> &str {
        self.entry
            .file
            .rsplit_once('/')
            .map_or(self.entry.file.as_str(), |(_, name)| name)
    }
}

/// The folder of installed plugins.
#[derive(Debug, Clone)]
pub struct Installed {
    dir: PathBuf,
}

impl Installed {
    /// The installed plugins in `dir` (created on first install).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every installed plugin, by id, with its package's path. A plugin whose record
    /// cannot be read is returned as its error, so one broken install hides no other.
    pub fn list(&self) -> Vec<Result<(Installation, PathBuf), RegistryError>> {
        let Ok(folders) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut ids: Vec<String> = folders
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| check_id(name).is_ok())
            .collect();
        ids.sort();
        ids.into_iter()
            .filter_map(|id| self.get(&id).transpose())
            .map(|found| {
                found.map(|installation| {
                    let path = self.package_path(&installation);
                    (installation, path)
                })
            })
            .collect()
    }

    /// Plugin `id`'s installation, if it is installed.
    pub fn get(&self, id: &str) -> Result<Option<Installation>, RegistryError> {
        check_id(id)?;
        let path = self.dir.join(id).join(RECORD);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path, e)),
        };
        let installation: Installation = serde_json::from_slice(&bytes)
            .map_err(|e| RegistryError::corrupt(&path.display().to_string(), e.to_string()))?;
        // The record names files under the plugin's own folder, nowhere else.
        let name = installation.file_name();
        let form = check_form(&installation.entry.target, name);
        if installation.entry.id != id || check_file_name(name).is_err() || form.is_err() {
            return Err(RegistryError::corrupt(
                &path.display().to_string(),
                format!("it describes `{}`", installation.entry.id),
            ));
        }
        Ok(Some(installation))
    }

    /// Where `installation`'s package lies.
    pub fn package_path(&self, installation: &Installation) -> PathBuf {
        self.version_dir(installation)
            .join(installation.file_name())
    }

    fn version_dir(&self, installation: &Installation) -> PathBuf {
        let entry = &installation.entry;
        self.dir.join(&entry.id).join(entry.version.to_string())
    }

    /// Installs `package` as `installation`, replacing the installed version (if any)
    /// only once the new one is whole on disk. `package` is checked against the entry's
    /// signed length and hash first: nothing unchecked is written.
    pub fn install(
        &self,
        installation: &Installation,
        package: &[u8],
    ) -> Result<PathBuf, RegistryError> {
        let entry = &installation.entry;
        check_id(&entry.id)?;
        check_file_name(installation.file_name())?;
        check_form(&entry.target, installation.file_name())?;
        entry.package.check(&entry.file, package)?;
        let _span =
            tracing::info_span!("install", plugin = %entry.id, version = %entry.version).entered();
        let _lock = self.lock(&entry.id)?;
        let path = self.package_path(installation);
        // The package first, then the record naming it: a crash between the two leaves
        // the old record, and so the old version, active.
        write_atomic(&path, package)?;
        let record = serde_json::to_vec_pretty(installation)
            .map_err(|e| RegistryError::corrupt("installation", e.to_string()))?;
        write_atomic(&self.dir.join(&entry.id).join(RECORD), &record)?;
        self.prune(installation);
        Ok(path)
    }

    /// Holds plugin `id` at its installed version, or lets it update again.
    pub fn set_pinned(&self, id: &str, pinned: bool) -> Result<Installation, RegistryError> {
        check_id(id)?;
        let _lock = self.lock(id)?;
        let mut installation = self
            .get(id)?
            .ok_or_else(|| RegistryError::NotInstalled(id.to_owned()))?;
        installation.pinned = pinned;
        let record = serde_json::to_vec_pretty(&installation)
            .map_err(|e| RegistryError::corrupt("installation", e.to_string()))?;
        write_atomic(&self.dir.join(id).join(RECORD), &record)?;
        Ok(installation)
    }

    /// Removes plugin `id`: its record first (from then on it is not installed), then
    /// its files.
    pub fn remove(&self, id: &str) -> Result<Installation, RegistryError> {
        check_id(id)?;
        let _lock = self.lock(id)?;
        let installation = self
            .get(id)?
            .ok_or_else(|| RegistryError::NotInstalled(id.to_owned()))?;
        let folder = self.dir.join(id);
        let record = folder.join(RECORD);
        std::fs::remove_file(&record).map_err(|e| io(&record, e))?;
        sync_dir(&folder);
        std::fs::remove_dir_all(&folder).map_err(|e| io(&folder, e))?;
        Ok(installation)
    }

    /// Holds plugin `id`'s folder for one change: two processes installing, pinning or
    /// removing it at once take turns, so one's prune never deletes what the other's
    /// record names. Released when the returned file is dropped.
    fn lock(&self, id: &str) -> Result<std::fs::File, RegistryError> {
        let folder = self.dir.join(id);
        std::fs::create_dir_all(&folder).map_err(|e| io(&folder, e))?;
        let path = folder.join(".lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        file.lock().map_err(|e| io(&path, e))?;
        Ok(file)
    }

    /// Deletes the versions of `installation`'s plugin other than it: older installs
    /// and what a killed one left. Failing to is harmless (they are never loaded).
    fn prune(&self, installation: &Installation) {
        let keep = self.version_dir(installation);
        let Ok(entries) = std::fs::read_dir(self.dir.join(&installation.entry.id)) else {
            return;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path != keep
                && path.is_dir()
                && let Err(e) = std::fs::remove_dir_all(&path)
            {
                tracing::warn!(path = %path.display(), error = %e, "cannot delete an old version");
            }
        }
    }
}

/// What `new` asks of the host that `old` did not, one line each: a user consents to
/// these before an update installs.
pub fn added_capabilities(old: &Capabilities, new: &Capabilities) -> Vec<String> {
    let mut added: Vec<String> = new
        .http_hosts
        .iter()
        .filter(|host| !old.http_hosts.contains(host))
        .map(|host| format!("HTTP requests to {host}"))
        .collect();
    if new.filesystem && !old.filesystem {
        added.push("reading files in folders you grant".into());
    }
    if new.state && !old.state {
        added.push("keeping state in the library".into());
    }
    match (&old.oauth, &new.oauth) {
        (_, None) => {}
        (None, Some(spec)) => {
            added.push(format!(
                "signing in at {}, tokens from {}",
                spec.authorize_url, spec.token_url
            ));
            added.extend(spec.scopes.iter().map(|s| format!("the sign-in scope {s}")));
            added.extend(
                spec.token_hosts
                    .iter()
                    .map(|h| format!("your sign-in token sent to {h}")),
            );
        }
        (Some(before), Some(after)) => {
            if before.authorize_url != after.authorize_url {
                added.push(format!(
                    "signing in at {} instead of {}",
                    after.authorize_url, before.authorize_url
                ));
            }
            if before.token_url != after.token_url {
                added.push(format!(
                    "tokens from {} instead of {}",
                    after.token_url, before.token_url
                ));
            }
            if before.authorize_params != after.authorize_params {
                let params: Vec<String> = after
                    .authorize_params
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                added.push(format!("sign-in parameters {}", params.join("&")));
            }
            for scope in after.scopes.iter().filter(|s| !before.scopes.contains(s)) {
                added.push(format!("the sign-in scope {scope}"));
            }
            for host in after
                .token_hosts
                .iter()
                .filter(|h| !before.token_hosts.contains(h))
            {
                added.push(format!("your sign-in token sent to {host}"));
            }
        }
    }
    added
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use tonearm_plugin_api::{OAuthSpec, PluginKind};

    use super::*;
    use crate::metadata::{COMPONENT_TARGET, FileMeta};

    fn installation(version: &str, package: &[u8]) -> Installation {
        Installation {
            entry: Entry {
                id: "acme-wav".into(),
                version: version.parse().unwrap(),
                kind: PluginKind::Decoder,
                api: semver::Version::new(0, 3, 0),
                target: COMPONENT_TARGET.into(),
                file: format!("packages/acme-wav/{version}/acme_wav.wasm"),
                package: FileMeta::of(package),
                capabilities: Capabilities::default(),
                yanked: false,
            },
            from: "http://127.0.0.1/index".into(),
            index_root: Some("0123456789abcdef".into()),
            signed: true,
            pinned: false,
        }
    }

    #[test]
    fn a_new_version_replaces_the_old_only_once_it_is_whole() {
        let dir = tempfile::tempdir().unwrap();
        let installed = Installed::new(dir.path());
        let one = installation("1.0.0", b"one");
        let path = installed.install(&one, b"one").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"one");

        // A killed install of 2.0.0: its package written, its record not.
        let two = installation("2.0.0", b"two");
        write_atomic(&installed.package_path(&two), b"two").unwrap();
        let listed = installed.list();
        assert_eq!(listed.len(), 1);
        let (active, path) = listed[0].as_ref().unwrap();
        assert_eq!(
            (active, std::fs::read(path).unwrap()),
            (&one, b"one".to_vec())
        );

        installed.install(&two, b"two").unwrap();
        assert_eq!(installed.get("acme-wav").unwrap(), Some(two.clone()));
        assert!(
            !dir.path().join("acme-wav/1.0.0").exists(),
            "the old version is deleted"
        );
    }

    #[test]
    fn installs_of_one_plugin_at_once_take_turns_and_leave_what_the_record_names() {
        let dir = tempfile::tempdir().unwrap();
        let threads: Vec<_> = (1..=4)
            .map(|n| {
                let dir = dir.path().to_owned();
                std::thread::spawn(move || {
                    let installed = Installed::new(&dir);
                    let package = format!("package {n}");
                    let one = installation(&format!("{n}.0.0"), package.as_bytes());
                    for _ in 0..10 {
                        installed.install(&one, package.as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let installed = Installed::new(dir.path());
        let listed = installed.list();
        let (active, path) = listed[0].as_ref().unwrap();
        let package = std::fs::read(path).unwrap();
        assert_eq!(
            FileMeta::of(&package),
            active.entry.package,
            "the record's file is there"
        );
    }

    #[test]
    fn a_package_that_is_not_the_signed_one_is_never_written() {
        let dir = tempfile::tempdir().unwrap();
        let installed = Installed::new(dir.path());
        let err = installed
            .install(&installation("1.0.0", b"signed"), b"tampered")
            .unwrap_err();
        assert!(matches!(err, RegistryError::Mismatch { .. }), "{err}");
        assert!(!dir.path().join("acme-wav").exists());
        assert!(installed.list().is_empty());
    }

    #[test]
    fn pins_hold_and_removal_forgets() {
        let dir = tempfile::tempdir().unwrap();
        let installed = Installed::new(dir.path());
        installed
            .install(&installation("1.0.0", b"one"), b"one")
            .unwrap();
        assert!(installed.set_pinned("acme-wav", true).unwrap().pinned);
        assert!(installed.get("acme-wav").unwrap().unwrap().pinned);
        installed.remove("acme-wav").unwrap();
        assert_eq!(installed.get("acme-wav").unwrap(), None);
        assert!(!dir.path().join("acme-wav").exists());
        assert!(matches!(
            installed.remove("acme-wav"),
            Err(RegistryError::NotInstalled(_))
        ));
    }

    #[test]
    fn a_record_naming_another_plugin_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let installed = Installed::new(dir.path());
        let mut other = installation("1.0.0", b"one");
        other.entry.id = "acme-other".into();
        let record = serde_json::to_vec(&other).unwrap();
        write_atomic(&dir.path().join("acme-wav").join(RECORD), &record).unwrap();
        assert!(installed.list()[0].is_err());
    }

    #[test]
    fn added_capabilities_are_listed_and_removed_ones_are_not() {
        let old = Capabilities {
            http_hosts: vec!["api.example.org".into()],
            filesystem: true,
            ..Capabilities::default()
        };
        let new = Capabilities {
            http_hosts: vec!["api.example.org".into(), "cdn.example.org".into()],
            state: true,
            oauth: Some(OAuthSpec {
                authorize_url: "https://auth.example.org/authorize".into(),
                token_url: "https://auth.example.org/token".into(),
                scopes: vec!["read".into()],
                authorize_params: Vec::new(),
                token_hosts: Vec::new(),
            }),
            ..Capabilities::default()
        };
        assert_eq!(
            added_capabilities(&old, &new),
            [
                "HTTP requests to cdn.example.org",
                "keeping state in the library",
                "signing in at https://auth.example.org/authorize, tokens from https://auth.example.org/token",
                "the sign-in scope read",
            ]
        );
        // Only the token endpoint moves: that, not the unchanged sign-in page, is shown.
        let mut moved = new.clone();
        if let Some(spec) = moved.oauth.as_mut() {
            spec.token_url = "https://evil.example.org/token".into();
        }
        assert_eq!(
            added_capabilities(&new, &moved),
            [
                "tokens from https://evil.example.org/token instead of https://auth.example.org/token"
            ]
        );
        assert_eq!(
            added_capabilities(&new, &old),
            ["reading files in folders you grant"]
        );
        assert!(added_capabilities(&new, &new).is_empty());
    }
}
