//! Tonearm metadata source for the Cover Art Archive: the front cover of a MusicBrainz
//! release, at the size asked for.
//!
//! The archive answers `/release/{mbid}/front-250|500|1200` (or `/front` for the original)
//! with a `307` to the image on archive.org, which may redirect again to one of its
//! storage hosts. The host sends no request anywhere the plugin did not declare, and
//! follows no redirect itself: the plugin follows them (at most [`MAX_REDIRECTS`]), to the
//! hosts it declares. A release without art is `404`: an answer (`None`), not an error.
//!
//! Settings: `endpoint.api` (default `https://coverartarchive.org`).

mod source;

use tonearm_plugin_api::{
    Instantiate, MetadataFeatures, PluginDescriptor, PluginKind, PluginManifest, crate_version,
};

pub use source::CoverArt;

/// The plugin's id.
pub const ID: &str = "coverart";
/// The real service's base URL.
pub const API: &str = "https://coverartarchive.org";
/// Redirects followed for one image.
pub const MAX_REDIRECTS: usize = 5;

/// What the `tonearm` binary or the web bundle links in to build this plugin in.
pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    manifest,
    instantiate: Instantiate::MetadataSource(|ctx| Ok(Box::new(CoverArt::new(ctx)?))),
};

/// The plugin's manifest.
pub fn manifest() -> PluginManifest {
    let mut m = PluginManifest::new(
        ID,
        "Cover Art Archive",
        crate_version!(),
        PluginKind::MetadataSource,
    );
    m.description = "Front covers of MusicBrainz releases, from the Cover Art Archive".into();
    // The archive redirects to archive.org, which serves from its storage hosts.
    m.capabilities.http_hosts = vec![
        "coverartarchive.org".into(),
        "archive.org".into(),
        "*.archive.org".into(),
    ];
    m.metadata = MetadataFeatures {
        identify: false,
        artwork: true,
        lyrics: false,
    };
    m
}
