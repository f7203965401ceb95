//! {{name}}: a Tonearm metadata source that finds lyrics, plain and time-synced, on a
//! lyrics service with a JSON API.
//!
//! The shape every plugin crate has: this crate holds the plugin (`ID`, `DESCRIPTOR`,
//! `manifest()`), `dylib/` and `component/` export it in the other two forms, and `fake/`
//! is a fake of the service for tests. A metadata source describes requests; the host
//! sends them, within the rate the manifest declares, and caches what the service allows.
//! Point `api.rs` and `source.rs` at your service; offer `identify` or `artwork` the same
//! way (see Tonearm's docs/write-a-metadata-plugin.md).

pub mod api;
mod source;

use tonearm_plugin_api::{
    Instantiate, MetadataFeatures, PluginDescriptor, PluginKind, PluginManifest, RateLimit,
    crate_version,
};

pub use source::LyricsSource;

/// The plugin's id: unique among the plugins a host loads.
pub const ID: &str = "{{id}}";

/// Where the service's API is, unless the `endpoint.api` setting says otherwise.
pub const DEFAULT_API: &str = "https://lyrics.example.org";

/// What a host registers, and every form exports.
pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    manifest,
    instantiate: Instantiate::MetadataSource(|ctx| Ok(Box::new(LyricsSource::new(ctx)?))),
};

/// The plugin's manifest: who it is, what it offers, and what it asks of the host.
pub fn manifest() -> PluginManifest {
    let mut m = PluginManifest::new(ID, "{{name}}", crate_version!(), PluginKind::MetadataSource);
    m.description = "Plain and time-synced lyrics".into();
    m.capabilities.http_hosts = vec!["lyrics.example.org".into()];
    // The service's terms: the host keeps every plugin and source that reaches it within.
    m.capabilities.rate_limits = vec![RateLimit::per_second("lyrics.example.org", 5)];
    m.metadata = MetadataFeatures {
        identify: false,
        artwork: false,
        lyrics: true,
    };
    m
}
