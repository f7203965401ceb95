//! `tonearm plugins … | conformance`: what is loaded, loading more, certifying.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use tonearm_host::conformance;

use super::Context;
use super::output::{self, table};

pub fn list(ctx: &Context, json: bool) -> Result<ExitCode> {
    let plugins = ctx.registry.list();
    if json {
        output::json(&plugins)?;
        return Ok(ExitCode::SUCCESS);
    }
    print_plugins(&plugins);
    Ok(ExitCode::SUCCESS)
}

fn print_plugins(plugins: &[tonearm_host::registry::PluginInfo]) {
    let rows: Vec<Vec<String>> = plugins
        .iter()
        .map(|p| {
            let state = p
                .failure
                .as_ref()
                .map_or_else(|| "ok".into(), |f| format!("failed: {f}"));
            let m = &p.manifest;
            vec![
                m.id.clone(),
                m.kind.to_string(),
                m.version.to_string(),
                m.api_version.to_string(),
                p.origin.to_string(),
                state,
            ]
        })
        .collect();
    table(
        &["ID", "KIND", "VERSION", "API", "LOADED", "STATE"],
        &rows,
        60,
    );
}

pub fn load(ctx: &Context, path: &Path, install: bool) -> Result<ExitCode> {
    let loaded = match ctx.files.load(&ctx.registry, path) {
        Ok(loaded) => loaded,
        Err(tonearm_loader::LoadError::Registry(
            tonearm_host::registry::RegistryError::Duplicate(id),
        )) => {
            let origin = ctx
                .registry
                .info(&id)
                .map(|i| i.origin.to_string())
                .unwrap_or_default();
            bail!(
                "{}: it holds plugin `{id}`, which is already loaded ({origin})",
                path.display()
            );
        }
        Err(e) => return Err(e.into()),
    };
    println!("{} holds {} plugin(s):", path.display(), loaded.len());
    print_plugins(&loaded);
    if install {
        let dir = ctx
            .plugin_dir
            .as_ref()
            .context("no plugin folder is configured (see plugin_dirs in the config)")?;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let name = path
            .file_name()
            .context("the library path has no file name")?;
        let target = dir.join(name);
        // Copy then rename, so a half-copied library is never loaded.
        let partial = dir.join(format!(".{}.partial", name.to_string_lossy()));
        std::fs::copy(path, &partial)
            .with_context(|| format!("cannot copy into {}", dir.display()))?;
        std::fs::rename(&partial, &target)?;
        println!("installed to {}; it loads at every start", target.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn inspect(ctx: &Context, id: &str) -> Result<ExitCode> {
    output::json(&ctx.registry.info(id)?)?;
    Ok(ExitCode::SUCCESS)
}

pub fn conformance(ctx: &Context, id: &str, fixtures: Option<&Path>) -> Result<ExitCode> {
    let report = conformance::run(&ctx.registry, id, fixtures)?;
    println!("{report}");
    Ok(if report.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
