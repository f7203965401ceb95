//! `tonearm plugin …` and `tonearm conformance`: what is loaded and why, finding and
//! installing plugins from an index, certifying them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::Subcommand;
use serde::Serialize;
use tonearm_host::config::IndexConfig;
use tonearm_host::conformance;
use tonearm_host::plugins::{OpenIndex, Plugins, PluginsError};
use tonearm_host::registry::PluginInfo;
use tonearm_registry::{Entry, Installation};

mod install;
mod new;

use super::output::{self, table};
use super::{Context, JsonFlag};

/// `tonearm plugin [--index URL --index-root FILE] …`.
#[derive(Debug, clap::Args)]
pub struct PluginArgs {
    #[command(flatten)]
    pub index: IndexArgs,
    #[command(subcommand)]
    pub command: PluginCommand,
}

/// Which index `plugin` commands read.
#[derive(Debug, clap::Args)]
pub struct IndexArgs {
    /// The plugin index (an address, or a folder) [default: the config file's `index`].
    #[arg(long, global = true, env = "TONEARM_INDEX", value_name = "URL")]
    index: Option<String>,
    /// The index's first root (`root/1.json`, from whoever runs it), which everything
    /// in the index is checked against.
    #[arg(long, global = true, env = "TONEARM_INDEX_ROOT", value_name = "FILE")]
    index_root: Option<PathBuf>,
}

impl IndexArgs {
    /// The index settings: these flags', else the config file's.
    pub fn config(&self, configured: Option<IndexConfig>) -> Result<Option<IndexConfig>> {
        Ok(
            match (self.index.clone(), self.index_root.clone(), configured) {
                (Some(url), Some(root), _) => Some(IndexConfig { url, root }),
                (Some(url), None, Some(c)) => Some(IndexConfig { url, root: c.root }),
                (None, Some(root), Some(c)) => Some(IndexConfig { url: c.url, root }),
                (Some(_), None, None) => {
                    bail!("--index needs --index-root: the root of trust of that index")
                }
                (None, Some(_), None) => {
                    bail!("--index-root needs --index: the index's address or folder")
                }
                (None, None, configured) => configured,
            },
        )
    }
}

/// `tonearm plugin …`.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// List loaded plugins: where each comes from, and which copy is active and why.
    List(JsonFlag),
    /// Find plugins in the index (by id); every one this host can run without TEXT.
    Search {
        /// Text the id contains.
        text: Option<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Show a plugin: as loaded here, as installed, and its versions in the index.
    #[command(alias = "inspect")]
    Info {
        /// The plugin's id.
        id: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Install a plugin from the index (`ID`, or `ID@REQ` such as `acme-wav@^1.2`), or a
    /// component file (`./plugin.wasm`, with --allow-unsigned).
    Install {
        /// `ID`, `ID@REQ`, or the path of a `.wasm` component.
        what: String,
        /// Consent to what it asks of this host without being asked.
        #[arg(long, short)]
        yes: bool,
        /// Install a component no index signed (native libraries never are).
        #[arg(long)]
        allow_unsigned: bool,
    },
    /// Update installed plugins (or one) to the newest version this host runs; pinned
    /// ones stay.
    Update {
        /// The plugin's id [default: every installed plugin].
        id: Option<String>,
        /// Consent to new capabilities without being asked.
        #[arg(long, short)]
        yes: bool,
    },
    /// Remove an installed plugin (a builtin copy it replaced comes back).
    Remove {
        /// The plugin's id.
        id: String,
    },
    /// Hold an installed plugin at its version, so `update` passes it over.
    Pin {
        /// The plugin's id.
        id: String,
        /// Let it update again.
        #[arg(long)]
        off: bool,
    },
    /// Write a new plugin crate to start from: it builds in every form and passes the
    /// conformance suite as it is.
    New {
        /// The kind of plugin.
        template: new::Template,
        /// Its name: the crate's and the plugin id (lowercase letters, digits, `-`).
        name: String,
        /// Where to write it [default: ./NAME].
        #[arg(long)]
        path: Option<PathBuf>,
        /// A Tonearm checkout to depend on by path [default: the one this tonearm was
        /// built from, if it is still there; else the crates' registry versions].
        #[arg(long, value_name = "DIR")]
        tonearm: Option<PathBuf>,
    },
    /// Load a plugin file for this run and show what it holds.
    Load {
        /// A native library (`.so`, `.dylib`, `.dll`) or a component (`.wasm`).
        path: PathBuf,
    },
}

/// Runs `command`.
pub async fn run(ctx: &Context, command: PluginCommand) -> Result<ExitCode> {
    match command {
        PluginCommand::List(f) => list(ctx, f.json),
        PluginCommand::Search { text, json } => {
            search(ctx, text.unwrap_or_default(), json.json).await
        }
        PluginCommand::Info { id, json } => info(ctx, id, json.json).await,
        PluginCommand::Install {
            what,
            yes,
            allow_unsigned,
        } => install::install(ctx, what, yes, allow_unsigned).await,
        PluginCommand::Update { id, yes } => install::update(ctx, id, yes).await,
        PluginCommand::Remove { id } => install::remove(ctx, &id),
        PluginCommand::Pin { id, off } => {
            let installation = ctx.plugins.installed().set_pinned(&id, !off)?;
            let state = if off { "updates again" } else { "is pinned" };
            println!("`{id}` {} {state}", installation.entry.version);
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Load { path } => load(ctx, &path),
        PluginCommand::New {
            template,
            name,
            path,
            tonearm,
        } => new::new(template, &name, path, tonearm),
    }
}

fn list(ctx: &Context, json: bool) -> Result<ExitCode> {
    let plugins = ctx.registry.list();
    if json {
        output::json(&plugins)?;
        return Ok(ExitCode::SUCCESS);
    }
    print_plugins(&plugins);
    for (installation, why) in &ctx.inactive {
        println!(
            "installed but not active: `{}` {}: {why}",
            installation.entry.id, installation.entry.version
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_plugins(plugins: &[PluginInfo]) {
    let rows: Vec<Vec<String>> = plugins
        .iter()
        .map(|p| {
            let mut state = p
                .failure
                .as_ref()
                .map_or_else(|| "ok".into(), |f| format!("failed: {f}"));
            if let Some(replaced) = &p.replaced {
                state.push_str(&format!(
                    " (newer than the {replaced} copy, which it replaces)"
                ));
            }
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

fn load(ctx: &Context, path: &Path) -> Result<ExitCode> {
    let loaded = match ctx.files.load_installed(&ctx.registry, path) {
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
    Ok(ExitCode::SUCCESS)
}

/// Opens the configured index on a blocking thread and runs `f` there with it.
async fn with_index<T: Send + 'static>(
    ctx: &Context,
    f: impl FnOnce(&Plugins, &OpenIndex) -> Result<T> + Send + 'static,
) -> Result<T> {
    let config = ctx.index.clone().ok_or(PluginsError::NoIndex)?;
    // The client is made inside the runtime and used outside it, as plugins use theirs.
    let http = match tonearm_net::http::host_of(&config.url) {
        Some(host) => Some(
            ctx.network()?
                .http
                .client_for("index", vec![host], &[], None)?,
        ),
        None => None,
    };
    let plugins = ctx.plugins.clone();
    tokio::task::spawn_blocking(move || {
        let index = plugins.open_index(&config, http, now())?;
        f(&plugins, &index)
    })
    .await?
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

async fn search(ctx: &Context, text: String, json: bool) -> Result<ExitCode> {
    let found = with_index(ctx, move |_, index| Ok(index.search(&text)?)).await?;
    if json {
        output::json(&found)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = found
        .iter()
        .map(|e| {
            vec![
                e.id.clone(),
                e.kind.to_string(),
                e.version.to_string(),
                form(e),
                asks(e),
            ]
        })
        .collect();
    table(&["ID", "KIND", "NEWEST", "FORM", "ASKS FOR"], &rows, 60);
    Ok(ExitCode::SUCCESS)
}

/// How an entry runs.
fn form(entry: &Entry) -> String {
    if entry.is_component() {
        "component (sandboxed)".into()
    } else {
        format!("native {}", entry.target)
    }
}

/// What an entry asks of the host, in a few words.
fn asks(entry: &Entry) -> String {
    let asked = tonearm_registry::added_capabilities(&Default::default(), &entry.capabilities);
    if asked.is_empty() {
        "nothing".into()
    } else {
        asked.join("; ")
    }
}

/// `plugin info`'s answer.
#[derive(Serialize)]
struct Info {
    loaded: Option<PluginInfo>,
    installed: Option<Installation>,
    index: Option<Vec<Entry>>,
}

async fn info(ctx: &Context, id: String, json: bool) -> Result<ExitCode> {
    let loaded = ctx.registry.info(&id).ok();
    let installed = ctx.plugins.installed().get(&id)?;
    let index = match &ctx.index {
        None => None,
        Some(_) => {
            let id = id.clone();
            match with_index(ctx, move |_, index| Ok(index.versions(&id)?)).await {
                Ok(versions) => Some(versions),
                Err(e) if is_unknown_plugin(&e) => None,
                Err(e) => return Err(e),
            }
        }
    };
    if loaded.is_none() && installed.is_none() && index.is_none() {
        bail!("no plugin with id `{id}` is loaded, installed or in the index");
    }
    let info = Info {
        loaded,
        installed,
        index,
    };
    if json {
        output::json(&info)?;
        return Ok(ExitCode::SUCCESS);
    }
    match &info.loaded {
        Some(p) => println!(
            "{} {} {} — loaded: {}{}",
            p.manifest.id,
            p.manifest.kind,
            p.manifest.version,
            p.origin,
            p.replaced
                .as_ref()
                .map(|r| format!(", replacing the {r} copy"))
                .unwrap_or_default()
        ),
        None => println!("{id}: not loaded"),
    }
    if let Some(i) = &info.installed {
        let pinned = if i.pinned { ", pinned" } else { "" };
        let signed = if i.signed { "signed" } else { "unsigned" };
        println!(
            "installed: {} from {} ({signed}{pinned})",
            i.entry.version, i.from
        );
        if let Some((_, why)) = ctx.inactive.iter().find(|(a, _)| a.entry.id == i.entry.id) {
            println!("  not active: {why}");
        }
    }
    if let Some(versions) = &info.index {
        println!("in the index:");
        for e in versions {
            let yanked = if e.yanked { ", yanked" } else { "" };
            println!(
                "  {} — {}, API {}, asks for {}{yanked}",
                e.version,
                form(e),
                e.api,
                asks(e)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn is_unknown_plugin(error: &anyhow::Error) -> bool {
    use tonearm_registry::RegistryError;
    error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<PluginsError>(),
            Some(PluginsError::Registry(RegistryError::UnknownPlugin(_)))
        ) || matches!(
            cause.downcast_ref::<RegistryError>(),
            Some(RegistryError::UnknownPlugin(_))
        )
    })
}

/// `tonearm conformance ID [--server URL]`.
pub async fn conformance(
    ctx: &Context,
    id: &str,
    fixtures: Option<&Path>,
    server: Option<String>,
) -> Result<ExitCode> {
    let server = match server {
        None => None,
        Some(url) => {
            let host = tonearm_net::http::host_of(&url)
                .with_context(|| format!("`{url}` is not an http:// or https:// address"))?;
            // Inside the runtime: the client is made here and used on a blocking thread.
            let mut hosts = ctx.registry.info(id)?.manifest.capabilities.http_hosts;
            hosts.push(host);
            let http = ctx.network()?.http.client_for(id, hosts, &[], None)?;
            Some(conformance::FakeServer { url, http })
        }
    };
    let (registry, id, fixtures) = (
        ctx.registry.clone(),
        id.to_owned(),
        fixtures.map(Path::to_owned),
    );
    let report = tokio::task::spawn_blocking(move || {
        conformance::run(&registry, &id, fixtures.as_deref(), server.as_ref())
    })
    .await??;
    println!("{report}");
    Ok(if report.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
