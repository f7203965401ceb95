//! Signing a source in from the command line: the browser, the loopback redirect, the
//! token store.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, Result};
use tonearm_host::events::{AuthEvent, CoreEvent};
use tonearm_net::auth::{StoredTokens, sign_in};
use tonearm_plugin_api::PluginManifest;

use super::{Context, SignInArgs};

/// The OAuth client to sign in with: the flags, else the config file, else the client a
/// previous sign-in used.
pub fn client(
    ctx: &Context,
    provider: &str,
    args: &SignInArgs,
    previous: Option<&StoredTokens>,
) -> Result<(String, Option<String>)> {
    if let Some(id) = &args.client_id {
        return Ok((id.clone(), args.client_secret.clone()));
    }
    if let Some(c) = ctx.config.oauth_clients.get(provider) {
        return Ok((
            c.client_id.clone(),
            args.client_secret.clone().or(c.client_secret.clone()),
        ));
    }
    if let Some(p) = previous {
        let secret = p.client_secret.as_ref().map(|s| s.secret().clone());
        return Ok((p.client_id.clone(), args.client_secret.clone().or(secret)));
    }
    anyhow::bail!(
        "signing in to `{provider}` needs an OAuth client id registered with the service: pass \
         --client-id, or add oauth_clients.{provider}.client_id to the config file \
         (docs/connect-cloud-drives.md explains how to register one)"
    )
}

/// Signs `source` in and stores its tokens.
pub async fn run(
    ctx: &Context,
    source: &str,
    manifest: &PluginManifest,
    settings: &BTreeMap<String, String>,
    (client_id, client_secret): (String, Option<String>),
    args: &SignInArgs,
) -> Result<()> {
    let spec = manifest
        .capabilities
        .oauth
        .as_ref()
        .with_context(|| format!("plugin `{}` does not sign in", manifest.id))?;
    let app = tonearm_core::auth::app_for(spec, settings, client_id, client_secret);
    let network = ctx.network()?;
    let open = |url: &str| {
        eprintln!("Sign in to {} in your browser:\n\n  {url}\n", manifest.name);
        if !args.no_browser && open_browser(url).is_err() {
            eprintln!("(could not start a browser; open the address above yourself)");
        }
        eprintln!("Waiting for the sign-in to finish…");
    };
    let tokens = sign_in(
        &app,
        network.http.client(),
        open,
        Duration::from_secs(args.timeout),
    )
    .await
    .with_context(|| format!("signing in source `{source}`"))?;
    network.tokens.put(source, &tokens)?;
    ctx.bus().emit(CoreEvent::Auth(AuthEvent::SignedIn {
        source: source.to_owned(),
    }));
    eprintln!("Signed in.");
    Ok(())
}

fn open_browser(url: &str) -> std::io::Result<()> {
    let mut command = if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else if cfg!(windows) {
        let mut c = std::process::Command::new("cmd");
        c.args(["/C", "start", ""]);
        c
    } else {
        std::process::Command::new("xdg-open")
    };
    command
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(drop)
}
