//! {{name}}: a Tonearm storage provider for a cloud file service with a JSON API (paged
//! listings, a change feed, ranged downloads), the shape most drives share.
//!
//! The shape every plugin crate has: this crate holds the plugin (`ID`, `DESCRIPTOR`,
//! `manifest()`), `dylib/` and `component/` export it in the other two forms, and `fake/`
//! is a fake of the service that tests and `tonearm conformance --server` run against.
//! Point `api.rs` and `provider.rs` at your service's API; keep the shape.

pub mod api;
mod error;
mod provider;

use tonearm_plugin_api::{
    Instantiate, PluginDescriptor, PluginKind, PluginManifest, crate_version,
};

pub use provider::ServiceProvider;

/// The plugin's id: unique among the plugins a host loads.
pub const ID: &str = "{{id}}";

/// Where the service's API is, unless a source's `endpoint.api` setting says otherwise.
pub const DEFAULT_API: &str = "https://api.example.org";

/// What a host registers, and every form exports.
pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    manifest,
    instantiate: Instantiate::StorageProvider(|ctx| Ok(Box::new(ServiceProvider::new(ctx)?))),
};

/// The plugin's manifest: who it is, and what it asks of the host.
pub fn manifest() -> PluginManifest {
    let mut m = PluginManifest::new(
        ID,
        "{{name}}",
        crate_version!(),
        PluginKind::StorageProvider,
    );
    m.description = "Music files kept on a cloud file service".into();
    // The only host it may reach (plus the one a source's `endpoint.api` names).
    m.capabilities.http_hosts = vec!["api.example.org".into()];
    m
}
