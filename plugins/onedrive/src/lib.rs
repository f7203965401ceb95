//! Tonearm storage provider for OneDrive, over Microsoft Graph.
//!
//! The plugin only describes requests; the host sends them (adding the access token for
//! Graph's host only, pacing and retrying) and keeps the folder tree in its state store.
//! Listings and changes both come from `root/delta`, whose `@odata.nextLink` and
//! `@odata.deltaLink` are followed verbatim; files are read from pre-authenticated
//! download URLs, which get no token.
//!
//! Settings: `endpoint.api` (default `https://graph.microsoft.com`), `drive` (a drive id;
//! default the signed-in user's OneDrive), `page_size`.

mod api;
mod provider;

use tonearm_plugin_api::{
    Instantiate, OAuthSpec, PluginDescriptor, PluginKind, PluginManifest, crate_version,
};

pub use provider::OneDriveProvider;

/// The plugin's id.
pub const ID: &str = "onedrive";
/// The real service's API base URL.
pub const API: &str = "https://graph.microsoft.com";

/// What the `tonearm` binary or the web bundle links in to build this plugin in.
pub static DESCRIPTOR: PluginDescriptor = PluginDescriptor {
    manifest,
    instantiate: Instantiate::StorageProvider(|ctx| Ok(Box::new(OneDriveProvider::new(ctx)?))),
};

/// The plugin's manifest.
pub fn manifest() -> PluginManifest {
    let mut m = PluginManifest::new(
        ID,
        "OneDrive",
        crate_version!(),
        PluginKind::StorageProvider,
    );
    m.description = "Music in OneDrive (personal, or work and school)".into();
    // Graph, and the origins its pre-authenticated download URLs point at.
    m.capabilities.http_hosts = vec![
        "graph.microsoft.com".into(),
        "*.sharepoint.com".into(),
        "*.1drv.com".into(),
        "*.livefilestore.com".into(),
        "*.onedrive.com".into(),
    ];
    m.capabilities.state = true;
    m.capabilities.oauth = Some(OAuthSpec {
        authorize_url: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize".into(),
        token_url: "https://login.microsoftonline.com/common/oauth2/v2.0/token".into(),
        // Without offline_access Microsoft issues no refresh token.
        scopes: vec!["Files.Read".into(), "offline_access".into()],
        authorize_params: vec![],
        token_hosts: vec!["graph.microsoft.com".into()],
    });
    m
}
