//! Tokens on disk: one JSON file readable by its owner only, outside the library
//! database (a library file gets copied, shared and backed up; tokens must not be).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};
pub use tonearm_core::auth::StoredTokens;

#[derive(Default, Serialize, Deserialize)]
struct TokenFile {
    version: u32,
    sources: BTreeMap<String, StoredTokens>,
}

/// Why the token file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenStoreError {
    /// Reading or writing failed.
    #[error("token store {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not ours or was damaged.
    #[error("token store {path} does not parse ({reason}); remove it and sign in again")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
}

/// The token file, read and rewritten whole under a lock (it holds a few sources).
#[derive(Debug)]
pub struct TokenStore {
    path: PathBuf,
    lock: Mutex<()>,
}

impl TokenStore {
    /// The store at `path` (created on first write).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            lock: Mutex::new(()),
        }
    }

    /// Its file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self) -> impl Fn(std::io::Error) -> TokenStoreError + '_ {
        |source| TokenStoreError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn read(&self) -> Result<TokenFile, TokenStoreError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(TokenFile::default()),
            Err(e) => return Err(self.io()(e)),
        };
        serde_json::from_str(&text).map_err(|e| TokenStoreError::Corrupt {
            path: self.path.clone(),
            reason: e.to_string(),
        })
    }

    /// Replaces the file atomically: a crash leaves the old tokens or the new, whole.
    fn write(&self, file: &TokenFile) -> Result<(), TokenStoreError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        create_private_dir(dir).map_err(self.io())?;
        let json = serde_json::to_vec_pretty(file).map_err(|e| TokenStoreError::Corrupt {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        let partial = self.path.with_extension("partial");
        let mut out = private_file(&partial).map_err(self.io())?;
        out.write_all(&json)
            .and_then(|()| out.sync_all())
            .map_err(self.io())?;
        std::fs::rename(&partial, &self.path).map_err(self.io())
    }

    /// The tokens of `source`, if it has any.
    pub fn get(&self, source: &str) -> Result<Option<StoredTokens>, TokenStoreError> {
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(self.read()?.sources.remove(source))
    }

    /// Saves the tokens of `source`, at once.
    pub fn put(&self, source: &str, tokens: &StoredTokens) -> Result<(), TokenStoreError> {
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let mut file = self.read()?;
        file.version = 1;
        file.sources.insert(source.to_owned(), tokens.clone());
        self.write(&file)
    }

    /// Forgets the tokens of `source`; returns whether there were any.
    pub fn remove(&self, source: &str) -> Result<bool, TokenStoreError> {
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let mut file = self.read()?;
        let had = file.sources.remove(source).is_some();
        if had {
            self.write(&file)?;
        }
        Ok(had)
    }
}

#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // `mode` applies only to new files; a leftover partial file may have other bits.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    // Other systems: the file inherits the user profile's ACLs.
    std::fs::File::create(path)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use oauth2::{AccessToken, RefreshToken};

    use super::*;

    fn tokens(access: &str) -> StoredTokens {
        StoredTokens {
            access_token: AccessToken::new(access.into()),
            refresh_token: Some(RefreshToken::new("r-secret".into())),
            expires_at: Some(1),
            client_id: "client".into(),
            client_secret: None,
            authorize_url: "http://127.0.0.1:1/authorize".into(),
            token_url: "http://127.0.0.1:1/token".into(),
            scopes: vec!["s".into()],
        }
    }

    #[test]
    fn tokens_round_trip_in_an_owner_only_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::new(dir.path().join("auth/tokens.json"));
        assert!(store.get("a").unwrap().is_none());
        store.put("a", &tokens("first")).unwrap();
        store.put("b", &tokens("second")).unwrap();
        assert_eq!(
            store.get("a").unwrap().unwrap().access_token.secret(),
            "first"
        );
        assert!(store.remove("a").unwrap());
        assert!(!store.remove("a").unwrap());
        assert_eq!(
            store.get("b").unwrap().unwrap().access_token.secret(),
            "second"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(store.path()), 0o600);
            assert_eq!(mode(&dir.path().join("auth")), 0o700);
        }
    }

    #[test]
    fn debug_output_has_no_secrets() {
        let shown = format!("{:?}", tokens("a-secret"));
        assert!(
            !shown.contains("a-secret") && !shown.contains("r-secret"),
            "{shown}"
        );
    }

    #[test]
    fn a_damaged_file_is_reported_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        std::fs::write(&path, "{not json").unwrap();
        let store = TokenStore::new(&path);
        assert!(matches!(
            store.get("a"),
            Err(TokenStoreError::Corrupt { .. })
        ));
        assert!(store.put("a", &tokens("x")).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{not json");
    }
}
