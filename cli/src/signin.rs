//! Signing a source in from the command line: the facade makes the URL and exchanges the
//! code; this shows the URL, opens a browser and waits for the loopback redirect.

use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use tonearm_host::{OAuthClient, SignIn, SignInError, Tonearm, TonearmError};
use tonearm_net::auth::Loopback;
use tonearm_store_sqlite::Source;

use super::{Context, SignInArgs};

/// Which source signs in.
pub enum Target<'a> {
    /// A new source, added once signed in.
    New {
        /// Its name.
        name: &'a str,
        /// Its provider.
        provider: &'a str,
        /// Its settings.
        settings: std::collections::BTreeMap<String, String>,
    },
    /// An existing source, signing in again.
    Again(&'a Source),
}

/// The OAuth client to sign in with: the flags, else the config file; `None` leaves it
/// to the facade (the client the source signed in with before).
fn client(ctx: &Context, provider: &str, args: &SignInArgs) -> Result<Option<OAuthClient>> {
    if let Some(id) = &args.client_id {
        return Ok(Some(OAuthClient {
            id: id.clone(),
            secret: args.client_secret.clone(),
        }));
    }
    if let Some(c) = ctx.config.oauth_clients.get(provider) {
        return Ok(Some(OAuthClient {
            id: c.client_id.clone(),
            secret: args.client_secret.clone().or(c.client_secret.clone()),
        }));
    }
    if args.client_secret.is_some() {
        bail!("--client-secret needs the client id it belongs to: pass --client-id too");
    }
    Ok(None)
}

/// Signs `target` in: prints the URL (and opens a browser), waits for the redirect on
/// 127.0.0.1, and completes the sign-in; returns the source.
pub async fn run(
    ctx: &Context,
    tonearm: &Tonearm,
    target: Target<'_>,
    args: &SignInArgs,
) -> Result<Source> {
    let loopback = Loopback::bind().await?;
    let redirect_uri = loopback.redirect_uri()?;
    let (name, provider, request) = match target {
        Target::New {
            name,
            provider,
            settings,
        } => (
            name,
            provider,
            SignIn::new_source(name, provider, settings, &redirect_uri),
        ),
        Target::Again(source) => (
            source.name.as_str(),
            source.provider.as_str(),
            SignIn::again(&source.name, &redirect_uri),
        ),
    };
    let request = match client(ctx, provider, args)? {
        Some(client) => request.client(client),
        None => request,
    };
    let start = match tonearm.begin_sign_in(request).await {
        Err(TonearmError::SignIn(SignInError::NoClient(_))) => bail!(
            "signing in to `{provider}` needs an OAuth client id registered with the service: \
             pass --client-id, or add oauth_clients.{provider}.client_id to the config file \
             (docs/connect-cloud-drives.md explains how to register one)"
        ),
        started => started?,
    };
    let service = tonearm.plugin(provider)?.manifest.name;
    eprintln!("Sign in to {service} in your browser:\n\n  {}\n", start.url);
    if !args.no_browser && open_browser(&start.url).is_err() {
        eprintln!("(could not start a browser; open the address above yourself)");
    }
    eprintln!("Waiting for the sign-in to finish…");
    let redirect = match loopback.wait(Duration::from_secs(args.timeout)).await {
        Ok(redirect) => redirect,
        Err(e) => {
            tonearm.cancel_sign_in(&start.state);
            return Err(e).with_context(|| format!("signing in source `{name}`"));
        }
    };
    let source = tonearm
        .complete_sign_in(&redirect.state, &redirect.code)
        .await
        .with_context(|| format!("signing in source `{name}`"))?;
    eprintln!("Signed in.");
    Ok(source)
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
