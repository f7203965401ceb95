//! Staging a package and checking that the plugin in it is the one its record lists.

use std::path::Path;

use tonearm_registry::Entry;

use super::PluginsError;

/// The prefix of staging folders in the installed plugins' folder.
pub(super) const STAGING: &str = ".staging-";

/// Deletes staging folders a killed install left more than an hour ago.
pub(super) fn forget_stale_staging(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let hour = std::time::Duration::from_secs(3600);
    for entry in entries.filter_map(Result::ok) {
        let stale = entry.file_name().to_string_lossy().starts_with(STAGING)
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > hour));
        if stale {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Refuses `loaded` unless it is exactly the one plugin `entry` lists: its id, version,
/// kind, API and capabilities (the host grants what the manifest asks).
pub(super) fn check_manifests(
    entry: &Entry,
    loaded: &[tonearm_loader::LoadedPlugin],
) -> Result<(), PluginsError> {
    let not_as_listed = |reason: String| PluginsError::NotAsListed {
        id: entry.id.clone(),
        version: entry.version.to_string(),
        reason,
    };
    let [plugin] = loaded else {
        return Err(not_as_listed(format!("it holds {} plugins", loaded.len())));
    };
    let m = &plugin.manifest;
    let differs = [
        (m.id != entry.id, "id"),
        (m.version != entry.version, "version"),
        (m.kind != entry.kind, "kind"),
        (m.api_version != entry.api, "plugin API"),
        (m.capabilities != entry.capabilities, "capabilities"),
    ];
    if let Some((_, what)) = differs.iter().find(|(differs, _)| *differs) {
        return Err(not_as_listed(format!("its manifest states another {what}")));
    }
    Ok(())
}

pub(super) fn ensure_dir(dir: &Path) -> Result<&Path, PluginsError> {
    std::fs::create_dir_all(dir).map_err(|source| PluginsError::Io {
        path: dir.to_owned(),
        source,
    })?;
    Ok(dir)
}
