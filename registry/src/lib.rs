//! Tonearm's plugin index: static files any web server or folder can serve, signed so that
//! a host believes nothing a mirror or an attacker changed.
//!
//! The design is [TUF]'s, kept small. A root of trust, built into the host, names every
//! key and delegates plugin ids to publishers; a timestamp, which expires soon, names the
//! current snapshot; the snapshot names every plugin file's version and hash; a plugin's
//! file lists its versions under a header its publisher signs, each with its package's
//! hash. A host ([`TrustState::refresh`]) checks each file against the one above it,
//! refuses expired files and versions older than ones it has seen, and checks a package
//! against its signed hash before a byte of it is written ([`Index::package`]).
//! [`IndexWriter`] makes and updates an index in a folder. See `docs/registry.md`.
//!
//! [TUF]: https://theupdateframework.io/

mod client;
mod envelope;
mod fs;
mod http;
mod install;
mod keys;
mod metadata;
mod publish;

pub use client::{FolderIndex, HostProfile, Index, IndexSource, TrustState};
pub use envelope::{Envelope, KeySignature, Signers};
pub use http::HttpIndex;
pub use install::{Installation, Installed, added_capabilities};
pub use keys::{KeyId, PublicKey, SecretKey};
pub use metadata::{
    COMPONENT_TARGET, Entry, FileMeta, PluginFile, PluginHeader, PluginMeta, Publisher, RoleKeys,
    Root, Snapshot, TIMESTAMP_PATH, Timestamp, check_file_name, check_form, check_id, plugin_path,
    root_path, snapshot_path,
};
pub use publish::{IndexKeys, IndexWriter, Release};

/// Why an index, a file of it or a package was refused. Each names the file and the cause.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// A file the index needs is not there.
    #[error("the index has no {0}")]
    Missing(String),
    /// A file is longer than what signed for it says.
    #[error("{file} is longer than the {limit} bytes signed for")]
    TooLarge {
        /// The file.
        file: String,
        /// Its signed length.
        limit: u64,
    },
    /// A document is not what its kind must be.
    #[error("the index's {document} is malformed: {reason}")]
    Corrupt {
        /// The document.
        document: String,
        /// What is wrong.
        reason: String,
    },
    /// A document's signatures do not meet its threshold of trusted keys.
    #[error("the index's {document} is not signed by keys this host trusts: {reason}")]
    Signature {
        /// The document.
        document: String,
        /// What was found.
        reason: String,
    },
    /// A document expired: the index stopped being updated, or is replayed.
    #[error(
        "the index's {document} expired at {expires} (seconds since 1970); it may be frozen or replayed"
    )]
    Expired {
        /// The document.
        document: String,
        /// When.
        expires: i64,
    },
    /// A document is older than one this host already trusted.
    #[error(
        "the index's {document} is version {offered}, older than version {trusted} seen before: a rollback"
    )]
    Rollback {
        /// The document.
        document: String,
        /// The newest version seen.
        trusted: u64,
        /// The version offered now.
        offered: u64,
    },
    /// A file's bytes are not the ones signed for.
    #[error("{file} was changed: {reason}")]
    Mismatch {
        /// The file.
        file: String,
        /// How it differs.
        reason: String,
    },
    /// The index has no such plugin (or version).
    #[error("the index has no plugin {0}")]
    UnknownPlugin(String),
    /// No version matches the requirement and this host.
    #[error("no version of `{id}` matches {requirement} on this host{}", passed_over_text(.passed_over))]
    NoMatch {
        /// The plugin.
        id: String,
        /// The requirement.
        requirement: String,
        /// The versions that matched but could not be used, with why.
        passed_over: Vec<String>,
    },
    /// The version was published before; versions are never replaced.
    #[error("`{id}` {version} is already published; publish a new version")]
    AlreadyPublished {
        /// The plugin.
        id: String,
        /// The version.
        version: String,
    },
    /// An index could not be reached, or its server answered with an error.
    #[error("cannot read {path} from the index: {reason}")]
    Fetch {
        /// The address.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The plugin is not installed.
    #[error("plugin `{0}` is not installed (see `tonearm plugin list`)")]
    NotInstalled(String),
    /// A key is not one.
    #[error("not a usable key: {0}")]
    BadKey(String),
    /// A plugin id that cannot name a file in the index.
    #[error("`{0}` is not a plugin id: lowercase letters, digits, `-`, `_` and `.`, at most 64")]
    BadId(String),
}

fn passed_over_text(passed_over: &[String]) -> String {
    if passed_over.is_empty() {
        String::new()
    } else {
        format!(" (passed over: {})", passed_over.join("; "))
    }
}

impl RegistryError {
    pub(crate) fn corrupt(document: &str, reason: impl Into<String>) -> Self {
        Self::Corrupt {
            document: document.to_owned(),
            reason: reason.into(),
        }
    }
}
