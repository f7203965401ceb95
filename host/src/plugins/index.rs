//! An index as a host reads it: verified from its root of trust down, then searched.

use semver::VersionReq;
use tonearm_registry::{Entry, Index, IndexSource, RegistryError};

use super::{PluginsError, host_profile};

/// An index verified just now, from its root of trust down.
pub struct OpenIndex {
    pub(super) index: Index,
    pub(super) source: Box<dyn IndexSource + Send + Sync>,
    pub(super) from: String,
    /// The index's identity: the start of its first root's SHA-256.
    pub(super) root_id: String,
}

impl std::fmt::Debug for OpenIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenIndex")
            .field("from", &self.from)
            .field("version", &self.index.version())
            .finish_non_exhaustive()
    }
}

impl OpenIndex {
    /// Where it was read from.
    pub fn from(&self) -> &str {
        &self.from
    }

    /// Which index it is, wherever it was read from: the start of its first root's
    /// SHA-256.
    pub fn root_id(&self) -> &str {
        &self.root_id
    }

    /// The newest version this host can run of each plugin whose id contains `text`
    /// (every plugin for an empty text), by id.
    pub fn search(&self, text: &str) -> Result<Vec<Entry>, PluginsError> {
        let text = text.to_ascii_lowercase();
        let profile = host_profile();
        let mut found = Vec::new();
        for id in self.index.plugins().filter(|id| id.contains(&text)) {
            match self
                .index
                .resolve(&*self.source, id, &VersionReq::STAR, &profile)
            {
                Ok(entry) => found.push(entry),
                // Listed, but nothing this host runs: not a result.
                Err(RegistryError::NoMatch { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(found)
    }

    /// Every version of plugin `id`, as its publisher signed them.
    pub fn versions(&self, id: &str) -> Result<Vec<Entry>, PluginsError> {
        Ok(self.index.versions(&*self.source, id)?)
    }

    /// The newest version of `id` that `requirement` accepts and this host runs.
    pub fn resolve(&self, id: &str, requirement: &VersionReq) -> Result<Entry, PluginsError> {
        Ok(self
            .index
            .resolve(&*self.source, id, requirement, &host_profile())?)
    }
}
