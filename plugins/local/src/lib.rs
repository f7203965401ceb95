//! Tonearm storage provider for a folder on this machine.
//!
//! Everything goes through the host's capabilities: the folder is the filesystem root the
//! user granted, and the snapshot that change cursors point at lives in the host's state
//! store. Ids are paths relative to the root; a renamed or moved file is reported as
//! [`Change::Moved`](tonearm_plugin_api::Change::Moved) so the library keeps its identity.

mod provider;
mod snapshot;
mod walk;

use tonearm_plugin_api::{
    Instantiate, PluginDescriptor, PluginKind, PluginManifest, crate_version,
};

pub use provider::LocalProvider;

/// The plugin's id.
pub const ID: &str = "local";

/// What the `tonearm` binary or the web bundle links in to build this plugin in.
pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    manifest,
    instantiate: Instantiate::StorageProvider(|ctx| Ok(Box::new(LocalProvider::new(ctx)?))),
};

/// The plugin's manifest.
pub fn manifest() -> PluginManifest {
    let mut m = PluginManifest::new(
        ID,
        "Local folder",
        crate_version!(),
        PluginKind::StorageProvider,
    );
    m.description = "Music in a folder on this machine".into();
    m.capabilities.filesystem = true;
    m.capabilities.state = true;
    m
}
