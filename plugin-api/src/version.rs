//! The API version of this contract and the rule for accepting a plugin.

use semver::Version;

/// The version of the plugin API this crate defines.
///
/// Bump the minor for additive changes (a plugin built against an older minor keeps
/// working) and the major for anything else. See `docs/versioning.md`.
pub const API_VERSION: &str = "0.3.0";

/// The plugin API version as a parsed [`Version`].
pub fn api_version() -> Version {
    // API_VERSION is a literal checked by the unit test below, so parsing cannot fail in a
    // released build; fall back to 0.0.0 rather than panic in a library.
    Version::parse(API_VERSION).unwrap_or_else(|_| Version::new(0, 0, 0))
}

/// Why a plugin built against another API version is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "plugin `{plugin_id}` was built for plugin API {plugin_api}, but this host implements {host_api}: {reason}"
)]
pub struct VersionMismatch {
    /// The plugin's id, as its manifest states it.
    pub plugin_id: String,
    /// The API version the plugin was built against.
    pub plugin_api: Version,
    /// The API version the host implements.
    pub host_api: Version,
    /// What rule the pair breaks, in words a user can act on.
    pub reason: &'static str,
}

/// Accepts a plugin built for `plugin_api` on a host implementing `host_api`.
///
/// The rule: the same major version, and a plugin minor no newer than the host's. A plugin
/// built against a pre-release API is only accepted by a host of exactly that version.
pub fn check_api_compatibility(
    plugin_id: &str,
    plugin_api: &Version,
    host_api: &Version,
) -> Result<(), VersionMismatch> {
    let refuse = |reason| {
        Err(VersionMismatch {
            plugin_id: plugin_id.to_owned(),
            plugin_api: plugin_api.clone(),
            host_api: host_api.clone(),
            reason,
        })
    };
    if plugin_api.major != host_api.major {
        return refuse("the major versions differ; rebuild the plugin against this API");
    }
    if plugin_api.minor > host_api.minor {
        return refuse("the plugin needs a newer host; upgrade Tonearm");
    }
    if !plugin_api.pre.is_empty() && plugin_api != host_api {
        return refuse("pre-release APIs are only compatible with exactly the same version");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(plugin: &str, host: &str) -> Result<(), VersionMismatch> {
        check_api_compatibility(
            "p",
            &Version::parse(plugin).unwrap(),
            &Version::parse(host).unwrap(),
        )
    }

    #[test]
    fn api_version_constant_parses() {
        assert_eq!(api_version().to_string(), API_VERSION);
    }

    #[test]
    fn same_major_older_or_equal_minor_is_accepted() {
        assert!(check("1.2.0", "1.2.0").is_ok());
        assert!(check("1.0.9", "1.2.0").is_ok());
        assert!(
            check("1.2.7", "1.2.0").is_ok(),
            "patch levels do not matter"
        );
    }

    #[test]
    fn newer_minor_or_other_major_is_refused_naming_both_versions() {
        let err = check("1.3.0", "1.2.0").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("1.3.0") && text.contains("1.2.0"), "{text}");
        assert!(check("2.0.0", "1.2.0").is_err());
        assert!(check("0.9.0", "1.2.0").is_err());
    }

    #[test]
    fn prerelease_only_matches_exactly() {
        assert!(check("1.2.0-alpha.1", "1.2.0-alpha.1").is_ok());
        assert!(check("1.2.0-alpha.1", "1.2.0").is_err());
    }
}
