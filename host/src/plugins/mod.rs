//! Plugins from an index: found, installed, updated and removed, each package checked
//! against the index's signatures before a byte of it is written or a library is opened.
//!
//! Everything here blocks (it reads files and, through the host's HTTP client, the
//! network): call it on a blocking thread, not inside an async task.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use semver::VersionReq;
use tonearm_loader::{LoadError, PluginFiles};
use tonearm_plugin_api::{HttpClient, api_version};
use tonearm_registry::{
    COMPONENT_TARGET, Entry, Envelope, FileMeta, FolderIndex, HostProfile, HttpIndex, IndexSource,
    Installation, Installed, RegistryError, TrustState, added_capabilities,
};

use crate::config::IndexConfig;

mod check;
mod index;

use check::{STAGING, check_manifests, ensure_dir, forget_stale_staging};
pub use index::OpenIndex;

/// Why a plugin could not be found, installed or removed.
#[derive(Debug, thiserror::Error)]
pub enum PluginsError {
    /// The index, a file of it or a package was refused, or an install failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The package would not load, or is not what the index says it is.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// No index is configured.
    #[error(
        "no plugin index is configured: set `index` (its url and root) in the config file, or pass --index and --index-root"
    )]
    NoIndex,
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A native library offered without a signature: it would run unsandboxed.
    #[error(
        "{0} is a native library, which runs unsandboxed: install it from an index that signs it, or load it for one run with --plugin"
    )]
    NativeUnsigned(PathBuf),
    /// A component offered without a signature, and the user did not allow that.
    #[error("{0} is not signed by any index: pass --allow-unsigned to install it anyway")]
    Unsigned(PathBuf),
    /// A package that does not hold exactly what its index entry says.
    #[error("the package of `{id}` {version} is not what the index says: {reason}")]
    NotAsListed {
        /// The plugin.
        id: String,
        /// The version.
        version: String,
        /// What differs.
        reason: String,
    },
    /// The plan asks for more than the installed version, and the user did not consent.
    #[error("`{id}` asks for more than before ({}): it needs your consent", .added.join("; "))]
    NeedsConsent {
        /// The plugin.
        id: String,
        /// What it asks for that it did not.
        added: Vec<String>,
    },
}

/// What this host runs: its plugin API, components, and native libraries of its target.
pub fn host_profile() -> HostProfile {
    HostProfile {
        api: api_version(),
        targets: vec![
            COMPONENT_TARGET.to_owned(),
            tonearm_loader::native::TARGET.to_owned(),
        ],
    }
}

/// An install or update about to happen: what it installs, over what, and what it asks
/// for that the installed version did not (the user consents to that first).
#[derive(Debug, Clone)]
pub struct Plan {
    /// The version to install.
    pub entry: Entry,
    /// The version installed now, if any.
    pub current: Option<Installation>,
    /// What it asks of the host that the installed version did not.
    pub added: Vec<String>,
}

/// An install of a component file no index signed, about to happen.
#[derive(Debug, Clone)]
pub struct FilePlan {
    /// What it installs, over what, asking for what more.
    pub plan: Plan,
    /// The component.
    pub package: Vec<u8>,
    /// Where it was read from.
    pub path: PathBuf,
}

/// The plugins a native host installs: a folder of installed plugins and the trust it
/// keeps in each index.
#[derive(Debug, Clone)]
pub struct Plugins {
    installed: Installed,
    state_dir: PathBuf,
}

impl Plugins {
    /// Plugins installed in `installed_dir`; what the host trusts of each index kept in
    /// `state_dir`.
    pub fn new(installed_dir: impl Into<PathBuf>, state_dir: impl Into<PathBuf>) -> Self {
        Self {
            installed: Installed::new(installed_dir),
            state_dir: state_dir.into(),
        }
    }

    /// The installed plugins.
    pub fn installed(&self) -> &Installed {
        &self.installed
    }

    /// Reads `config`'s index, through `http` for an address, and checks it from the
    /// trust kept since the last read (or its configured root, the first time), at `now`
    /// (seconds since the Unix epoch). The trust kept moves forward only once the whole
    /// index checked out.
    pub fn open_index(
        &self,
        config: &IndexConfig,
        http: Option<Arc<dyn HttpClient>>,
        now: i64,
    ) -> Result<OpenIndex, PluginsError> {
        let source: Box<dyn IndexSource + Send + Sync> =
            if config.url.starts_with("https://") || config.url.starts_with("http://") {
                let http = http.ok_or_else(|| RegistryError::Fetch {
                    path: config.url.clone(),
                    reason: "this host has no network".into(),
                })?;
                Box::new(HttpIndex::new(&config.url, http)?)
            } else {
                Box::new(FolderIndex::new(&config.url))
            };
        let root = std::fs::read(&config.root).map_err(|source| PluginsError::Io {
            path: config.root.clone(),
            source,
        })?;
        // The index is known by its first root, wherever it is served from: moving to a
        // mirror keeps the versions already seen.
        let root_id = FileMeta::of(&root).sha256[..16].to_owned();
        let state_path = self.state_dir.join(format!("trust-{root_id}.json"));
        let mut trust = match TrustState::load(&state_path)? {
            Some(trust) => trust,
            None => TrustState::new(Envelope::parse("root", &root)?)?,
        };
        let index = trust.refresh(&*source, now)?;
        trust.save(&state_path)?;
        Ok(OpenIndex {
            index,
            source,
            from: config.url.clone(),
            root_id,
        })
    }

    /// What installing `id` (the newest version `requirement` accepts) would do; `None`
    /// when that version is installed already.
    pub fn plan(
        &self,
        index: &OpenIndex,
        id: &str,
        requirement: &VersionReq,
    ) -> Result<Option<Plan>, PluginsError> {
        let entry = index.resolve(id, requirement)?;
        let current = self.installed.get(id)?;
        if current.as_ref().is_some_and(|c| c.entry == entry) {
            return Ok(None);
        }
        let mut plan = self.plan_for(entry, current);
        if let Some(current) = &plan.current
            && current.index_root.as_deref() != Some(index.root_id())
        {
            // Another index, another publisher: the user says so.
            plan.added.insert(
                0,
                format!("replacing the copy installed from {}", current.from),
            );
        }
        Ok(Some(plan))
    }

    fn plan_for(&self, entry: Entry, current: Option<Installation>) -> Plan {
        let before = current
            .as_ref()
            .map(|c| c.entry.capabilities.clone())
            .unwrap_or_default();
        let mut added = added_capabilities(&before, &entry.capabilities);
        if !entry.is_component() && current.as_ref().is_none_or(|c| c.entry.is_component()) {
            added.insert(0, "running as native code, outside the sandbox".to_owned());
        }
        Plan {
            added,
            entry,
            current,
        }
    }

    /// Carries out `plan`: fetches the package, checks it against the signed entry, checks
    /// that the plugin in it is the one listed (id, version, kind, API, capabilities:
    /// the host grants what the manifest asks, so the index cannot under-state it), then
    /// installs it in place of the installed version. `consent`: the user agreed to
    /// `plan.added`.
    pub fn apply(
        &self,
        files: &PluginFiles,
        index: &OpenIndex,
        plan: &Plan,
        consent: bool,
    ) -> Result<Installation, PluginsError> {
        let entry = &plan.entry;
        if !plan.added.is_empty() && !consent {
            return Err(PluginsError::NeedsConsent {
                id: entry.id.clone(),
                added: plan.added.clone(),
            });
        }
        let _span =
            tracing::info_span!("install", plugin = %entry.id, version = %entry.version).entered();
        let package = index.index.package(&*index.source, entry)?;
        let installation = Installation {
            entry: entry.clone(),
            from: index.from.clone(),
            index_root: Some(index.root_id.clone()),
            signed: true,
            pinned: plan.current.as_ref().is_some_and(|c| c.pinned),
        };
        self.check_loads(files, &installation, &package)?;
        self.installed.install(&installation, &package)?;
        Ok(installation)
    }

    /// What installing the component at `path`, which no index signed, would do, if
    /// `allow_unsigned`. Native libraries are refused: they run unsandboxed, so only a
    /// signature lets them in.
    pub fn plan_file(
        &self,
        files: &PluginFiles,
        path: &Path,
        allow_unsigned: bool,
    ) -> Result<FilePlan, PluginsError> {
        if path.extension().is_none_or(|e| e != "wasm") {
            return Err(PluginsError::NativeUnsigned(path.to_owned()));
        }
        if !allow_unsigned {
            return Err(PluginsError::Unsigned(path.to_owned()));
        }
        let package = std::fs::read(path).map_err(|source| PluginsError::Io {
            path: path.to_owned(),
            source,
        })?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| RegistryError::BadId(path.display().to_string()))?;
        tonearm_registry::check_file_name(name)?;
        // The manifest of the very bytes that will be installed, not a second read of a
        // file that may have changed since.
        let mut loaded = self.read_staged(files, name, &package)?;
        let (Some(plugin), None) = (loaded.pop(), loaded.pop()) else {
            return Err(RegistryError::Corrupt {
                document: path.display().to_string(),
                reason: "install one plugin per file".into(),
            }
            .into());
        };
        let m = &plugin.manifest;
        let entry = Entry {
            id: m.id.clone(),
            version: m.version.clone(),
            kind: m.kind,
            api: m.api_version.clone(),
            target: COMPONENT_TARGET.to_owned(),
            file: format!("packages/{}/{}/{name}", m.id, m.version),
            package: FileMeta::of(&package),
            capabilities: m.capabilities.clone(),
            yanked: false,
        };
        Ok(FilePlan {
            plan: self.plan_for(entry, self.installed.get(&m.id)?),
            package,
            path: path.to_owned(),
        })
    }

    /// Installs the planned component file. `consent`: the user agreed to `plan.added`.
    pub fn apply_file(&self, file: &FilePlan, consent: bool) -> Result<Installation, PluginsError> {
        let plan = &file.plan;
        if !plan.added.is_empty() && !consent {
            return Err(PluginsError::NeedsConsent {
                id: plan.entry.id.clone(),
                added: plan.added.clone(),
            });
        }
        let installation = Installation {
            entry: plan.entry.clone(),
            from: file.path.display().to_string(),
            index_root: None,
            signed: false,
            pinned: false,
        };
        self.installed.install(&installation, &file.package)?;
        Ok(installation)
    }

    /// Loads `package` from a staging file (after its hash was checked) and compares the
    /// plugin in it with its entry.
    fn check_loads(
        &self,
        files: &PluginFiles,
        installation: &Installation,
        package: &[u8],
    ) -> Result<(), PluginsError> {
        let loaded = self.read_staged(files, installation.file_name(), package)?;
        check_manifests(&installation.entry, &loaded)
    }

    /// Reads the plugins in `package`, written to a staging folder as `name`.
    fn read_staged(
        &self,
        files: &PluginFiles,
        name: &str,
        package: &[u8],
    ) -> Result<Vec<tonearm_loader::LoadedPlugin>, PluginsError> {
        let dir = ensure_dir(self.installed.dir())?;
        forget_stale_staging(dir);
        let staging = tempfile::Builder::new()
            .prefix(STAGING)
            .tempdir_in(dir)
            .map_err(|source| PluginsError::Io {
                path: dir.to_owned(),
                source,
            })?;
        let path = staging.path().join(name);
        std::fs::write(&path, package).map_err(|source| PluginsError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(files.read(&path)?)
    }

    /// Loads the installed plugin `installation` from `path` into `registry`, replacing a
    /// shipped copy of an older version, once its manifest is checked against the record:
    /// what was consented to is what runs.
    pub fn load(
        &self,
        files: &PluginFiles,
        registry: &crate::Registry,
        installation: &Installation,
        path: &Path,
    ) -> Result<Vec<crate::registry::PluginInfo>, PluginsError> {
        let loaded = files.read(path)?;
        check_manifests(&installation.entry, &loaded)?;
        Ok(registry
            .register_all_over_builtins(loaded)
            .map_err(LoadError::from)?)
    }
}
