//! Tonearm storage provider for Google Drive, over the Drive API v3.
//!
//! The plugin only describes requests; the host sends them (adding the access token for
//! Drive's API host, pacing and retrying) and keeps the folder tree in its state store.
//! A full listing walks folders first, then files, so every file gets its path; changes
//! come from `changes.list`, and a renamed or moved folder re-reports the files under it.
//!
//! Settings: `endpoint.api` (default `https://www.googleapis.com`), `folder` (a folder id
//! to sync under; default all of My Drive), `drive` (a shared drive's id), `page_size`.

mod api;
mod provider;

use tonearm_plugin_api::{
    Instantiate, OAuthSpec, PluginDescriptor, PluginKind, PluginManifest, crate_version,
};

pub use provider::DriveProvider;

/// The plugin's id.
pub const ID: &str = "gdrive";
/// The real service's API base URL.
pub const API: &str = "https://www.googleapis.com";

/// What the `tonearm` binary or the web bundle links in to build this plugin in.
pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    manifest,
    instantiate: Instantiate::StorageProvider(|ctx| Ok(Box::new(DriveProvider::new(ctx)?))),
};

/// The plugin's manifest.
pub fn manifest() -> PluginManifest {
    let mut m = PluginManifest::new(
        ID,
        "Google Drive",
        crate_version!(),
        PluginKind::StorageProvider,
    );
    m.description = "Music in Google Drive, My Drive or a shared drive".into();
    m.capabilities.http_hosts = vec!["www.googleapis.com".into()];
    m.capabilities.state = true;
    m.capabilities.oauth = Some(OAuthSpec {
        authorize_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
        token_url: "https://oauth2.googleapis.com/token".into(),
        scopes: vec!["https://www.googleapis.com/auth/drive.readonly".into()],
        // Without these Google issues no refresh token.
        authorize_params: vec![
            ("access_type".into(), "offline".into()),
            ("prompt".into(), "consent".into()),
        ],
        token_hosts: vec!["www.googleapis.com".into()],
    });
    m
}
