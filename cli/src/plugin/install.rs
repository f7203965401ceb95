//! Installing, updating and removing plugins: each change shown, consented to where it
//! asks for more, and carried out by `tonearm_host::plugins`.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use semver::VersionReq;
use tonearm_host::plugins::Plan;

use super::{Context, form, with_index};

/// Asks the user to consent to what `plan` adds, unless `yes` or nothing is added.
fn consent(plan: &Plan, yes: bool) -> Result<bool> {
    if plan.added.is_empty() || yes {
        return Ok(true);
    }
    let verb = if plan.current.is_some() {
        "now asks"
    } else {
        "asks"
    };
    eprintln!("`{}` {} {verb} for:", plan.entry.id, plan.entry.version);
    for line in &plan.added {
        eprintln!("  + {line}");
    }
    if !std::io::stdin().is_terminal() {
        eprintln!("(pass --yes to consent)");
        return Ok(false);
    }
    eprint!("Allow it? [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

pub(super) async fn install(
    ctx: &Context,
    what: String,
    yes: bool,
    allow_unsigned: bool,
) -> Result<ExitCode> {
    // A path names a folder, or is a `.wasm` file that exists; anything else is an id.
    let path = Path::new(&what);
    if what.contains('/')
        || what.contains(std::path::MAIN_SEPARATOR)
        || (what.ends_with(".wasm") && path.is_file())
    {
        return install_file(ctx, Path::new(&what), yes, allow_unsigned);
    }
    let (id, requirement) = match what.split_once('@') {
        Some((id, req)) => (
            id.to_owned(),
            VersionReq::parse(req)
                .with_context(|| format!("`{req}` is not a version requirement"))?,
        ),
        None => (what, VersionReq::STAR),
    };
    let plan = {
        let id = id.clone();
        with_index(ctx, move |plugins, index| {
            Ok(plugins.plan(index, &id, &requirement)?)
        })
        .await?
    };
    let Some(plan) = plan else {
        println!("`{id}` is installed at that version already");
        return Ok(ExitCode::SUCCESS);
    };
    apply(ctx, vec![plan], yes).await
}

pub(super) fn install_file(
    ctx: &Context,
    path: &Path,
    yes: bool,
    allow_unsigned: bool,
) -> Result<ExitCode> {
    let file = ctx.plugins.plan_file(&ctx.files, path, allow_unsigned)?;
    if !consent(&file.plan, yes)? {
        bail!(
            "nothing installed: `{}` needs your consent",
            file.plan.entry.id
        );
    }
    let installation = ctx.plugins.apply_file(&file, true)?;
    println!(
        "installed `{}` {} from {} (unsigned); it loads at every start",
        installation.entry.id, installation.entry.version, installation.from
    );
    Ok(ExitCode::SUCCESS)
}

/// Asks consent for each plan, then carries out those agreed to.
async fn apply(ctx: &Context, plans: Vec<Plan>, yes: bool) -> Result<ExitCode> {
    let mut agreed = Vec::new();
    let mut refused = Vec::new();
    for plan in plans {
        if consent(&plan, yes)? {
            agreed.push(plan);
        } else {
            refused.push(plan.entry.id);
        }
    }
    let files = ctx.files.clone();
    // Each plan on its own: one that fails stops the rest, and what was done is said.
    let (done, failed) = with_index(ctx, move |plugins, index| {
        let mut done = Vec::new();
        for plan in &agreed {
            match plugins.apply(&files, index, plan, true) {
                Ok(now) => done.push((plan.current.clone(), now)),
                Err(e) => return Ok((done, Some(e))),
            }
        }
        Ok((done, None))
    })
    .await?;
    for (before, now) in &done {
        let e = &now.entry;
        match before {
            Some(b) => println!(
                "updated `{}` {} → {} ({})",
                e.id,
                b.entry.version,
                e.version,
                form(e)
            ),
            None => println!(
                "installed `{}` {} ({}); it loads at every start",
                e.id,
                e.version,
                form(e)
            ),
        }
        if let Some(shipped) = shipped_copy(ctx, &e.id).filter(|v| *v >= e.version) {
            println!(
                "  the copy this host ships ({shipped}) is as new and stays active until one installed is newer"
            );
        }
    }
    if let Some(e) = failed {
        return Err(e.into());
    }
    if refused.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("not installed, for want of consent: {}", refused.join(", "));
        Ok(ExitCode::FAILURE)
    }
}

pub(super) async fn update(ctx: &Context, id: Option<String>, yes: bool) -> Result<ExitCode> {
    let mut targets = Vec::new();
    for found in ctx.plugins.installed().list() {
        let (installation, _) = found?;
        if id.as_ref().is_some_and(|id| *id != installation.entry.id) {
            continue;
        }
        if installation.pinned {
            println!(
                "`{}` is pinned at {}",
                installation.entry.id, installation.entry.version
            );
            continue;
        }
        if !installation.signed {
            println!(
                "`{}` was installed from a file: install a new file to update it",
                installation.entry.id
            );
            continue;
        }
        targets.push(installation.entry.id);
    }
    if let Some(id) = &id
        && ctx.plugins.installed().get(id)?.is_none()
    {
        bail!("plugin `{id}` is not installed (see `tonearm plugin list`)");
    }
    let plans = with_index(ctx, move |plugins, index| {
        let mut plans = Vec::new();
        for id in targets {
            // Updates come from the index that signed the installed copy only.
            let current = plugins.installed().get(&id)?;
            if let Some(other) =
                current.filter(|c| c.index_root.as_deref() != Some(index.root_id()))
            {
                println!(
                    "`{id}` was installed from another index ({}): pass that one to update it",
                    other.from
                );
                continue;
            }
            if let Some(plan) = plugins.plan(index, &id, &VersionReq::STAR)? {
                // Never down: a newer version installed by hand stays.
                if plan
                    .current
                    .as_ref()
                    .is_none_or(|c| c.entry.version < plan.entry.version)
                {
                    plans.push(plan);
                }
            }
        }
        Ok(plans)
    })
    .await?;
    if plans.is_empty() {
        println!("everything installed is up to date");
        return Ok(ExitCode::SUCCESS);
    }
    apply(ctx, plans, yes).await
}

/// The version of plugin `id` this binary ships (builtin or bundled), if it is loaded.
fn shipped_copy(ctx: &Context, id: &str) -> Option<semver::Version> {
    use tonearm_loader::Origin;
    ctx.registry
        .info(id)
        .ok()
        .filter(|i| matches!(i.origin, Origin::Builtin | Origin::Bundled))
        .map(|i| i.manifest.version)
}

pub(super) fn remove(ctx: &Context, id: &str) -> Result<ExitCode> {
    let removed = ctx.plugins.installed().remove(id)?;
    println!("removed `{id}` {}", removed.entry.version);
    if ctx.registry.info(id).is_ok_and(|i| i.replaced.is_some()) {
        println!("the copy this host ships is used again from the next start");
    }
    Ok(ExitCode::SUCCESS)
}
