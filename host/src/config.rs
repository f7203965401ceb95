//! User settings: `$XDG_CONFIG_HOME/tonearm/config.json`, or a file named with `--config`.
//!
//! ```json
//! {
//!   "preferred_decoders": { "flac": "symphonia", "mp3": "my-mp3-decoder" },
//!   "plugin_dirs": ["/opt/tonearm/plugins"],
//!   "wasm": { "memory_mib": 256, "call_timeout_ms": 10000, "fuel": null },
//!   "oauth_clients": { "gdrive": { "client_id": "….apps.googleusercontent.com" } },
//!   "http": { "requests_per_second": 100, "concurrency": 8, "max_retry_after_s": 120,
//!             "contact": "you@example.org" },
//!   "metadata": { "musicbrainz": { "endpoint.api": "https://musicbrainz.org" } },
//!   "enrich_after_sync": false,
//!   "index": { "url": "https://plugins.example.org/index", "root": "/etc/tonearm/root.json" }
//! }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::registry::Registry;
use tonearm_loader::wasm::WasmLimits;
use tonearm_net::HttpSettings;

/// Why the settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("the config file {path} is not valid: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        source: serde_json::Error,
    },
}

/// User settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// File extension → the decoder that wins for it whenever it can decode the file.
    #[serde(default)]
    pub preferred_decoders: BTreeMap<String, String>,
    /// Folders whose plugins (native libraries, wasm components) are loaded at start
    /// [default: the XDG data dir's `tonearm/plugins`].
    pub plugin_dirs: Option<Vec<PathBuf>>,
    /// Limits for sandboxed (wasm) plugins.
    #[serde(default)]
    pub wasm: WasmSettings,
    /// Provider id → the OAuth client registered for it (see docs/connect-cloud-drives.md).
    #[serde(default)]
    pub oauth_clients: BTreeMap<String, OAuthClient>,
    /// How plugins' HTTP requests are paced and retried.
    #[serde(default)]
    pub http: HttpConfig,
    /// Metadata source id → its settings (`endpoint.api`, …).
    #[serde(default)]
    pub metadata: BTreeMap<String, BTreeMap<String, String>>,
    /// Enrich the synced tracks after every `tonearm sync` and `scan`.
    #[serde(default)]
    pub enrich_after_sync: bool,
    /// The plugin index `tonearm plugin` installs from.
    pub index: Option<IndexConfig>,
    /// The offline cache of cloud tracks.
    #[serde(default)]
    pub cache: CacheConfig,
}

/// The offline cache, as the config file states it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Keep copies of cloud tracks as they play, and pinned ones.
    pub enabled: bool,
    /// Its folder [default: the XDG cache dir's `tonearm/tracks`].
    pub dir: Option<PathBuf>,
    /// Mebibytes it may hold besides pinned tracks.
    pub limit_mb: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            dir: None,
            limit_mb: 2048,
        }
    }
}

/// A plugin index and the root of trust it is checked against.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexConfig {
    /// Its address (`https://…`), or a folder holding it.
    pub url: String,
    /// Its first root (`root/1.json`, from whoever runs it, by a channel you trust): the
    /// keys everything else in the index is checked against.
    pub root: PathBuf,
}

/// An OAuth client registration.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthClient {
    /// The client id.
    pub client_id: String,
    /// The client secret, for services that want one from installed apps.
    pub client_secret: Option<String>,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// HTTP pacing and retries, as the config file states them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Requests per second per plugin; none for no limit.
    pub requests_per_second: Option<f64>,
    /// Requests in flight per plugin.
    pub concurrency: usize,
    /// Attempts per request.
    pub attempts: usize,
    /// The longest `Retry-After` waited out, in seconds.
    pub max_retry_after_s: u64,
    /// How services can reach you (an e-mail or a URL), sent in the User-Agent as
    /// MusicBrainz's terms ask.
    pub contact: String,
}

impl Eq for HttpConfig {}

impl Default for HttpConfig {
    fn default() -> Self {
        let s = HttpSettings::default();
        Self {
            requests_per_second: s.requests_per_second,
            concurrency: s.concurrency,
            attempts: s.attempts,
            max_retry_after_s: s.max_retry_after.as_secs(),
            contact: s.contact,
        }
    }
}

impl HttpConfig {
    /// The settings this describes.
    pub fn settings(&self) -> HttpSettings {
        HttpSettings {
            requests_per_second: self.requests_per_second,
            concurrency: self.concurrency.max(1),
            attempts: self.attempts.max(1),
            max_retry_after: std::time::Duration::from_secs(self.max_retry_after_s),
            contact: self.contact.clone(),
            ..HttpSettings::default()
        }
    }
}

/// Limits for sandboxed plugins, as the config file states them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WasmSettings {
    /// Memory per instance, in MiB.
    pub memory_mib: usize,
    /// Wall time per call, in milliseconds.
    pub call_timeout_ms: u64,
    /// Fuel per call; none means no fuel metering.
    pub fuel: Option<u64>,
}

impl Default for WasmSettings {
    fn default() -> Self {
        let limits = WasmLimits::default();
        Self {
            memory_mib: limits.memory_bytes >> 20,
            call_timeout_ms: u64::try_from(limits.call_timeout.as_millis()).unwrap_or(u64::MAX),
            fuel: limits.fuel,
        }
    }
}

impl WasmSettings {
    /// The limits these settings describe, caching compiled components in `cache_dir`.
    pub fn limits(&self, cache_dir: Option<PathBuf>) -> WasmLimits {
        WasmLimits {
            memory_bytes: self.memory_mib.saturating_mul(1 << 20),
            call_timeout: std::time::Duration::from_millis(self.call_timeout_ms),
            fuel: self.fuel,
            cache_dir,
        }
    }
}

impl Config {
    /// Reads `path`. A missing file is an error only when `required` (it was named
    /// explicitly); otherwise it means the defaults.
    pub fn load(path: &Path, required: bool) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                return Ok(Self::default());
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        serde_json::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    /// Applies the settings to `registry`; returns warnings about settings that name
    /// plugins that are not loaded.
    pub fn apply(&self, registry: &Registry) -> Vec<String> {
        let mut warnings = Vec::new();
        for (extension, decoder) in &self.preferred_decoders {
            if registry.decoder(decoder).is_err() {
                warnings.push(format!(
                    "preferred_decoders: `{decoder}` (for .{extension}) is not a loaded decoder; ignoring it"
                ));
                continue;
            }
            registry.prefer_decoder(extension, decoder);
        }
        warnings
    }
}

#[cfg(test)]
mod tests {
    use tonearm_plugin_api::ProbeHint;

    use super::*;
    use crate::events::EventBus;
    use crate::test_support::fixed_score_decoder;

    fn registry() -> Registry {
        let registry = Registry::new(EventBus::default());
        registry
            .register(fixed_score_decoder("strong", 90, 0))
            .unwrap();
        registry
            .register(fixed_score_decoder("weak", 40, 0))
            .unwrap();
        registry
    }

    #[test]
    fn a_preference_overrides_the_probe_score() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"preferred_decoders": {"flac": "weak", "mp3": "missing"}}"#,
        )
        .unwrap();
        let registry = registry();
        let hint = |e: &str| ProbeHint {
            extension: Some(e.into()),
            mime: None,
        };
        assert_eq!(
            registry.pick_decoder(b"", &hint("flac"), "x").unwrap().id,
            "strong"
        );
        let warnings = Config::load(&path, true).unwrap().apply(&registry);
        assert_eq!(
            registry.pick_decoder(b"", &hint("flac"), "x").unwrap().id,
            "weak"
        );
        assert_eq!(
            registry.pick_decoder(b"", &hint("ogg"), "x").unwrap().id,
            "strong"
        );
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("`missing`"), "{warnings:?}");
    }

    #[test]
    fn missing_and_malformed_files() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.json");
        assert_eq!(Config::load(&missing, false).unwrap(), Config::default());
        assert!(matches!(
            Config::load(&missing, true),
            Err(ConfigError::Read { .. })
        ));
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, r#"{"prefered_decoders": {}}"#).unwrap();
        let err = Config::load(&bad, true).unwrap_err().to_string();
        assert!(err.contains("prefered_decoders"), "a typo is named: {err}");
    }
}
