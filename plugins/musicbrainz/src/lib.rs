//! Tonearm metadata source for MusicBrainz: identifies a track's recording and release.
//!
//! A track with a recording MBID is looked up by it; one with an ISRC by that; any other
//! by a recording search built from its tags (title, artist, album, track number and
//! duration, as a Lucene query). Every recording comes back once per release it is on,
//! with the release's position, date and artists, so the host can choose the edition
//! that matches the album in the library. The plugin only describes requests: the host
//! sends them, at the one request a second MusicBrainz allows every client, with the
//! User-Agent it asks for.
//!
//! Settings: `endpoint.api` (default `https://musicbrainz.org`), `search_limit` (recordings
//! per search, default 5), `releases_per_recording` (default 3).

mod api;
mod query;
mod source;

use tonearm_plugin_api::{
    Instantiate, MetadataFeatures, PluginDescriptor, PluginKind, PluginManifest, RateLimit,
    crate_version,
};

pub use source::MusicBrainz;

/// The plugin's id.
pub const ID: &str = "musicbrainz";
/// The real service's base URL.
pub const API: &str = "https://musicbrainz.org";

/// What the `tonearm` binary or the web bundle links in to build this plugin in.
pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    manifest,
    instantiate: Instantiate::MetadataSource(|ctx| Ok(Box::new(MusicBrainz::new(ctx)?))),
};

/// The plugin's manifest.
pub fn manifest() -> PluginManifest {
    let mut m = PluginManifest::new(
        ID,
        "MusicBrainz",
        crate_version!(),
        PluginKind::MetadataSource,
    );
    m.description = "Identifies recordings and releases in the MusicBrainz database".into();
    m.capabilities.http_hosts = vec!["musicbrainz.org".into()];
    // https://musicbrainz.org/doc/MusicBrainz_API/Rate_Limiting: one request a second
    // per client address, whatever the application.
    m.capabilities.rate_limits = vec![RateLimit::per_second("musicbrainz.org", 1)];
    m.metadata = MetadataFeatures {
        identify: true,
        artwork: false,
        lyrics: false,
    };
    m
}
