//! `tonearm scan | sync | source …`: sources and syncing them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use tonearm_host::{SyncRequest, Tonearm};
use tonearm_store_sqlite::Source;

use super::output::{self, table};
use super::{Context, SignInArgs, signin};

const LOCAL: &str = "local";

/// Adds a source (signing in first if its provider needs it) and returns it.
pub async fn add(
    ctx: &Context,
    provider: &str,
    location: Option<&Path>,
    name: Option<String>,
    settings: &[String],
    sign_in: &SignInArgs,
) -> Result<Source> {
    let tonearm = ctx.tonearm().await?;
    let manifest = tonearm.plugin(provider)?.manifest;
    if manifest.capabilities.filesystem {
        let location = location.with_context(|| {
            format!("provider `{provider}` needs a folder: tonearm source add {provider} DIR")
        })?;
        return add_folder(&tonearm, provider, location, name).await;
    }
    if let Some(location) = location {
        bail!(
            "provider `{provider}` takes no folder ({}); pick what to sync with --set, e.g. --set folder=ID",
            location.display()
        );
    }
    let mut map = BTreeMap::new();
    for setting in settings {
        let (key, value) = setting
            .split_once('=')
            .with_context(|| format!("--set {setting}: expected KEY=VALUE"))?;
        map.insert(key.trim().to_owned(), value.trim().to_owned());
    }
    let name = name.unwrap_or_else(|| provider.to_owned());
    if tonearm.source(&name).await.is_ok() {
        bail!("a source named `{name}` exists already; pick another with --name");
    }
    let source = if manifest.capabilities.oauth.is_some() {
        let target = signin::Target::New {
            name: &name,
            provider,
            settings: map,
        };
        signin::run(ctx, &tonearm, target, sign_in).await?
    } else {
        tonearm.add_source(&name, provider, map).await?
    };
    println!(
        "added source `{}` ({provider}); sync it with `tonearm sync {}`",
        source.name, source.name
    );
    Ok(source)
}

/// Signs an existing source in again.
pub async fn signin(ctx: &Context, name: &str, sign_in: &SignInArgs) -> Result<ExitCode> {
    let tonearm = ctx.tonearm().await?;
    let source = tonearm.source(name).await?;
    let manifest = tonearm.plugin(&source.provider)?.manifest;
    if manifest.capabilities.oauth.is_none() {
        bail!("source `{name}` ({}) needs no sign-in", source.provider);
    }
    signin::run(ctx, &tonearm, signin::Target::Again(&source), sign_in).await?;
    println!("signed in; sync it with `tonearm sync {name}`");
    Ok(ExitCode::SUCCESS)
}

/// Adds the folder `location` as a source of the folder-based `provider`.
async fn add_folder(
    tonearm: &Tonearm,
    provider: &str,
    location: &Path,
    name: Option<String>,
) -> Result<Source> {
    let root = location
        .canonicalize()
        .with_context(|| format!("{} is not a folder that can be opened", location.display()))?;
    if !root.is_dir() {
        bail!("{} is not a folder", root.display());
    }
    let settings = BTreeMap::from([("root".to_owned(), root.to_string_lossy().into_owned())]);
    let name = match name {
        Some(name) => name,
        None => unique_name(tonearm, &root).await?,
    };
    let source = tonearm.add_source(&name, provider, settings).await?;
    println!(
        "added source `{}` ({provider}: {})",
        source.name,
        location.display()
    );
    Ok(source)
}

/// A source name from the folder's name, made unique.
async fn unique_name(tonearm: &Tonearm, root: &Path) -> Result<String> {
    let base = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "music".to_owned());
    let taken: Vec<String> = tonearm
        .sources()
        .await?
        .into_iter()
        .map(|s| s.name)
        .collect();
    let mut name = base.clone();
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    Ok(name)
}

/// Syncs the folder's source (added first if new); answers the exit code and its name.
pub async fn scan(
    ctx: &Context,
    dir: &Path,
    name: Option<String>,
    full: bool,
) -> Result<(ExitCode, String)> {
    let tonearm = ctx.tonearm().await?;
    let root = dir
        .canonicalize()
        .with_context(|| format!("cannot open {}", dir.display()))?;
    let existing = tonearm.sources().await?.into_iter().find(|s| {
        s.provider == LOCAL
            && s.settings.get("root").map(PathBuf::from).as_deref() == Some(root.as_path())
    });
    let source = match existing {
        Some(source) => source,
        None => add_folder(&tonearm, LOCAL, &root, name).await?,
    };
    let code = run_sync(&tonearm, Some(source.name.clone()), full).await?;
    Ok((code, source.name))
}

pub async fn sync(ctx: &Context, source: Option<String>, full: bool) -> Result<ExitCode> {
    let tonearm = ctx.tonearm().await?;
    if tonearm.sources().await?.is_empty() {
        bail!("the library has no sources yet; add one with `tonearm scan DIR`");
    }
    run_sync(&tonearm, source, full).await
}

async fn run_sync(tonearm: &Tonearm, source: Option<String>, full: bool) -> Result<ExitCode> {
    let progress = output::sync_progress(tonearm.bus());
    let outcomes = tonearm.sync(SyncRequest { source, full }).await;
    progress.finish();
    let mut code = ExitCode::SUCCESS;
    for outcome in outcomes? {
        let name = outcome.source;
        match outcome.result {
            Ok(counts) => println!("{name}: {}", output::counts(&counts)),
            Err(e) => {
                eprintln!(
                    "{name}: sync failed: {e}\n  what was committed is kept; run `tonearm sync {name}` to resume"
                );
                code = ExitCode::FAILURE;
            }
        }
    }
    let stats = tonearm.stats().await?;
    println!(
        "library: {} tracks, {} albums, {} artists",
        stats.tracks, stats.albums, stats.artists
    );
    if stats.failed_files > 0 {
        println!(
            "{} files could not be read; see `tonearm library failed`",
            stats.failed_files
        );
    }
    Ok(code)
}

pub async fn list(ctx: &Context, json: bool) -> Result<ExitCode> {
    let sources = ctx.tonearm().await?.sources().await?;
    if json {
        output::json(&sources)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = sources
        .iter()
        .map(|s| {
            let state = match (&s.last_error, &s.cursor, &s.pending_cursor) {
                (Some(e), _, _) => format!("failed: {e}"),
                (None, _, Some(_)) => "interrupted; resumes on next sync".into(),
                (None, Some(_), None) => "synced".into(),
                (None, None, None) => "never synced".into(),
            };
            vec![
                s.name.clone(),
                s.provider.clone(),
                ["root", "folder", "drive"]
                    .iter()
                    .find_map(|k| s.settings.get(*k).cloned())
                    .unwrap_or_default(),
                state,
            ]
        })
        .collect();
    table(&["NAME", "PROVIDER", "LOCATION", "STATE"], &rows, 60);
    Ok(ExitCode::SUCCESS)
}

pub async fn remove(ctx: &Context, name: &str) -> Result<ExitCode> {
    ctx.tonearm().await?.remove_source(name).await?;
    println!("removed source `{name}` with its tracks and sign-in");
    Ok(ExitCode::SUCCESS)
}
