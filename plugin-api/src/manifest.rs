//! What a plugin says about itself before any of its code runs.

use semver::Version;
use serde::{Deserialize, Serialize};

use crate::metadata::MetadataFeatures;
use crate::version::api_version;

/// The three kinds of plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginKind {
    /// Lists and reads the files of a place where music is kept.
    StorageProvider,
    /// Turns encoded audio into PCM.
    Decoder,
    /// Looks tracks up in a catalogue for better tags, art and lyrics.
    MetadataSource,
}

impl std::fmt::Display for PluginKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::StorageProvider => "storage provider",
            Self::Decoder => "decoder",
            Self::MetadataSource => "metadata source",
        })
    }
}

/// The OAuth 2 endpoints and scopes a plugin needs the host to sign in with.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OAuthSpec {
    /// The authorization endpoint.
    pub authorize_url: String,
    /// The token endpoint.
    pub token_url: String,
    /// The scopes to request.
    pub scopes: Vec<String>,
    /// Extra parameters for the authorization request (Google's `access_type=offline`).
    #[serde(default)]
    pub authorize_params: Vec<(String, String)>,
    /// Hosts that receive the access token; any other host (a pre-authenticated download
    /// URL, say) is sent no credentials.
    #[serde(default)]
    pub token_hosts: Vec<String>,
}

/// How fast the host may send requests to one service, as the service's terms ask: at
/// most `requests` in any `period_ms`.
///
/// The host keeps one budget per host name for everything it runs: every plugin and every
/// source that reaches `musicbrainz.org` shares its one request a second.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// The host name the limit applies to (`musicbrainz.org`, or `*.example.com`).
    pub host: String,
    /// Requests allowed per period.
    pub requests: u32,
    /// The period, in milliseconds.
    pub period_ms: u32,
}

impl RateLimit {
    /// At most `requests` a second to `host`.
    pub fn per_second(host: &str, requests: u32) -> Self {
        Self {
            host: host.to_owned(),
            requests,
            period_ms: 1000,
        }
    }
}

/// What a plugin needs from the host; the host grants nothing beyond it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Capabilities {
    /// Hosts (`example.com`, or `*.example.com`) the plugin may send HTTP requests to.
    pub http_hosts: Vec<String>,
    /// OAuth sign-in the plugin needs, if any.
    pub oauth: Option<OAuthSpec>,
    /// Whether the plugin reads files inside a folder the user grants.
    pub filesystem: bool,
    /// Whether the plugin keeps state (such as a change snapshot) in the host's store.
    pub state: bool,
    /// The rate each service among `http_hosts` allows (API 0.3); hosts without one are
    /// sent requests as fast as the host's general limits allow.
    #[serde(default)]
    pub rate_limits: Vec<RateLimit>,
}

impl Capabilities {
    /// Whether the plugin reaches the network: it declares hosts or signs in.
    pub fn needs_network(&self) -> bool {
        !self.http_hosts.is_empty() || self.oauth.is_some()
    }
}

/// A byte pattern that identifies a format at a fixed offset of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MagicPattern {
    /// Where the pattern starts.
    pub offset: u32,
    /// The bytes to match.
    pub bytes: Vec<u8>,
}

impl MagicPattern {
    /// A pattern at `offset`.
    pub fn new(offset: u32, bytes: &[u8]) -> Self {
        Self {
            offset,
            bytes: bytes.to_vec(),
        }
    }

    /// Whether `head` (the start of a file) matches this pattern.
    pub fn matches(&self, head: &[u8]) -> bool {
        let start = self.offset as usize;
        head.get(start..start + self.bytes.len()) == Some(self.bytes.as_slice())
    }
}

/// The formats a decoder claims.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FormatClaims {
    /// File extensions, lower case, without the dot.
    pub extensions: Vec<String>,
    /// MIME types.
    pub mime_types: Vec<String>,
    /// Magic byte patterns.
    pub magic: Vec<MagicPattern>,
}

impl FormatClaims {
    /// Whether an extension (any case, without the dot) is claimed.
    pub fn claims_extension(&self, extension: &str) -> bool {
        self.extensions
            .iter()
            .any(|e| e.eq_ignore_ascii_case(extension))
    }
}

/// A plugin's description of itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginManifest {
    /// A stable, unique, lower-case id such as `local` or `symphonia`.
    pub id: String,
    /// A name to show people.
    pub name: String,
    /// The plugin's own version.
    pub version: Version,
    /// The plugin API version the plugin was built against.
    pub api_version: Version,
    /// What kind of plugin this is.
    pub kind: PluginKind,
    /// One sentence on what it does.
    pub description: String,
    /// What it needs from the host.
    pub capabilities: Capabilities,
    /// For decoders: the formats it claims.
    pub formats: FormatClaims,
    /// For decoders: the tie-breaker between equal probe scores; higher wins.
    pub rank: i32,
    /// For metadata sources: what they offer (API 0.3; a 0.2 source only identifies).
    #[serde(default)]
    pub metadata: MetadataFeatures,
}

impl PluginManifest {
    /// A manifest for a plugin built against this crate's API version.
    pub fn new(id: &str, name: &str, version: Version, kind: PluginKind) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            version,
            api_version: api_version(),
            kind,
            description: String::new(),
            capabilities: Capabilities::default(),
            formats: FormatClaims::default(),
            rank: 0,
            metadata: MetadataFeatures::default(),
        }
    }
}

/// The version of the crate that invokes it, as a [`semver::Version`].
#[macro_export]
macro_rules! crate_version {
    () => {
        $crate::semver::Version::parse(env!("CARGO_PKG_VERSION"))
            .unwrap_or_else(|_| $crate::semver::Version::new(0, 0, 0))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_matches_at_offset_and_not_past_the_end() {
        let ftyp = MagicPattern::new(4, b"ftyp");
        assert!(ftyp.matches(b"\0\0\0\x20ftypM4A "));
        assert!(!ftyp.matches(b"\0\0\0\x20fty"));
        assert!(!ftyp.matches(b""));
    }

    #[test]
    fn new_manifest_carries_this_api_version() {
        let m = PluginManifest::new("x", "X", crate_version!(), PluginKind::Decoder);
        assert_eq!(m.api_version, api_version());
        assert_eq!(m.version.to_string(), env!("CARGO_PKG_VERSION"));
    }
}
