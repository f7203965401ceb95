//! Tonearm metadata source for LRCLIB: plain and time-synced lyrics.
//!
//! `/api/get` answers only a track whose duration is within two seconds of the one asked
//! for. A rip whose length differs more (vinyl, a longer fade) misses there, so the plugin
//! falls back to `/api/search` and takes the closest duration within
//! [`SEARCH_TOLERANCE_PCT`] percent, synced lyrics first. An instrumental is an answer:
//! lyrics with `instrumental` set and no text.
//!
//! Settings: `endpoint.api` (default `https://lrclib.net`).

mod source;

use tonearm_plugin_api::{
    Instantiate, MetadataFeatures, PluginDescriptor, PluginKind, PluginManifest, crate_version,
};

pub use source::Lrclib;

/// The plugin's id.
pub const ID: &str = "lrclib";
/// The real service's base URL.
pub const API: &str = "https://lrclib.net";
/// How far a search result's duration may be from the track's, in percent.
pub const SEARCH_TOLERANCE_PCT: u64 = 10;

/// What the `tonearm` binary or the web bundle links in to build this plugin in.
pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    manifest,
    instantiate: Instantiate::MetadataSource(|ctx| Ok(Box::new(Lrclib::new(ctx)?))),
};

/// The plugin's manifest.
pub fn manifest() -> PluginManifest {
    let mut m = PluginManifest::new(ID, "LRCLIB", crate_version!(), PluginKind::MetadataSource);
    m.description = "Plain and time-synced lyrics from LRCLIB".into();
    // LRCLIB states no rate limit.
    m.capabilities.http_hosts = vec!["lrclib.net".into()];
    m.metadata = MetadataFeatures {
        identify: false,
        artwork: false,
        lyrics: true,
    };
    m
}
