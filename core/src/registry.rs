//! The plugins loaded right now: registered and unregistered at run time, decoders chosen
//! by probe score then rank, providers by id.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, PoisonError, RwLock};

use serde::Serialize;
use tonearm_plugin_api::{
    Decoder, PluginError, PluginKind, PluginManifest, ProbeHint, VersionMismatch, api_version,
    check_api_compatibility,
};

use crate::events::{CoreEvent, EventBus, PluginEvent};
use crate::guard::{self, Health};
use crate::plugin::{self, LoadedPlugin, MetadataFactory, Origin, PluginHandle, ProviderFactory};

/// Why a plugin cannot be registered or found.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The plugin was built for an incompatible API version.
    #[error(transparent)]
    Version(#[from] VersionMismatch),
    /// Another plugin already has this id.
    #[error("a plugin with id `{0}` is already registered; unregister it first")]
    Duplicate(String),
    /// An installed copy is not newer than the one this host ships, which stays.
    #[error("plugin `{id}` {version} is not newer than the {shipped} copy, which is used instead")]
    NotNewer {
        /// The plugin.
        id: String,
        /// The installed copy's version.
        version: String,
        /// The shipped copy: how it was loaded, and its version.
        shipped: String,
    },
    /// No plugin has this id.
    #[error("no plugin with id `{0}` is loaded (see `tonearm plugin list`)")]
    NotFound(String),
    /// The plugin exists but is of another kind.
    #[error("plugin `{id}` is a {actual}, not a {wanted}")]
    WrongKind {
        /// The plugin's id.
        id: String,
        /// The kind asked for.
        wanted: PluginKind,
        /// The kind it is.
        actual: PluginKind,
    },
    /// The plugin was disabled after a failure.
    #[error("plugin `{id}` is disabled after a failure: {reason}")]
    Failed {
        /// The plugin's id.
        id: String,
        /// What happened.
        reason: String,
    },
    /// No decoder recognises the input.
    #[error("no loaded decoder can decode {0}")]
    NoDecoder(String),
    /// Loading the plugin failed.
    #[error("cannot load plugin: {0}")]
    Load(#[from] PluginError),
}

/// A loaded plugin as people see it.
#[derive(Debug, Clone, Serialize)]
pub struct PluginInfo {
    /// Its manifest.
    pub manifest: PluginManifest,
    /// How it was loaded.
    pub origin: Origin,
    /// Why it was disabled, if it was.
    pub failure: Option<String>,
    /// The copy it replaced (a builtin or bundled one of an older version), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaced: Option<String>,
}

/// The decoder chosen for an input.
#[derive(Clone)]
pub struct DecoderChoice {
    /// Its id.
    pub id: String,
    /// Its probe score for the input.
    pub score: u8,
    /// The decoder.
    pub decoder: Arc<dyn Decoder>,
}

struct Entry {
    manifest: PluginManifest,
    origin: Origin,
    handle: PluginHandle,
    health: Arc<Health>,
    replaced: Option<String>,
}

impl Entry {
    fn info(&self) -> PluginInfo {
        PluginInfo {
            manifest: self.manifest.clone(),
            origin: self.origin.clone(),
            failure: self.health.failure(),
            replaced: self.replaced.clone(),
        }
    }

    fn usable(&self) -> Result<(), RegistryError> {
        match self.health.failure() {
            Some(reason) => Err(RegistryError::Failed {
                id: self.manifest.id.clone(),
                reason,
            }),
            None => Ok(()),
        }
    }
}

/// The loaded plugins.
pub struct Registry {
    entries: RwLock<BTreeMap<String, Entry>>,
    /// Extension (lower case) → decoder id that wins whenever it can decode the input.
    preferred_decoders: RwLock<HashMap<String, String>>,
    bus: EventBus,
}

impl Registry {
    /// An empty registry reporting on `bus`.
    pub fn new(bus: EventBus) -> Self {
        Self {
            entries: RwLock::default(),
            preferred_decoders: RwLock::default(),
            bus,
        }
    }

    /// A registry holding every plugin linked into this binary. Plugins that fail to load
    /// are returned with their error rather than stopping the others.
    pub fn with_builtins(bus: EventBus) -> (Self, Vec<RegistryError>) {
        let registry = Self::new(bus);
        let mut errors = Vec::new();
        for descriptor in plugin::builtin_descriptors() {
            let result = plugin::load_builtin(descriptor).map_err(RegistryError::from);
            if let Err(e) = result.and_then(|p| registry.register(p)) {
                errors.push(e);
            }
        }
        (registry, errors)
    }

    /// The bus this registry reports on.
    pub fn bus(&self) -> &EventBus {
        &self.bus
    }

    /// Registers a loaded plugin after checking its API version.
    pub fn register(&self, plugin: LoadedPlugin) -> Result<(), RegistryError> {
        self.insert(plugin, false)
    }

    /// Registers every plugin of one file, as [`register_all`](Self::register_all), except
    /// that a plugin whose id a builtin or bundled copy of an *older* version holds
    /// replaces that copy: an installed fix ships without a new host. Instances of the
    /// replaced copy already handed out keep working until dropped.
    pub fn register_all_over_builtins(
        &self,
        plugins: Vec<LoadedPlugin>,
    ) -> Result<Vec<PluginInfo>, RegistryError> {
        check_all(&plugins)?;
        {
            let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
            for plugin in &plugins {
                let Some(taken) = entries.get(&plugin.manifest.id) else {
                    continue;
                };
                let shipped = matches!(taken.origin, Origin::Builtin | Origin::Bundled);
                if !shipped {
                    return Err(RegistryError::Duplicate(plugin.manifest.id.clone()));
                }
                if taken.manifest.version >= plugin.manifest.version {
                    return Err(RegistryError::NotNewer {
                        id: plugin.manifest.id.clone(),
                        version: plugin.manifest.version.to_string(),
                        shipped: format!("{} {}", taken.origin, taken.manifest.version),
                    });
                }
            }
        }
        let mut infos = Vec::new();
        for plugin in plugins {
            let id = plugin.manifest.id.clone();
            self.insert(plugin, true)?;
            infos.push(self.info(&id)?);
        }
        Ok(infos)
    }

    fn insert(&self, plugin: LoadedPlugin, over_builtin: bool) -> Result<(), RegistryError> {
        let LoadedPlugin {
            mut manifest,
            origin,
            handle,
        } = plugin;
        check_api_compatibility(&manifest.id, &manifest.api_version, &api_version())?;
        // Before API 0.3 a manifest could not say what a metadata source offers, and the
        // only thing it could do was identify.
        if manifest.kind == PluginKind::MetadataSource && manifest.api_version.minor < 3 {
            manifest.metadata.identify = true;
        }
        let id = manifest.id.clone();
        let health = Health::new(&id, self.bus.clone());
        let handle = guard::wrap(handle, health.clone());
        {
            let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
            let replaced = match entries.get(&id) {
                None => None,
                Some(taken)
                    if over_builtin
                        && matches!(taken.origin, Origin::Builtin | Origin::Bundled)
                        && taken.manifest.version < manifest.version =>
                {
                    Some(format!("{} {}", taken.origin, taken.manifest.version))
                }
                Some(_) => return Err(RegistryError::Duplicate(id)),
            };
            tracing::info!(plugin = %id, version = %manifest.version, %origin, ?replaced, "plugin registered");
            entries.insert(
                id.clone(),
                Entry {
                    manifest,
                    origin: origin.clone(),
                    handle,
                    health,
                    replaced,
                },
            );
        }
        self.bus.emit(CoreEvent::Plugin(PluginEvent::Registered {
            id,
            origin: origin.to_string(),
        }));
        Ok(())
    }

    /// Registers every plugin of one file, or none if any id is taken.
    pub fn register_all(
        &self,
        plugins: Vec<LoadedPlugin>,
    ) -> Result<Vec<PluginInfo>, RegistryError> {
        check_all(&plugins)?;
        {
            let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(taken) = plugins
                .iter()
                .find(|p| entries.contains_key(&p.manifest.id))
            {
                return Err(RegistryError::Duplicate(taken.manifest.id.clone()));
            }
        }
        let mut infos = Vec::new();
        for plugin in plugins {
            let id = plugin.manifest.id.clone();
            self.register(plugin)?;
            infos.push(self.info(&id)?);
        }
        Ok(infos)
    }

    /// Removes a plugin; instances already handed out keep working until dropped.
    pub fn unregister(&self, id: &str) -> Result<PluginInfo, RegistryError> {
        let entry = self
            .entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id)
            .ok_or_else(|| RegistryError::NotFound(id.to_owned()))?;
        self.bus.emit(CoreEvent::Plugin(PluginEvent::Unregistered {
            id: id.to_owned(),
        }));
        Ok(entry.info())
    }

    /// Every loaded plugin, by id.
    pub fn list(&self) -> Vec<PluginInfo> {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(Entry::info)
            .collect()
    }

    /// One plugin's description.
    pub fn info(&self, id: &str) -> Result<PluginInfo, RegistryError> {
        self.with_entry(id, |e| Ok(e.info()))
    }

    fn with_entry<T>(
        &self,
        id: &str,
        f: impl FnOnce(&Entry) -> Result<T, RegistryError>,
    ) -> Result<T, RegistryError> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        f(entries
            .get(id)
            .ok_or_else(|| RegistryError::NotFound(id.to_owned()))?)
    }

    fn wrong_kind(e: &Entry, wanted: PluginKind) -> RegistryError {
        RegistryError::WrongKind {
            id: e.manifest.id.clone(),
            wanted,
            actual: e.manifest.kind,
        }
    }

    /// The decoder with this id.
    pub fn decoder(&self, id: &str) -> Result<Arc<dyn Decoder>, RegistryError> {
        self.with_entry(id, |e| match &e.handle {
            PluginHandle::Decoder(d) => e.usable().map(|()| d.clone()),
            _ => Err(Self::wrong_kind(e, PluginKind::Decoder)),
        })
    }

    /// The storage provider factory with this id.
    pub fn provider(&self, id: &str) -> Result<Arc<dyn ProviderFactory>, RegistryError> {
        self.with_entry(id, |e| match &e.handle {
            PluginHandle::StorageProvider(p) => e.usable().map(|()| p.clone()),
            _ => Err(Self::wrong_kind(e, PluginKind::StorageProvider)),
        })
    }

    /// The metadata source with this id, which makes an instance per use.
    pub fn metadata_source(&self, id: &str) -> Result<Arc<dyn MetadataFactory>, RegistryError> {
        self.with_entry(id, |e| match &e.handle {
            PluginHandle::MetadataSource(m) => e.usable().map(|()| m.clone()),
            _ => Err(Self::wrong_kind(e, PluginKind::MetadataSource)),
        })
    }

    /// The handle of any plugin, for tools such as the conformance runner.
    pub fn handle(&self, id: &str) -> Result<PluginHandle, RegistryError> {
        self.with_entry(id, |e| e.usable().map(|()| e.handle.clone()))
    }

    /// Makes `decoder_id` win for files with `extension` whenever it can decode them.
    pub fn prefer_decoder(&self, extension: &str, decoder_id: &str) {
        self.preferred_decoders
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(extension.to_ascii_lowercase(), decoder_id.to_owned());
    }

    /// Every extension some healthy decoder claims, lower case.
    pub fn audio_extensions(&self) -> Vec<String> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let mut exts: Vec<String> = entries
            .values()
            .filter(|e| e.manifest.kind == PluginKind::Decoder && e.health.failure().is_none())
            .flat_map(|e| {
                e.manifest
                    .formats
                    .extensions
                    .iter()
                    .map(|x| x.to_ascii_lowercase())
            })
            .collect();
        exts.sort();
        exts.dedup();
        exts
    }

    /// The best decoder for an input starting with `head`: a preferred decoder for the
    /// extension if it can decode it, else the highest probe score, then the highest rank.
    pub fn pick_decoder(
        &self,
        head: &[u8],
        hint: &ProbeHint,
        what: &str,
    ) -> Result<DecoderChoice, RegistryError> {
        let decoders: Vec<(String, i32, Arc<dyn Decoder>)> = {
            let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
            entries
                .values()
                .filter(|e| e.health.failure().is_none())
                .filter_map(|e| match &e.handle {
                    PluginHandle::Decoder(d) => {
                        Some((e.manifest.id.clone(), e.manifest.rank, d.clone()))
                    }
                    _ => None,
                })
                .collect()
        };
        let preferred = hint.extension.as_ref().and_then(|ext| {
            self.preferred_decoders
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&ext.to_ascii_lowercase())
                .cloned()
        });
        let scored = decoders.into_iter().map(|(id, rank, decoder)| {
            // A decoder that fails to probe cannot decode this; one that fails for its own
            // sake (`Internal`) has already been disabled by the guard.
            let score = decoder.probe(head, hint).unwrap_or_else(|e| {
                tracing::debug!(decoder = %id, error = %e, "probe failed");
                0
            });
            (id, rank, score, decoder)
        });
        let best = scored.filter(|(_, _, score, _)| *score > 0).max_by(|a, b| {
            let pref = |x: &(String, i32, u8, Arc<dyn Decoder>)| Some(&x.0) == preferred.as_ref();
            (pref(a), a.2, a.1, std::cmp::Reverse(&a.0)).cmp(&(
                pref(b),
                b.2,
                b.1,
                std::cmp::Reverse(&b.0),
            ))
        });
        best.map(|(id, _, score, decoder)| DecoderChoice { id, score, decoder })
            .ok_or_else(|| RegistryError::NoDecoder(what.to_owned()))
    }
}

/// What `insert` would refuse about any plugin of one file, checked before the first is
/// registered, so that a file registers every plugin or none: an API this host does not
/// implement, or one id twice.
fn check_all(plugins: &[LoadedPlugin]) -> Result<(), RegistryError> {
    let mut ids = std::collections::BTreeSet::new();
    for plugin in plugins {
        let m = &plugin.manifest;
        check_api_compatibility(&m.id, &m.api_version, &api_version())?;
        if !ids.insert(m.id.as_str()) {
            return Err(RegistryError::Duplicate(m.id.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fixed_score_decoder as decoder;

    #[test]
    fn score_then_rank_then_preference() {
        let reg = Registry::new(EventBus::default());
        reg.register(decoder("low", 50, 10)).unwrap();
        reg.register(decoder("high", 90, 0)).unwrap();
        reg.register(decoder("tie", 90, 5)).unwrap();
        reg.register(decoder("never", 0, 100)).unwrap();
        let hint = ProbeHint {
            extension: Some("flac".into()),
            mime: None,
        };
        assert_eq!(reg.pick_decoder(b"", &hint, "x").unwrap().id, "tie");
        reg.prefer_decoder("FLAC", "low");
        assert_eq!(reg.pick_decoder(b"", &hint, "x").unwrap().id, "low");
        reg.prefer_decoder("flac", "never");
        assert_eq!(
            reg.pick_decoder(b"", &hint, "x").unwrap().id,
            "tie",
            "a preferred decoder must still claim the input"
        );
    }

    #[test]
    fn register_and_unregister_at_run_time() {
        let reg = Registry::new(EventBus::default());
        reg.register(decoder("a", 50, 0)).unwrap();
        assert!(matches!(
            reg.register(decoder("a", 50, 0)),
            Err(RegistryError::Duplicate(_))
        ));
        assert!(reg.decoder("a").is_ok());
        reg.unregister("a").unwrap();
        assert!(matches!(reg.decoder("a"), Err(RegistryError::NotFound(_))));
        assert!(matches!(
            reg.pick_decoder(b"", &ProbeHint::default(), "x"),
            Err(RegistryError::NoDecoder(_))
        ));
    }

    #[test]
    fn an_installed_newer_copy_replaces_a_builtin_and_nothing_else() {
        let reg = Registry::new(EventBus::default());
        reg.register(decoder("fixed", 50, 0)).unwrap();
        let shipped = reg.info("fixed").unwrap().manifest.version;
        let installed = |version: tonearm_plugin_api::semver::Version, path: &str| {
            let mut plugin = decoder("fixed", 60, 0);
            plugin.manifest.version = version;
            plugin.origin = Origin::Wasm(path.into());
            plugin
        };

        let same = installed(shipped.clone(), "same.wasm");
        let err = reg.register_all_over_builtins(vec![same]).unwrap_err();
        assert!(matches!(err, RegistryError::NotNewer { .. }), "{err}");
        assert_eq!(reg.info("fixed").unwrap().origin, Origin::Builtin);

        let mut newer = shipped.clone();
        newer.patch += 1;
        let infos = reg
            .register_all_over_builtins(vec![installed(newer.clone(), "new.wasm")])
            .unwrap();
        assert_eq!(infos[0].origin, Origin::Wasm("new.wasm".into()));
        assert_eq!(
            infos[0].replaced.as_deref(),
            Some(format!("builtin {shipped}").as_str())
        );

        // Only a shipped copy is replaced: two installed copies are a conflict.
        newer.patch += 1;
        let err = reg
            .register_all_over_builtins(vec![installed(newer, "newer.wasm")])
            .unwrap_err();
        assert!(matches!(err, RegistryError::Duplicate(_)), "{err}");
    }

    #[test]
    fn a_file_registers_every_plugin_or_none() {
        let reg = Registry::new(EventBus::default());
        let mut future = decoder("future", 50, 0);
        future.manifest.api_version.minor += 1;
        let err = reg
            .register_all(vec![decoder("fine", 50, 0), future])
            .unwrap_err();
        assert!(matches!(err, RegistryError::Version(_)), "{err}");
        let twice = vec![decoder("twin", 50, 0), decoder("twin", 50, 0)];
        assert!(reg.register_all_over_builtins(twice).is_err());
        assert!(
            reg.list().is_empty(),
            "nothing of either file was registered"
        );
    }

    #[test]
    fn incompatible_api_versions_are_refused() {
        let reg = Registry::new(EventBus::default());
        let mut plugin = decoder("future", 50, 0);
        plugin.manifest.api_version.minor += 1;
        let err = reg.register(plugin).unwrap_err();
        assert!(matches!(err, RegistryError::Version(_)), "{err}");
        let mut plugin = decoder("old", 50, 0);
        plugin.manifest.api_version.major += 1;
        assert!(reg.register(plugin).is_err());
    }
}
